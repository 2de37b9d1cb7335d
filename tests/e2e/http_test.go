//go:build !js

package e2e

import (
	"io"
	"net/http"
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
