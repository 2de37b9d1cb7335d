package main

import (
	"strings"
	"testing"

	"github.com/metastore/metastore/examples/internal/example"
)

func TestWatch(t *testing.T) {
	out := example.TestRun(t, run)
	for _, want := range []string{`PUT jobs/1 "queued" at revision 2`, `PUT jobs/1 "running" (was queued) at revision 3`,
		`DELETE jobs/1 "" (was running) at revision 4`, "replayed 3 events from revision 2"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}
