package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("\x00asm compressed"))
	zw.Close()
	files := fstest.MapFS{
		"index.html":          {Data: []byte("<title>playground</title>")},
		"app.js":              {Data: []byte("console.log(1)")},
		"metastore.wasm":      {Data: []byte("\x00asm plain")},
		"metastore.wasm.gz":   {Data: gz.Bytes()},
		"client/metastore.js": {Data: []byte("export {}")},
	}
	h := Handler(files)
	for _, tc := range []struct {
		path, acceptEncoding         string
		code                         int
		contentType, encoding, cache string
		body                         string // after gunzip
	}{
		{"/", "", 200, "text/html; charset=utf-8", "", "no-cache", "<title>playground</title>"},
		{"/app.js", "", 200, "text/javascript; charset=utf-8", "", "", "console.log(1)"},
		{"/metastore.wasm", "gzip, br", 200, "application/wasm", "gzip", "", "\x00asm compressed"},
		{"/metastore.wasm", "gzip;q=0", 200, "application/wasm", "", "", "\x00asm plain"},
		{"/metastore.wasm", "br, gzip; q=0.0", 200, "application/wasm", "", "", "\x00asm plain"},
		{"/metastore.wasm", "GZIP;q=0.5", 200, "application/wasm", "gzip", "", "\x00asm compressed"},
		{"/metastore.wasm", "", 200, "application/wasm", "", "", "\x00asm plain"},
		{"/client/metastore.js", "", 200, "text/javascript; charset=utf-8", "", "", "export {}"},
		{"/nope", "", 404, "text/plain; charset=utf-8", "", "", "404 page not found\n"},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", tc.acceptEncoding)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		body := io.Reader(res.Body)
		if res.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(res.Body)
			if err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		if res.StatusCode != tc.code || res.Header.Get("Content-Type") != tc.contentType ||
			res.Header.Get("Content-Encoding") != tc.encoding || res.Header.Get("Cache-Control") != tc.cache || string(b) != tc.body {
			t.Errorf("GET %s (Accept-Encoding %q): %d %q %q %q %q", tc.path, tc.acceptEncoding, res.StatusCode,
				res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"), res.Header.Get("Cache-Control"), b)
		}
	}
}

// TestHandlerETag: a reload revalidates and gets 304 instead of the file again.
func TestHandlerETag(t *testing.T) {
	h := Handler(fstest.MapFS{"index.html": {Data: []byte("x")}, "app.wasm": {Data: []byte("w")}, "app.wasm.gz": {Data: []byte("z")}})
	for _, tc := range []struct{ path, enc string }{{"/", ""}, {"/app.wasm", ""}, {"/app.wasm", "gzip"}} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Header.Set("Accept-Encoding", tc.enc)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		tag := rec.Header().Get("ETag")
		if rec.Code != 200 || tag == "" {
			t.Fatalf("GET %s: %d, ETag %q", tc.path, rec.Code, tag)
		}
		req.Header.Set("If-None-Match", tag)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Fatalf("GET %s with If-None-Match %s: %d", tc.path, tag, rec.Code)
		}
	}
}

func TestHandlerNotBuilt(t *testing.T) {
	h := Handler(fstest.MapFS{"README.md": {Data: []byte("x")}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
