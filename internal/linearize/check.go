package linearize

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// T is what Check needs of a test (testing.TB has it): the package does not import testing,
// so that the in-tab cluster's check (wasm/cluster) can use the model without it.
type T interface {
	Helper()
	Name() string
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// Check checks history against Model with porcupine, for at most timeout. An illegal
// history fails the test (t.Errorf: the caller's other checks still run) and its
// visualization is written to out/linearize-<test name>.html at the module's root. If
// porcupine cannot decide within timeout the history is left unchecked: that is logged,
// not failed (a large history says nothing about the store).
func Check(t T, history []porcupine.Operation, timeout time.Duration) porcupine.CheckResult {
	t.Helper()
	began := time.Now()
	res, info := porcupine.CheckOperationsVerbose(Model, history, timeout)
	t.Logf("porcupine: %d operations %v: %s in %v", len(history), Counts(history), res, time.Since(began).Round(time.Millisecond))
	switch res {
	case porcupine.Illegal:
		path := filepath.Join(outDir(), "linearize-"+fileName(t.Name())+".html")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Logf("visualization: %v", err)
		} else if err := porcupine.VisualizePath(Model, info, path); err != nil {
			t.Logf("visualization: %v", err)
		} else {
			t.Logf("visualization: %s", path)
		}
		t.Errorf("the history of %d operations is not linearizable", len(history))
	case porcupine.Unknown:
		t.Logf("porcupine could not decide within %v: the history is not checked", timeout)
	}
	return res
}

// outDir is out/ at the root of the module holding the working directory (a test's is its
// package's directory), or out/ in the working directory if there is no go.mod above.
var outDir = func() string {
	wd, err := os.Getwd()
	if err != nil {
		return "out"
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "out")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join(wd, "out")
		}
		dir = parent
	}
}

// fileName makes a test name (subtests have slashes) a file name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}
