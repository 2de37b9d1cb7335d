package main

import (
	"strings"
	"testing"

	"github.com/metastore/metastore/examples/internal/example"
)

func TestLock(t *testing.T) {
	out := example.TestRun(t, run)
	for i := 0; i < 4; i++ {
		if !strings.Contains(out, "[worker "+string(rune('0'+i))+"]") {
			t.Fatalf("an entry was lost under the lock:\n%s", out)
		}
	}
}
