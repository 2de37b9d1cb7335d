//go:build !js

package grpcweb_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gogo/protobuf/proto"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/internal/testserver"
)

// start runs a member in-process and returns its base URL.
func start(t *testing.T, cors grpcweb.Origins) string {
	t.Helper()
	_, addr := testserver.Start(t, testserver.Options{CORS: cors})
	return "http://" + addr
}

func frame(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b))), b...)
}

// reply is a parsed gRPC-Web response: its messages and its status.
type reply struct {
	http     int
	messages [][]byte
	status   string
	message  string
}

func parse(t *testing.T, resp *http.Response, text bool) reply {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := reply{http: resp.StatusCode, status: resp.Header.Get("Grpc-Status"), message: resp.Header.Get("Grpc-Message")}
	if resp.StatusCode != http.StatusOK {
		return r
	}
	if text {
		body = decodeChunkedBase64(t, body)
	}
	for len(body) >= 5 {
		flag, n := body[0], binary.BigEndian.Uint32(body[1:5])
		if int(n) > len(body)-5 {
			t.Fatalf("truncated frame")
		}
		payload := body[5 : 5+n]
		body = body[5+n:]
		if flag&0x80 == 0 {
			r.messages = append(r.messages, payload)
			continue
		}
		for _, line := range strings.Split(string(payload), "\r\n") {
			k, v, _ := strings.Cut(line, ":")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "grpc-status":
				r.status = strings.TrimSpace(v)
			case "grpc-message":
				r.message = strings.TrimSpace(v)
			}
		}
	}
	return r
}

// decodeChunkedBase64 decodes -text bodies, which are base64 chunks each with its own padding.
func decodeChunkedBase64(t *testing.T, b []byte) []byte {
	var out []byte
	for len(b) >= 4 {
		d, err := base64.StdEncoding.DecodeString(string(b[:4]))
		if err != nil {
			t.Fatalf("-text body: %v", err)
		}
		out, b = append(out, d...), b[4:]
	}
	return out
}

func call(t *testing.T, base, method string, req proto.Message, text bool, origin string) reply {
	t.Helper()
	body, ctype := frame(req), "application/grpc-web+proto"
	if text {
		body, ctype = []byte(base64.StdEncoding.EncodeToString(body)), "application/grpc-web-text"
	}
	hr, _ := http.NewRequest("POST", base+method, bytes.NewReader(body))
	hr.Header.Set("Content-Type", ctype)
	hr.Header.Set("X-Grpc-Web", "1")
	if origin != "" {
		hr.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	return parse(t, resp, text)
}

func TestUnary(t *testing.T) {
	base := start(t, nil)
	for _, text := range []bool{false, true} {
		r := call(t, base, "/etcdserverpb.KV/Put", &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}, text, "")
		if r.http != 200 || r.status != "0" || len(r.messages) != 1 {
			t.Fatalf("text=%v put: %+v", text, r)
		}
		var pr pb.PutResponse
		if err := proto.Unmarshal(r.messages[0], &pr); err != nil || pr.Header.Revision < 2 {
			t.Fatalf("text=%v put response: %v %v", text, &pr, err)
		}
		r = call(t, base, "/etcdserverpb.KV/Range", &pb.RangeRequest{Key: []byte("k")}, text, "")
		var rr pb.RangeResponse
		if r.status != "0" || len(r.messages) != 1 || proto.Unmarshal(r.messages[0], &rr) != nil || string(rr.Kvs[0].Value) != "v" {
			t.Fatalf("text=%v range: %+v %v", text, r, &rr)
		}
	}
}

// TestErrors: etcd's errors arrive as gRPC status and message, as over native gRPC.
func TestErrors(t *testing.T) {
	base := start(t, nil)
	r := call(t, base, "/etcdserverpb.KV/Range", &pb.RangeRequest{}, false, "")
	if r.status != "3" || r.message != "etcdserver: key is not provided" {
		t.Fatalf("empty key: %+v", r)
	}
	r = call(t, base, "/etcdserverpb.Lease/LeaseRevoke", &pb.LeaseRevokeRequest{ID: 42}, true, "")
	if r.status != "5" || r.message != "etcdserver: requested lease not found" {
		t.Fatalf("unknown lease: %+v", r)
	}
}

