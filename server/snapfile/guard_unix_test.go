//go:build unix

package snapfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestGuardTruncatedMapping: a file cut short while it is mapped gives ErrChanged on the next
// read of a page that is gone, not a crash; other panics go through.
func TestGuardTruncatedMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snap.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte{7}, 3*os.Getpagesize()), 0o600); err != nil {
		t.Fatal(err)
	}
	data, release, err := Map(path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var sum int
	if err := Guard(func() error { sum += int(data[len(data)-1]); return nil }); err != nil || sum != 7 {
		t.Fatalf("read of the whole file: %v, %d", err, sum)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	err = Guard(func() error { sum += int(data[len(data)-1]); return nil })
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("read past the truncated end: %v, want ErrChanged", err)
	}
	defer func() {
		if r := recover(); r != "other" {
			t.Fatalf("recovered %v, want the other panic passed on", r)
		}
	}()
	Guard(func() error { panic("other") })
}
