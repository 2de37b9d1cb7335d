package wal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// crashCopy is what a crash would leave of the log in dir now: its file as written so far,
// copied to a new dir, opened there.
func crashCopy(t *testing.T, dir string) State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	c := t.TempDir()
	if err := os.WriteFile(filepath.Join(c, fileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return reopen(t, c)
}

// TestWALCommitOnly: a hard state saved without sync (only the commit index moved) is not
// written by itself; the next write carries it unless a newer hard state supersedes it, and a
// crash before then loses only that commit index, never an entry.
func TestWALCommitOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		then func(w *WAL) error
		want uint64 // commit index read back
	}{
		{"crash", func(*WAL) error { return nil }, 3},
		{"entries without a hard state", func(w *WAL) error { return w.Save(raftpb.HardState{}, ents(4, 4, 1), true) }, 5},
		{"a newer hard state", func(w *WAL) error { return w.Save(raftpb.HardState{Term: 1, Commit: 6}, ents(4, 6, 1), true) }, 6},
		{"close", func(w *WAL) error { return w.Close() }, 5},
		{"snapshot record", func(w *WAL) error {
			return w.Snapshot(raftpb.SnapshotMetadata{Index: 2, Term: 1}, raftpb.HardState{}, nil)
		}, 5},
		{"rewrite", func(w *WAL) error {
			return w.Compact(raftpb.SnapshotMetadata{Index: 2, Term: 1}, raftpb.HardState{}, ents(1, 3, 1))
		}, 5},
		{"rewrite after it was written", func(w *WAL) error {
			if err := w.Save(raftpb.HardState{}, ents(4, 4, 1), true); err != nil {
				return err
			}
			return w.Compact(raftpb.SnapshotMetadata{Index: 2, Term: 1}, raftpb.HardState{}, ents(1, 4, 1))
		}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _, _ := Open(dir)
			defer w.Close()
			if err := w.Save(raftpb.HardState{Term: 1, Commit: 3}, ents(1, 3, 1), true); err != nil {
				t.Fatal(err)
			}
			if err := w.Save(raftpb.HardState{Term: 1, Commit: 5}, nil, false); err != nil {
				t.Fatal(err)
			}
			if err := tc.then(w); err != nil {
				t.Fatal(err)
			}
			st := crashCopy(t, dir)
			if st.HardState.Commit != tc.want || st.HardState.Term != 1 {
				t.Fatalf("hard state %+v, want commit %d", st.HardState, tc.want)
			}
			if n := len(st.Entries); n == 0 || st.Entries[n-1].Index < 3 {
				t.Fatalf("entries %v: a synced entry is missing", indexes(st.Entries))
			}
		})
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

// TestWALCompact: compactions in a row (each moves the log into the spare file prepared in
// the background, and starts the next spare) keep the entries after the snapshot and what
// is saved after them.
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
	w, _, _ = Open(dir)
	for i := uint64(0); i < 3; i++ {
		last := 11 + 5*i
		w.Save(raftpb.HardState{Term: 1, Commit: last + 5}, ents(last+1, last+5, 1), true)
		if err := w.Compact(raftpb.SnapshotMetadata{Index: last + 3, Term: 1}, raftpb.HardState{Term: 1, Commit: last + 5}, ents(last+1, last+5, 1)); err != nil {
			t.Fatal(err)
		}
	}
	w.Save(raftpb.HardState{Term: 1, Commit: 27}, ents(27, 27, 1), true)
	w.Close()
	st = reopen(t, dir)
	if st.Snapshot.Index != 24 || fmt.Sprint(indexes(st.Entries)) != "[25 26 27]" || st.HardState.Commit != 27 {
		t.Fatalf("after three more compactions: snapshot %d, entries %v, %+v", st.Snapshot.Index, indexes(st.Entries), st.HardState)
	}
}

