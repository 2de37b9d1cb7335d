package main

import (
	"strings"
	"testing"

	"github.com/metastore/metastore/examples/internal/example"
)

func TestElection(t *testing.T) {
	out := example.TestRun(t, run)
	if !strings.Contains(out, "leader value: node-a") || !strings.Contains(out, "after node-a resigned, leader value: node-b") {
		t.Fatalf("output:\n%s", out)
	}
}
