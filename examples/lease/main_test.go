package main

import (
	"strings"
	"testing"

	"github.com/metastore/metastore/examples/internal/example"
)

func TestLease(t *testing.T) {
	out := example.TestRun(t, run)
	for _, want := range []string{"(TTL 6s)", "after 7s with keep-alives: 1 instance(s)", "lease expired: instance deregistered"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}
