package wal

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// writeBytes is the bytes this process has sent to storage (/proc/self/io): what iotop and
// node exporters show operators.
func writeBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skipf("no /proc/self/io: %v", err)
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		var n int64
		if _, err := fmt.Sscanf(string(line), "write_bytes: %d", &n); err == nil {
			return n
		}
	}
	t.Skip("no write_bytes in /proc/self/io")
	return 0
}

// TestWALWritesWhatItSaves: a small synced record costs the page or two it lands in, not the
// page cache folio around it (a log zero-filled in large writes got 1 MiB folios on Linux 6.x
// ext4, and every fsync counted 1 MiB written).
func TestWALWritesWhatItSaves(t *testing.T) {
	w, _, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const saves = 50
	before := writeBytes(t)
	for i := uint64(1); i <= saves; i++ {
		if err := w.Save(raftpb.HardState{Term: 1, Commit: i}, ents(i, i, 1), true); err != nil {
			t.Fatal(err)
		}
	}
	// Each record is a few dozen bytes: at most two pages, whatever the page size up to 16 KiB.
	if got, limit := writeBytes(t)-before, int64(saves*2*16<<10); got > limit {
		t.Fatalf("%d synced saves counted %d KiB written (%d KiB each), want at most %d KiB", saves, got>>10, got/saves>>10, limit>>10)
	}
}