// TestWALSnapshotInPlace: a snapshot is one more record while the file has room (reopening
// drops the entries before it, and the file is not rewritten), and a rewrite once the file
// is three quarters full (the file starts with the snapshot then).
func TestWALSnapshotInPlace(t *testing.T) {
	w, dir := openWithChunk(t, 8<<10)
	w.Save(raftpb.HardState{Term: 1, Commit: 10}, ents(1, 10, 1), true)
	if err := w.Snapshot(raftpb.SnapshotMetadata{Index: 6, Term: 1}, raftpb.HardState{Term: 1, Commit: 10}, ents(7, 10, 1)); err != nil {
		t.Fatal(err)
	}
	w.Save(raftpb.HardState{Term: 1, Commit: 11}, ents(11, 11, 1), true)
	w.Close()
	b, _ := os.ReadFile(filepath.Join(dir, fileName))
	if offs, _ := recordOffsets(t, b); len(offs) != 14 { // 10 entries, a hard state, the snapshot, an entry, a hard state
		t.Fatalf("%d records in the file, want the 14 written (no rewrite)", len(offs))
	}
	st := reopen(t, dir)
	if st.Snapshot.Index != 6 || fmt.Sprint(indexes(st.Entries)) != "[7 8 9 10 11]" || st.HardState.Commit != 11 {
		t.Fatalf("after an in-place snapshot: snapshot %d, entries %v, %+v", st.Snapshot.Index, indexes(st.Entries), st.HardState)
	}
	// Fill the file past three quarters: the next snapshot rewrites it.
	w, _, _ = Open(dir)
	last := uint64(11)
	for w.off < preallocChunk*3/4 {
		w.Save(raftpb.HardState{Term: 1, Commit: last + 1}, ents(last+1, last+1, 1), true)
		last++
	}
	if err := w.Snapshot(raftpb.SnapshotMetadata{Index: last - 1, Term: 1}, raftpb.HardState{Term: 1, Commit: last}, ents(last, last, 1)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b, _ = os.ReadFile(filepath.Join(dir, fileName))
	if offs, _ := recordOffsets(t, b); len(offs) != 3 { // the snapshot, the entry after it, the hard state
		t.Fatalf("%d records in the file after a full one's snapshot, want 3 (a rewrite)", len(offs))
	}
	st = reopen(t, dir)
	if st.Snapshot.Index != last-1 || fmt.Sprint(indexes(st.Entries)) != fmt.Sprint([]uint64{last}) {
		t.Fatalf("after the rewrite: snapshot %d, entries %v", st.Snapshot.Index, indexes(st.Entries))
	}
}

// recordOffsets walks the valid records from the start of a log file and returns where each
// starts, and the offset after the last one.
func recordOffsets(t *testing.T, b []byte) ([]int, int) {
	t.Helper()
	var offs []int
	off := 0
	for off+8 <= len(b) {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n == 0 || off+8+n > len(b) || crc32.Checksum(b[off+8:off+8+n], crcTable) != binary.BigEndian.Uint32(b[off+4:]) {
			break
		}
		offs = append(offs, off)
		off += 8 + n
	}
	return offs, off
}

// TestWALDamage: damage that nothing valid follows is a torn tail and is cut; damage that a
// valid record follows is corruption, and Open fails and leaves the file alone.
func TestWALDamage(t *testing.T) {
	const records = 5 // one entry each, indexes 1 to 5
	flip := func(b []byte, at int) []byte { b[at] ^= 0x40; return b }
	zero := func(b []byte, from, to int) []byte { clear(b[from:to]); return b }
	for _, c := range []struct {
		name string
		// mod damages the file b, whose records start at recs and end at end.
		mod func(b []byte, recs []int, end int) []byte
		// keep is how many records survive a cut; -1 means Open must fail with ErrCorrupt.
		keep int
	}{
		{"flip a payload byte of the middle record", func(b []byte, r []int, _ int) []byte { return flip(b, r[2]+8+5) }, -1},
		{"flip the checksum of the middle record", func(b []byte, r []int, _ int) []byte { return flip(b, r[2]+5) }, -1},
		{"middle record's length made larger", func(b []byte, r []int, _ int) []byte { return flip(b, r[2]+2) }, -1},
		{"middle record's length made huge", func(b []byte, r []int, _ int) []byte { return flip(b, r[2]) }, -1},
		{"middle record's length zeroed", func(b []byte, r []int, _ int) []byte { return zero(b, r[2], r[2]+4) }, -1},
		{"first record's payload flipped", func(b []byte, r []int, _ int) []byte { return flip(b, r[0]+8+1) }, -1},
		{"zeroed region in the middle", func(b []byte, r []int, _ int) []byte { return zero(b, r[1]+20, r[3]+4) }, -1},
		{"zeroed region from a record's start", func(b []byte, r []int, _ int) []byte { return zero(b, r[1], r[3]) }, -1},
		{"flip a payload byte of the last record", func(b []byte, r []int, _ int) []byte { return flip(b, r[4]+8+5) }, 4},
		{"flip the last record's length", func(b []byte, r []int, _ int) []byte { return flip(b, r[4]+3) }, 4},
		{"last record's length made huge", func(b []byte, r []int, _ int) []byte { return flip(b, r[4]) }, 4},
		{"partial last record, file cut short", func(b []byte, r []int, end int) []byte { return b[:r[4]+(end-r[4])/2] }, 4},
		{"partial last header, file cut short", func(b []byte, r []int, _ int) []byte { return b[:r[4]+5] }, 4},
		{"partial last record, then zeros", func(b []byte, r []int, end int) []byte { return zero(b, r[4]+(end-r[4])/2, end) }, 4},
		{"last two records partly written", func(b []byte, r []int, end int) []byte { return zero(b, r[3]+10, end) }, 3},
		{"garbage after the last record", func(b []byte, r []int, end int) []byte {
			copy(b[end:], "\x00\x00\x00\x09\x01\x02\x03\x04not a record")
			return b
		}, 5},
		{"nothing but zeros", func(b []byte, r []int, end int) []byte { return zero(b, 0, end) }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w, _, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i := uint64(1); i <= records; i++ {
				e := raftpb.Entry{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, 40)}
				if err := w.Save(raftpb.HardState{}, []raftpb.Entry{e}, true); err != nil {
					t.Fatal(err)
				}
			}
			w.Close()
			path := filepath.Join(dir, fileName)
			b, _ := os.ReadFile(path)
			recs, end := recordOffsets(t, b)
			if len(recs) != records {
				t.Fatalf("%d records written, want %d", len(recs), records)
			}
			damaged := c.mod(b, recs, end)
			if err := os.WriteFile(path, damaged, 0o600); err != nil {
				t.Fatal(err)
			}

			w, st, err := Open(dir)
			if c.keep < 0 {
				if !errors.Is(err, ErrCorrupt) {
					if err == nil {
						w.Close()
					}
					t.Fatalf("open: %v (entries %v), want ErrCorrupt", err, indexes(st.Entries))
				}
				if !strings.Contains(err.Error(), "offset") {
					t.Errorf("error %q gives no offset", err)
				}
				if after, _ := os.ReadFile(path); !bytes.Equal(after, damaged) {
					t.Fatal("open changed the corrupt file")
				}
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if got := indexes(st.Entries); len(got) != c.keep || (c.keep > 0 && got[c.keep-1] != uint64(c.keep)) {
				t.Fatalf("entries %v after the cut, want 1..%d", got, c.keep)
			}
			next := uint64(c.keep + 1)
			if err := w.Save(raftpb.HardState{Term: 1, Commit: next}, ents(next, next, 1), true); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if st := reopen(t, dir); len(st.Entries) != c.keep+1 || st.HardState.Commit != next {
				t.Fatalf("after appending past the cut: %v %+v", indexes(st.Entries), st.HardState)
			}
		})
	}
}

