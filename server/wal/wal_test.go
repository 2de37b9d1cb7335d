package wal

import (
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

func ents(from, to uint64, term uint64) []raftpb.Entry {
	var out []raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, raftpb.Entry{Index: i, Term: term, Data: []byte{byte(i)}})
	}
	return out
}

func indexes(es []raftpb.Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Index)
	}
	return out
}

func reopen(t *testing.T, dir string) State {
	t.Helper()
	w, st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	return st
}

func TestWALRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if Exists(dir) {
		t.Fatal("empty dir has a log")
	}
	w, st, err := Open(dir)
	if err != nil || len(st.Entries) != 0 {
		t.Fatalf("open: %v %v", st, err)
	}
	if err := w.Save(raftpb.HardState{Term: 1, Commit: 3}, ents(1, 3, 1), true); err != nil {
		t.Fatal(err)
	}
	// A later entry at index 3 overwrites it and what follows (a Raft log conflict).
	if err := w.Save(raftpb.HardState{Term: 2, Commit: 4}, ents(3, 4, 2), true); err != nil {
		t.Fatal(err)
	}
	w.Close()
	st = reopen(t, dir)
	if got := indexes(st.Entries); len(got) != 4 || st.Entries[2].Term != 2 || st.HardState.Commit != 4 {
		t.Fatalf("entries %v (term of 3: %d), hard state %+v", got, st.Entries[2].Term, st.HardState)
	}
	// The file is zero-filled ahead; reopening and appending again keeps working.
	w, _, _ = Open(dir)
	w.Save(raftpb.HardState{Term: 2, Commit: 5}, ents(5, 5, 2), true)
	w.Close()
	if st = reopen(t, dir); len(st.Entries) != 5 || st.HardState.Commit != 5 {
		t.Fatalf("after a second session: %v %+v", indexes(st.Entries), st.HardState)
	}
}

// TestWALTornTail: whatever follows the last complete record (a crash mid-write) is cut,
// and the log goes on from there.
func TestWALTornTail(t *testing.T) {
	for _, tear := range []struct {
		name string
		mod  func(b []byte, end int) []byte
	}{
		{"half a header", func(b []byte, end int) []byte { return append(b[:end], 0, 0, 1) }},
		{"bad checksum", func(b []byte, end int) []byte {
			b = append(b[:end], 0, 0, 0, 4, 1, 2, 3, 4, 1, 9, 9, 9)
			return b
		}},
		{"huge length", func(b []byte, end int) []byte { return append(b[:end], 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0) }},
	} {
		t.Run(tear.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _, _ := Open(dir)
			w.Save(raftpb.HardState{Term: 1, Commit: 2}, ents(1, 2, 1), true)
			end := int(w.off)
			w.Close()
			path := filepath.Join(dir, fileName)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, tear.mod(b, end), 0o600)
			w, st, err := Open(dir)
			if err != nil || len(st.Entries) != 2 {
				t.Fatalf("open after tear: %v %v", indexes(st.Entries), err)
			}
			w.Save(raftpb.HardState{Term: 1, Commit: 3}, ents(3, 3, 1), true)
			w.Close()
			if st := reopen(t, dir); len(st.Entries) != 3 {
				t.Fatalf("after appending past the tear: %v", indexes(st.Entries))
			}
		})
	}
}

func TestWALCompact(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := Open(dir)
	w.Save(raftpb.HardState{Term: 1, Commit: 10}, ents(1, 10, 1), true)
	if err := w.Compact(raftpb.SnapshotMetadata{Index: 7, Term: 1}, raftpb.HardState{Term: 1, Commit: 10}, ents(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	w.Save(raftpb.HardState{Term: 1, Commit: 11}, ents(11, 11, 1), true)
	w.Close()
	st := reopen(t, dir)
	if st.Snapshot.Index != 7 || len(st.Entries) != 4 || st.Entries[0].Index != 8 || st.HardState.Commit != 11 {
		t.Fatalf("after compaction: snapshot %d, entries %v, %+v", st.Snapshot.Index, indexes(st.Entries), st.HardState)
	}
}
