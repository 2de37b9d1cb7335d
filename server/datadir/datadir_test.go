package datadir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLockTwiceInProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by Lock
	l, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Fatalf("lock file: %v", err)
	}
	// A second open of the lock file is a second open file description: flock conflicts.
	_, err = Lock(dir)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second lock: got %v, want ErrInUse", err)
	}
	for _, want := range []string{dir, "in use by this process"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err == nil {
		t.Error("second Release succeeded")
	}
	l2, err := Lock(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	l2.Release()
}

func TestLockDistinctDirs(t *testing.T) {
	a, err := Lock(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	b, err := Lock(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b.Release()
}

const childEnv = "METASTORE_DATADIR_LOCK_CHILD"

// TestLockChildProcess is the child of TestLockOtherProcess: it tries to lock the directory
// in its environment and reports how that went by its exit code.
func TestLockChildProcess(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("run by TestLockOtherProcess")
	}
	l, err := Lock(dir)
	switch {
	case err == nil:
		l.Release()
		os.Exit(0)
	case errors.Is(err, ErrInUse):
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(3)
	default:
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(4)
	}
}

func runChild(t *testing.T, dir string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChildProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("running the child: %v", err)
		return -1, ""
	}
}

func TestLockOtherProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	code, out := runChild(t, dir)
	if code != 3 {
		t.Fatalf("child locked a held directory: exit %d, output %q", code, out)
	}
	for _, want := range []string{dir, "in use by another process (pid "} {
		if !strings.Contains(out, want) {
			t.Errorf("child's error %q does not say %q", out, want)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if code, out := runChild(t, dir); code != 0 {
		t.Fatalf("child could not lock a released directory: exit %d, output %q", code, out)
	}
	// And the child's lock died with it: this process can take it again.
	l, err = Lock(dir)
	if err != nil {
		t.Fatalf("lock after the child exited: %v", err)
	}
	l.Release()
}