// TestServerStreaming: the Snapshot stream over gRPC-Web, checked against its own SHA-256.
func TestServerStreaming(t *testing.T) {
	base := start(t, nil)
	call(t, base, "/etcdserverpb.KV/Put", &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}, false, "")
	r := call(t, base, "/etcdserverpb.Maintenance/Snapshot", &pb.SnapshotRequest{}, false, "")
	if r.status != "0" || len(r.messages) < 2 {
		t.Fatalf("snapshot: %+v", r)
	}
	h := sha256.New()
	var last pb.SnapshotResponse
	for i, m := range r.messages {
		var sr pb.SnapshotResponse
		if err := proto.Unmarshal(m, &sr); err != nil {
			t.Fatal(err)
		}
		if i < len(r.messages)-1 {
			h.Write(sr.Blob)
		}
		last = sr
	}
	if !bytes.Equal(h.Sum(nil), last.Blob) {
		t.Fatal("snapshot checksum does not match the streamed data")
	}
}

func TestOriginPolicy(t *testing.T) {
	base := start(t, grpcweb.ParseOrigins("http://app.example"))
	host := strings.TrimPrefix(base, "http://")
	put := &pb.PutRequest{Key: []byte("k"), Value: []byte("v")}
	for _, tt := range []struct {
		origin string
		want   int
	}{
		{"", 200},                   // not a browser page
		{"http://" + host, 200},     // same origin
		{"http://app.example", 200}, // listed with --cors
		{"http://evil.example", 403},
	} {
		if r := call(t, base, "/etcdserverpb.KV/Put", put, false, tt.origin); r.http != tt.want {
			t.Errorf("origin %q: HTTP %d, want %d", tt.origin, r.http, tt.want)
		}
	}
	preflight := func(origin string) *http.Response {
		hr, _ := http.NewRequest("OPTIONS", base+"/etcdserverpb.KV/Put", nil)
		hr.Header.Set("Origin", origin)
		hr.Header.Set("Access-Control-Request-Method", "POST")
		hr.Header.Set("Access-Control-Request-Headers", "x-grpc-web,content-type")
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight("http://app.example"); resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Fatalf("preflight from an allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("http://evil.example"); resp.StatusCode != 403 {
		t.Fatalf("preflight from another origin: %d", resp.StatusCode)
	}
}

// TestMetricsOriginPolicy: /metrics follows the same rule (etcd's --cors covers its whole
// client port): a listed origin may read it, cross-origin, and a preflight is answered; a
// same-origin page and a scraper (no Origin) may; another page gets 403.
func TestMetricsOriginPolicy(t *testing.T) {
	base := start(t, grpcweb.ParseOrigins("http://app.example"))
	host := strings.TrimPrefix(base, "http://")
	get := func(method, origin string) *http.Response {
		hr, _ := http.NewRequest(method, base+"/metrics", nil)
		if origin != "" {
			hr.Header.Set("Origin", origin)
		}
		if method == "OPTIONS" {
			hr.Header.Set("Access-Control-Request-Method", "GET")
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tt := range []struct {
		origin    string
		want      int
		allowedAs string
	}{
		{"", 200, ""},
		{"http://" + host, 200, "http://" + host},
		{"http://app.example", 200, "http://app.example"},
		{"http://evil.example", 403, ""},
	} {
		resp := get("GET", tt.origin)
		if resp.StatusCode != tt.want || resp.Header.Get("Access-Control-Allow-Origin") != tt.allowedAs {
			t.Errorf("GET /metrics from %q: HTTP %d, Access-Control-Allow-Origin %q; want %d, %q",
				tt.origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), tt.want, tt.allowedAs)
		}
	}
	if resp := get("OPTIONS", "http://app.example"); resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Errorf("preflight from an allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := get("OPTIONS", "http://evil.example"); resp.StatusCode != 403 {
		t.Errorf("preflight from another origin: %d", resp.StatusCode)
	}
}

func TestOrigins(t *testing.T) {
	o := grpcweb.ParseOrigins(" http://a.example/ , https://b.example:8443")
	for origin, want := range map[string]bool{"http://a.example": true, "https://b.example:8443": true, "http://b.example": false, "": false} {
		if o.Allows(origin) != want {
			t.Errorf("Allows(%q) = %v", origin, !want)
		}
	}
	if !grpcweb.ParseOrigins("*").Allows("http://anything") || grpcweb.ParseOrigins("").Allows("http://x") {
		t.Fatal("'*' must allow any origin and an empty list none")
	}
}
