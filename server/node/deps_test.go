package node

import (
	"os/exec"
	"strings"
	"testing"
)

// TestMemberDependencies keeps etcd's protobuf messages and gRPC at the server's edge: the
// member speaks the core's types, so it can run where gRPC cannot (a browser tab).
func TestMemberDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"google.golang.org/grpc", "go.etcd.io/etcd/api/v3/etcdserverpb",
		"go.etcd.io/etcd/api/v3/membershippb", "github.com/metastore/metastore/server/pbconv"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("the member depends on %s", dep)
			}
		}
	}
}
