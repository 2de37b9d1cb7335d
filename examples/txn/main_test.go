package main

import (
	"strings"
	"testing"

	"github.com/metastore/metastore/examples/internal/example"
)

func TestTxn(t *testing.T) {
	if out := example.TestRun(t, run); !strings.Contains(out, "counter = 100 after 100 increments") {
		t.Fatalf("lost an increment:\n%s", out)
	}
}
