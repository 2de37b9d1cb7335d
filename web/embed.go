// Package web is the browser side of MetaStore as the server ships it: the files `make web`
// builds into web/dist (the playground, the core as WebAssembly, the TypeScript client),
// embedded in the binary so that `metastore` serves the playground at / with nothing beside
// it. The sources are in client/ and playground/; see README.md.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Dist is the built site. Before `make web` it holds only README.md.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; fs.Sub cannot fail on it
	}
	return sub
}

// Handler serves files: the playground at /, the client bundle at /client/metastore.js. A
// file with a gzipped twin (metastore.wasm.gz) is sent compressed to clients that accept
// it. Every file carries an ETag of its content (embedded files have no modification time),
// so a reload costs a 304, not the 1 MB of wasm again; index.html is revalidated on every
// load so a new build shows at once.
func Handler(files fs.FS) http.Handler {
	if _, err := fs.Stat(files, "index.html"); err != nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(notBuilt))
		})
	}
	plain := http.FileServerFS(files)
	var etags sync.Map // file name → ETag, computed once
	etag := func(name string) string {
		if v, ok := etags.Load(name); ok {
			return v.(string)
		}
		f, err := files.Open(name)
		if err != nil {
			return ""
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return ""
		}
		tag := `"` + hex.EncodeToString(h.Sum(nil)[:12]) + `"`
		etags.Store(name, tag)
		return tag
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" || strings.HasSuffix(name, ".html") {
			w.Header().Set("Cache-Control", "no-cache")
		}
		if name == "" {
			name = "index.html"
		}
		if strings.HasSuffix(name, ".wasm") {
			w.Header().Set("Content-Type", "application/wasm")
			w.Header().Add("Vary", "Accept-Encoding")
			if acceptsGzip(r) {
				if f, err := files.Open(name + ".gz"); err == nil {
					defer f.Close()
					if rs, ok := f.(io.ReadSeeker); ok {
						if tag := etag(name + ".gz"); tag != "" {
							w.Header().Set("ETag", tag)
						}
						w.Header().Set("Content-Encoding", "gzip")
						http.ServeContent(w, r, name, modTime(f), rs)
						return
					}
				}
			}
		}
		if tag := etag(name); tag != "" {
			w.Header().Set("ETag", tag)
		}
		plain.ServeHTTP(w, r)
	})
}

func modTime(f fs.File) (t time.Time) {
	if st, err := f.Stat(); err == nil {
		t = st.ModTime()
	}
	return t
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip (with a q-value
// above zero).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}

const notBuilt = `<!doctype html><title>MetaStore</title>
<p>MetaStore is running. The playground is not part of this build: run <code>make web</code>,
then rebuild the server (<code>make run</code> does both).</p>`