// TestWALValidRecordFarAhead: a valid record anywhere after the break counts, also beyond the
// first window findRecord reads and at an odd offset.
func TestWALValidRecordFarAhead(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := Open(dir)
	w.Save(raftpb.HardState{Term: 1, Commit: 1}, ents(1, 1, 1), true)
	end := w.off
	w.Close()
	path := filepath.Join(dir, fileName)
	b, _ := os.ReadFile(path)
	rec := append([]byte(nil), b[:end]...) // a copy of the whole log, as a record or two
	copy(b[3<<20+3:], rec)
	os.WriteFile(path, b, 0o600)
	if _, _, err := Open(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprint(3<<20+3)) {
		t.Fatalf("open: %v, want ErrCorrupt at offset %d", err, 3<<20+3)
	}
}

// FuzzOpen: whatever the file holds, Open does not panic; it fails with ErrCorrupt and leaves
// the file alone, or it returns a state that opening again returns unchanged.
func FuzzOpen(f *testing.F) {
	defer func(c int64) { preallocChunk = c }(preallocChunk)
	preallocChunk = 4 << 10

	dir := f.TempDir()
	w, _, err := Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	w.Save(raftpb.HardState{Term: 1, Commit: 2}, ents(1, 3, 1), true)
	w.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 3}, ents(3, 4, 2), true)
	w.Compact(raftpb.SnapshotMetadata{Index: 2, Term: 1}, raftpb.HardState{Term: 2, Commit: 3}, ents(1, 4, 2))
	w.Save(raftpb.HardState{Term: 2, Commit: 5}, ents(5, 5, 2), true)
	end := w.off
	w.Close()
	log, _ := os.ReadFile(filepath.Join(dir, fileName))
	f.Add(log[:end])
	f.Add(log[:end+16])
	f.Add(log[:end-3])
	mid := append([]byte(nil), log[:end]...)
	mid[end/2] ^= 1
	f.Add(mid)
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3})

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, fileName)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		w, st, err := Open(dir)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open failed other than with ErrCorrupt: %v", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Fatal("a failed open changed the file")
			}
			return
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		w, st2, err := Open(dir)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		w.Close()
		if !reflect.DeepEqual(st, st2) {
			t.Fatalf("second open read %+v, first %+v", st2, st)
		}
	})
}

