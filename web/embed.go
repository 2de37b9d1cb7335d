// Package web is the browser side of MetaStore as the server ships it: the files `make web`
// builds into web/dist (the playground, the core as WebAssembly, the TypeScript client),
// embedded in the binary so that `metastore` serves the playground at / with nothing beside
// it. The sources are in client/ and playground/; see README.md.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
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
// it. index.html is revalidated on every load so a new build shows at once.
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" || strings.HasSuffix(name, ".html") {
			w.Header().Set("Cache-Control", "no-cache")
		}
		if strings.HasSuffix(name, ".wasm") {
			w.Header().Set("Content-Type", "application/wasm")
			if acceptsGzip(r) {
				if f, err := files.Open(name + ".gz"); err == nil {
					defer f.Close()
					st, err := f.Stat()
					if err == nil {
						w.Header().Set("Content-Encoding", "gzip")
						w.Header().Add("Vary", "Accept-Encoding")
						http.ServeContent(w, r, name, st.ModTime(), f.(readSeeker))
						return
					}
				}
			}
		}
		plain.ServeHTTP(w, r)
	})
}

type readSeeker interface {
	Read([]byte) (int, error)
	Seek(int64, int) (int64, error)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if enc, q, _ := strings.Cut(strings.TrimSpace(part), ";"); strings.EqualFold(enc, "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

const notBuilt = `<!doctype html><title>MetaStore</title>
<p>MetaStore is running. The playground is not part of this build: run <code>make web</code>,
then rebuild the server (<code>make run</code> does both).</p>`
