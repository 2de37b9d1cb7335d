package main

import (
	"strings"
	"testing"

	"github.com/metastore/metastore/examples/internal/example"
)

func TestKV(t *testing.T) {
	out := example.TestRun(t, run)
	for _, want := range []string{"get: config/db/host = value-of-config/db/host (revision 4)",
		"range: config/cache/ttl\nrange: config/db/host\nrange: config/db/port", "deleted 2 keys"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}