// TestWALGrowsInTheBackground: a log that outgrows its zeros gets more from a background
// fill while records go on into the zeros already synced; every record still lands in
// synced zeros and all of them read back. A snapshot then rewrites the grown file only once
// that copies little.
func TestWALGrowsInTheBackground(t *testing.T) {
	w, dir := openWithChunk(t, 64<<10)
	const n = 200
	filled := 0
	for i := uint64(1); i <= n; i++ {
		e := raftpb.Entry{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, 1000)}
		if err := w.Save(raftpb.HardState{Term: 1, Commit: i}, []raftpb.Entry{e}, true); err != nil {
			t.Fatal(err)
		}
		if w.grow != nil {
			filled++ // a fill under way, and this Save did not wait for it
		}
		b, err := os.ReadFile(filepath.Join(dir, fileName))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) < w.alloc || !allZero(b[w.off:w.alloc]) {
			t.Fatalf("entry %d: the file (%d bytes) is not zeros from the log's end %d to %d", i, len(b), w.off, w.alloc)
		}
	}
	if w.alloc < n*1000 || filled == 0 {
		t.Fatalf("zero-filled to %d, %d Saves returned during a fill: the log did not grow in the background", w.alloc, filled)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st := reopen(t, dir)
	if len(st.Entries) != n || st.Entries[n-1].Index != n || st.HardState.Commit != n {
		t.Fatalf("read back %d entries, hard state %+v", len(st.Entries), st.HardState)
	}
	w, _, _ = Open(dir)
	if err := w.Snapshot(raftpb.SnapshotMetadata{Index: n / 2, Term: 1}, raftpb.HardState{Term: 1, Commit: n}, st.Entries[n/2:]); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, fileName))
	if offs, _ := recordOffsets(t, b); len(offs) != 2*n+1 {
		t.Fatalf("%d records after a snapshot that would copy %d entries, want the %d there were and the snapshot (no rewrite)", len(offs), n/2, 2*n)
	}
	if err := w.Snapshot(raftpb.SnapshotMetadata{Index: n - 1, Term: 1}, raftpb.HardState{Term: 1, Commit: n}, st.Entries[n-1:]); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b, _ = os.ReadFile(filepath.Join(dir, fileName))
	if offs, _ := recordOffsets(t, b); len(offs) != 3 {
		t.Fatalf("%d records after the grown log's snapshot, want 3 (a rewrite)", len(offs))
	}
}

// openWithChunk opens a new log in a temporary dir with preallocChunk set to chunk for the
// rest of the test, so that small logs reach its edges.
func openWithChunk(t *testing.T, chunk int64) (*WAL, string) {
	t.Helper()
	old := preallocChunk
	t.Cleanup(func() { preallocChunk = old })
	preallocChunk = chunk
	dir := t.TempDir()
	w, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return w, dir
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
