//go:build !js

package core

import (
	"os/exec"
	"strings"
	"testing"
)

// TestCoreDependencies keeps the core free of gRPC, protobuf message packages, HTTP and
// process spawning, so that it stays small in WebAssembly and knows nothing of transports.
func TestCoreDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"google.golang.org/grpc", "google.golang.org/protobuf", "github.com/gogo/protobuf",
		"go.etcd.io/etcd", "net/http", "os/exec", "syscall/js"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("core depends on %s", dep)
			}
		}
	}
}
