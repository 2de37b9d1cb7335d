//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHTTPEndpoints checks the plain-HTTP endpoints that share the client port with gRPC.
func TestHTTPEndpoints(t *testing.T) {
	m := startMember(t)
	m.client(t).Put(ctx(t), "k", "v")
	base := "http://" + m.endpoint
	tests := []struct {
		path string
		want []string
	}{
		{"/health", []string{`"health":"true"`}},
		{"/livez", []string{"ok"}},
		{"/readyz", []string{"ok"}},
		{"/version", []string{`"etcdserver":"3.6.16"`, `"etcdcluster":"3.6.0"`}},
		{"/metrics", []string{
			"etcd_server_has_leader 1",
			"etcd_server_is_leader 1",
			"etcd_debugging_mvcc_current_revision 2",
			`grpc_server_handled_total{grpc_code="OK",grpc_method="Put",grpc_service="etcdserverpb.KV",grpc_type="unary"} 1`,
			"grpc_server_handling_seconds_bucket",
			"etcd_disk_wal_fsync_duration_seconds_count",
			"etcd_disk_backend_commit_duration_seconds_count",
			"etcd_server_leader_changes_seen_total 1",
			"etcd_server_quota_backend_bytes 2.147483648e+09",
			"etcd_network_client_grpc_received_bytes_total",
			"etcd_network_client_grpc_sent_bytes_total",
		}},
	}
	for _, tt := range tests {
		code, body := httpGet(t, base+tt.path)
		if code != http.StatusOK {
			t.Fatalf("%s: status %d", tt.path, code)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", tt.path, w)
			}
		}
	}
}

// TestPlaygroundServed: the binary serves the playground it embedded (web/dist, built by
// `make web` before the binary) at /, with the wasm compressed on the wire. Without a build
// it says how to make one.
func TestPlaygroundServed(t *testing.T) {
	m := startMember(t)
	base := "http://" + m.endpoint
	code, body := httpGet(t, base+"/")
	if _, err := os.Stat(filepath.Join("..", "..", "web", "dist", "index.html")); err != nil {
		if code != http.StatusNotFound || !strings.Contains(body, "make web") {
			t.Fatalf("/ without a built playground: %d %q", code, body)
		}
		t.Skip("web/dist is not built (make web): checked the page that says so")
	}
	if code != http.StatusOK || !strings.Contains(body, "<title>MetaStore playground") {
		t.Fatalf("/: %d %.200q", code, body)
	}
	req, _ := http.NewRequest("GET", base+"/metastore.wasm", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req) // the raw response, not decompressed
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/wasm" ||
		resp.Header.Get("Content-Encoding") != "gzip" || n > 2<<20 || n < 100<<10 {
		t.Fatalf("/metastore.wasm: %d %q %q, %d bytes on the wire (budget 2 MiB)", resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"), n)
	}
	t.Logf("the playground's wasm: %d bytes on the wire", n)
	for _, p := range []string{"/app.js", "/wasm_exec.js", "/style.css", "/client/metastore.js"} {
		if code, _ := httpGet(t, base+p); code != http.StatusOK {
			t.Errorf("%s: %d", p, code)
		}
	}
}

// TestLogs: etcd's log flags. Lines are zap's JSON (level, ts, caller, msg), go to every
// --log-outputs target, and a slow apply is logged as etcd logs it.
func TestLogs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "metastore.log")
	m := startMember(t, "--log-outputs", "stderr,"+file, "--warning-apply-duration", "1ns")
	if _, err := m.client(t).Put(context.Background(), "k", "v"); err != nil {
		t.Fatal(err)
	}
	var seen []string
	eventually(t, "the slow apply in the log file", func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var line struct{ Level, Ts, Caller, Msg string }
			if err := json.Unmarshal([]byte(l), &line); err != nil || line.Level == "" || line.Ts == "" || line.Caller == "" || line.Msg == "" {
				t.Fatalf("not a zap line (level, ts, caller, msg): %q (%v)", l, err)
			}
			seen = append(seen, line.Level+" "+line.Msg)
		}
		return slices.Contains(seen, "info ready to serve client requests") && slices.Contains(seen, "warn apply request took too long")
	})
	if !strings.Contains(m.log.String(), "apply request took too long") {
		t.Fatal("stderr, the other output, lacks the slow apply")
	}
	for _, bad := range [][]string{{"--log-format", "xml"}, {"--log-outputs", "/nonexistent/dir/log"}} {
		if out, err := runMetastore(t, bad...); err == nil || !strings.Contains(out, bad[0]) {
			t.Fatalf("%v: %v\n%s", bad, err, out)
		}
	}
}
