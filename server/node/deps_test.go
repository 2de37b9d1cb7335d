package node

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestMemberDependencies keeps etcd's protobuf messages and gRPC at the server's edge and the
// disk outside the member: the member speaks the core's types and writes through a Storage,
// so it can run where gRPC and files cannot (a browser tab). It builds for WebAssembly.
func TestMemberDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"google.golang.org/grpc", "go.etcd.io/etcd/api/v3/etcdserverpb",
		"go.etcd.io/etcd/api/v3/membershippb", "github.com/metastore/metastore/server/pbconv",
		// The disk comes in as a Storage (server/disk), so that a tab can give it memory.
		"github.com/cockroachdb/pebble", "github.com/metastore/metastore/server/pebblekv",
		"github.com/metastore/metastore/server/wal", "github.com/metastore/metastore/server/datadir"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the member depends on %s", dep)
			}
		}
	}
	wasm := exec.Command("go", "build", ".")
	wasm.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := wasm.CombinedOutput(); err != nil {
		t.Errorf("the member does not build for GOOS=js GOARCH=wasm: %v\n%s", err, out)
	}
	// JWT's keys (crypto/x509, RSA, ECDSA) would take the in-tab cluster's module over its
	// 3 MiB budget; a tab's members sign no tokens (jwt_js.go).
	list := exec.Command("go", "list", "-deps", ".")
	list.Env = wasm.Env
	out, err = list.CombinedOutput()
	if err != nil {
		t.Fatalf("go list for js: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "crypto/x509" || strings.HasPrefix(dep, "github.com/golang-jwt/") {
			t.Errorf("the member depends on %s in WebAssembly", dep)
		}
	}
}
