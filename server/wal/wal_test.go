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
	"slices"
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
		t.Fatalf("entries %v, hard state %+v; want 1-4, 3 and 4 of term 2", st.Entries, st.HardState)
	}
	// The file is zero-filled ahead; reopening and appending again keeps working.
	w, _, _ = Open(dir)
	w.Save(raftpb.HardState{Term: 2, Commit: 5}, ents(5, 5, 2), true)
	w.Close()
	if st = reopen(t, dir); len(st.Entries) != 5 || st.HardState.Commit != 5 {
		t.Fatalf("after a second session: %v %+v", indexes(st.Entries), st.HardState)
	}
}

// segPath is the path of segment seq of the log in dir.
func segPath(dir string, seq uint64) string { return filepath.Join(dir, segmentName(seq)) }

// crashCopy is what a crash would leave of the log in dir now: its files as written so far,
// copied to a new dir, opened there.
func crashCopy(t *testing.T, dir string) State {
	t.Helper()
	c := t.TempDir()
	copyDir(t, dir, c)
	return reopen(t, c)
}

// copyDir copies the files of dir into to.
func copyDir(t *testing.T, dir, to string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // removed in the background meanwhile, as a crash may find it
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, de.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
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
			return w.Snapshot(raftpb.SnapshotMetadata{Index: 2, Term: 1})
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
			path := segPath(dir, 0)
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

// TestWALCompact: compactions in a row (each starts a new segment) keep the entries after
// the snapshot and what is saved after them.
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

// TestWALSnapshotInPlace: a snapshot is one more record (reopening drops the entries before
// it); nothing is rewritten.
func TestWALSnapshotInPlace(t *testing.T) {
	w, dir := openWithChunk(t, 8<<10)
	w.Save(raftpb.HardState{Term: 1, Commit: 10}, ents(1, 10, 1), true)
	if err := w.Snapshot(raftpb.SnapshotMetadata{Index: 6, Term: 1}); err != nil {
		t.Fatal(err)
	}
	w.Save(raftpb.HardState{Term: 1, Commit: 11}, ents(11, 11, 1), true)
	w.Close()
	b, _ := os.ReadFile(segPath(dir, 0))
	if offs, _ := recordOffsets(t, b); len(offs) != 14 { // 10 entries, a hard state, the snapshot, an entry, a hard state
		t.Fatalf("%d records in the file, want the 14 written (no rewrite)", len(offs))
	}
	st := reopen(t, dir)
	if st.Snapshot.Index != 6 || fmt.Sprint(indexes(st.Entries)) != "[7 8 9 10 11]" || st.HardState.Commit != 11 {
		t.Fatalf("after an in-place snapshot: snapshot %d, entries %v, %+v", st.Snapshot.Index, indexes(st.Entries), st.HardState)
	}
}

// recordOffsets walks the valid records from the start of a log file and returns where each
// starts, and the offset after the last one.
func recordOffsets(t testing.TB, b []byte) ([]int, int) {
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
			path := segPath(dir, 0)
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
	path := segPath(dir, 0)
	b, _ := os.ReadFile(path)
	rec := append([]byte(nil), b[:end]...) // a copy of the whole log, as a record or two
	copy(b[3<<20+3:], rec)
	os.WriteFile(path, b, 0o600)
	if _, _, err := Open(dir); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprint(3<<20+3)) {
		t.Fatalf("open: %v, want ErrCorrupt at offset %d", err, 3<<20+3)
	}
}

// FuzzOpen: whatever segments 0 and 1 hold, Open does not panic; it fails with ErrCorrupt
// and leaves the files alone, or it returns a state that opening again returns unchanged.
func FuzzOpen(f *testing.F) {
	defer func(c int64) { preallocChunk = c }(preallocChunk)
	preallocChunk = 4 << 10

	// Two segments: entries of 1 KiB, a conflict, a snapshot, the move to segment 1.
	dir := f.TempDir()
	w, _, err := Open(dir)
	if err != nil {
		f.Fatal(err)
	}
	big := func(from, to, term uint64) []raftpb.Entry {
		es := ents(from, to, term)
		for i := range es {
			es[i].Data = bytes.Repeat([]byte{byte(es[i].Index)}, 1000)
		}
		return es
	}
	w.Save(raftpb.HardState{Term: 1, Commit: 2}, big(1, 2, 1), true)
	w.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 2}, big(2, 3, 2), true)
	w.Snapshot(raftpb.SnapshotMetadata{Index: 1, Term: 1})
	w.Save(raftpb.HardState{Term: 2, Commit: 4}, big(4, 4, 2), true)
	if w.seq != 1 {
		f.Fatalf("the seed log is in segment %d, want 1", w.seq)
	}
	end1 := w.off
	w.Close()
	seg0, _ := os.ReadFile(segPath(dir, 0))
	_, end0 := recordOffsets(f, seg0)
	seg0 = seg0[:end0]
	seg1, _ := os.ReadFile(segPath(dir, 1))
	seg1 = seg1[:end1]
	f.Add(seg0, seg1)
	f.Add(seg0, seg1[:end1-3])
	f.Add(seg0[:end0-3], seg1)
	f.Add(seg0, []byte{})
	f.Add(seg1, seg0)
	mid := append([]byte(nil), seg1...)
	mid[end1/2] ^= 1
	f.Add(seg0, mid)

	// One segment, after a Compact: segment 0 empty, segment 1 starting the log over.
	dir = f.TempDir()
	w, _, _ = Open(dir)
	w.Save(raftpb.HardState{Term: 1, Commit: 2}, ents(1, 3, 1), true)
	w.Compact(raftpb.SnapshotMetadata{Index: 2, Term: 1}, raftpb.HardState{Term: 2, Commit: 3}, ents(1, 4, 2))
	w.Save(raftpb.HardState{Term: 2, Commit: 5}, ents(5, 5, 2), true)
	end := w.off
	w.Close()
	log, _ := os.ReadFile(segPath(dir, 1))
	f.Add([]byte{}, log[:end])
	f.Add(log[:end], []byte{})
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0, 0}, []byte{})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3}, []byte{})

	f.Fuzz(func(t *testing.T, first, second []byte) {
		dir := t.TempDir()
		files := map[string][]byte{segPath(dir, 0): first, segPath(dir, 1): second}
		for path, data := range files {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		w, st, err := Open(dir)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open failed other than with ErrCorrupt: %v", err)
			}
			for path, data := range files {
				if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
					t.Fatal("a failed open changed a file")
				}
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

// TestWALSegments: a log that outgrows a segment goes on in the next. Every record lands in
// zeros made ahead of it, all of them read back, and a process crash keeps every synced
// entry. A snapshot
// removes the segments it covers once a sync made it durable, oldest first, and rewrites
// nothing.
func TestWALSegments(t *testing.T) {
	w, dir := openWithChunk(t, 64<<10)
	const n = 300
	hs := func(i uint64) raftpb.HardState { return raftpb.HardState{Term: 1, Commit: i} }
	entry := func(i uint64) []raftpb.Entry {
		return []raftpb.Entry{{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, 1000)}}
	}
	for i := uint64(1); i <= n; i++ {
		if err := w.Save(hs(i), entry(i), true); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(segPath(dir, w.seq))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) < w.alloc || !allZero(b[w.off:w.alloc]) {
			t.Fatalf("entry %d: segment %d (%d bytes) is not zeros from the log's end %d to %d", i, w.seq, len(b), w.off, w.alloc)
		}
		if i%25 == 0 {
			if st := crashCopy(t, dir); len(st.Entries) != int(i) || st.HardState.Commit != i {
				t.Fatalf("a crash after entry %d leaves %d entries, hard state %+v", i, len(st.Entries), st.HardState)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	segs := segmentFiles(t, dir) // Close removed the spare made ahead
	if len(segs) < 4 || segs[0] != 0 || segs[len(segs)-1] != uint64(len(segs)-1) {
		t.Fatalf("segments %v after %d KB of entries in segments of %d KB: want 0, 1, 2, ...", segs, n, preallocChunk>>10)
	}
	if st := reopen(t, dir); len(st.Entries) != n || st.Entries[n-1].Index != n || st.HardState.Commit != n {
		t.Fatalf("read back %d entries, hard state %+v", len(st.Entries), st.HardState)
	}

	before := map[uint64][]byte{}
	var covered []uint64 // the segments whose entries all lie at or before the snapshot
	const snap = 150
	for _, seq := range segs {
		b, _ := os.ReadFile(segPath(dir, seq))
		_, end := recordOffsets(t, b)
		before[seq] = b[:end]
		if maxEntry(t, b) <= snap && len(covered) == int(seq) {
			covered = append(covered, seq)
		}
	}
	if len(covered) == 0 || len(covered) == len(segs) {
		t.Fatalf("the snapshot covers segments %v of %v: the test needs some but not all", covered, segs)
	}
	w, _, _ = Open(dir)
	defer w.Close()
	if err := w.Snapshot(raftpb.SnapshotMetadata{Index: snap, Term: 1}); err != nil {
		t.Fatal(err)
	}
	got := segmentFiles(t, dir)
	if n := len(got); n > 0 && got[n-1] == w.seq+1 {
		got = got[:n-1] // the spare, made ahead in the background
	}
	if !slices.Equal(got, segs) {
		t.Fatalf("segments %v before the snapshot was synced, want all of %v", got, segs)
	}
	if err := w.Save(hs(n+1), entry(n+1), true); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got = segmentFiles(t, dir)
	if !slices.Equal(got, segs[len(covered):]) {
		t.Fatalf("segments %v after the snapshot at %d, want %v (%v covered)", got, snap, segs[len(covered):], covered)
	}
	for _, seq := range got {
		if b, _ := os.ReadFile(segPath(dir, seq)); !bytes.HasPrefix(b, before[seq]) {
			t.Fatalf("segment %d was rewritten", seq)
		}
	}
	st := reopen(t, dir)
	if st.Snapshot.Index != snap || len(st.Entries) != n+1-snap || st.Entries[0].Index != snap+1 || st.HardState.Commit != n+1 {
		t.Fatalf("after the snapshot: snapshot %d, %d entries from %d, hard state %+v", st.Snapshot.Index, len(st.Entries), st.Entries[0].Index, st.HardState)
	}
}

// segmentFiles lists the segments in dir by number, checking nothing else is there.
func segmentFiles(t *testing.T, dir string) []uint64 {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, de := range des {
		seq, ok := parseSegmentName(de.Name())
		if !ok {
			t.Fatalf("%s in the log's dir", de.Name())
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// maxEntry is the highest entry index in segment file b.
func maxEntry(t *testing.T, b []byte) uint64 {
	t.Helper()
	s := &segFile{}
	offs, _ := recordOffsets(t, b)
	var st State
	for _, off := range offs {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if err := apply(&st, s, int64(off), b[off+8:off+8+n]); err != nil {
			t.Fatal(err)
		}
	}
	return s.maxIndex
}

// segmentedLog writes 40 entries of 500 bytes into segments of 6 KiB (four of them) and
// closes the log.
func segmentedLog(t *testing.T) string {
	t.Helper()
	w, dir := openWithChunk(t, 6<<10)
	for i := uint64(1); i <= 40; i++ {
		e := raftpb.Entry{Index: i, Term: 1, Data: bytes.Repeat([]byte{byte(i)}, 500)}
		if err := w.Save(raftpb.HardState{Term: 1, Commit: i}, []raftpb.Entry{e}, true); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	if segs := segmentFiles(t, dir); len(segs) != 4 {
		t.Fatalf("segments %v, want 4", segs)
	}
	return dir
}

// TestWALSegmentDamage: a segment that lost records at its end, a segment missing or out of
// place, and a gap in the entries are refused (the files left as they are); spares after
// the last segment, whole or torn, are removed.
func TestWALSegmentDamage(t *testing.T) {
	lastRecord := func(t *testing.T, path string) (int, int) {
		b, _ := os.ReadFile(path)
		offs, end := recordOffsets(t, b)
		return offs[len(offs)-1], end
	}
	for _, c := range []struct {
		name    string
		mod     func(t *testing.T, dir string)
		corrupt bool
	}{
		{"a closed segment lost its last record", func(t *testing.T, dir string) {
			from, to := lastRecord(t, segPath(dir, 1))
			b, _ := os.ReadFile(segPath(dir, 1))
			clear(b[from:to])
			os.WriteFile(segPath(dir, 1), b, 0o600)
		}, true},
		{"a segment in the middle missing", func(t *testing.T, dir string) { os.Remove(segPath(dir, 1)) }, true},
		{"the first segment missing, no snapshot covering it", func(t *testing.T, dir string) { os.Remove(segPath(dir, 0)) }, true},
		{"a segment under another's number", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(segPath(dir, 2))
			os.WriteFile(segPath(dir, 3), b, 0o600)
		}, true},
		{"a segment's header damaged", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(segPath(dir, 2))
			b[10] ^= 1
			os.WriteFile(segPath(dir, 2), b, 0o600)
		}, true},
		{"a spare after the last", func(t *testing.T, dir string) {
			os.WriteFile(segPath(dir, 4), make([]byte, 8<<10), 0o600)
		}, false},
		{"a spare with a torn header", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(segPath(dir, 3))
			os.WriteFile(segPath(dir, 4), append(b[:20:20], make([]byte, 100)...), 0o600)
		}, false},
		{"a torn tail in the last segment", func(t *testing.T, dir string) {
			from, to := lastRecord(t, segPath(dir, 3))
			b, _ := os.ReadFile(segPath(dir, 3))
			clear(b[(from+to)/2 : to])
			os.WriteFile(segPath(dir, 3), b, 0o600)
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := segmentedLog(t)
			c.mod(t, dir)
			files := map[string][]byte{}
			des, _ := os.ReadDir(dir)
			for _, de := range des {
				files[de.Name()], _ = os.ReadFile(filepath.Join(dir, de.Name()))
			}
			w, st, err := Open(dir)
			if c.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					if err == nil {
						w.Close()
					}
					t.Fatalf("open: %v (entries %v), want ErrCorrupt", err, indexes(st.Entries))
				}
				t.Log(err)
				des, _ := os.ReadDir(dir)
				if len(des) != len(files) {
					t.Fatalf("open changed the files: %d there, %d before", len(des), len(files))
				}
				for name, b := range files {
					if after, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(after, b) {
						t.Fatalf("open changed %s", name)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if segs := segmentFiles(t, dir); !slices.Equal(segs, []uint64{0, 1, 2, 3}) {
				t.Fatalf("segments %v after Open, want the spare removed", segs)
			}
			n := uint64(len(st.Entries))
			if n < 39 || st.Entries[n-1].Index != n {
				t.Fatalf("entries %v", indexes(st.Entries))
			}
			if err := w.Save(raftpb.HardState{Term: 1, Commit: n + 1}, ents(n+1, n+1, 1), true); err != nil {
				t.Fatal(err)
			}
			w.Close()
			if st := reopen(t, dir); len(st.Entries) != int(n+1) {
				t.Fatalf("after appending: %v", indexes(st.Entries))
			}
		})
	}
}

// compactedLog makes segmentedLog's log, copies it to old, then installs a leader's
// snapshot at index (term 2) in it with Compact.
func compactedLog(t *testing.T, index uint64) (dir, old string) {
	t.Helper()
	dir, old = segmentedLog(t), t.TempDir()
	copyDir(t, dir, old)
	w, _, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Compact(raftpb.SnapshotMetadata{Index: index, Term: 2}, raftpb.HardState{Term: 2, Commit: index}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, old
}

// TestWALCompactVoidsWhatCameBefore: a leader's snapshot (Compact) starts the log over in a
// new segment and removes the others; had a crash kept them, their entries still do not
// count.
func TestWALCompactVoidsWhatCameBefore(t *testing.T) {
	dir, old := compactedLog(t, 30)
	if segs := segmentFiles(t, dir); !slices.Equal(segs, []uint64{4}) {
		t.Fatalf("segments %v after Compact, want only the new one", segs)
	}
	copyDir(t, old, dir) // what a crash before the removals would have left
	st := reopen(t, dir)
	if st.Snapshot.Index != 30 || st.Snapshot.Term != 2 || len(st.Entries) != 0 || st.HardState.Term != 2 {
		t.Fatalf("after Compact, with the old segments back: snapshot %+v, entries %v, %+v", st.Snapshot, indexes(st.Entries), st.HardState)
	}
	if segs := segmentFiles(t, dir); !slices.Equal(segs, []uint64{4}) {
		t.Fatalf("segments %v after reopening, want the void ones removed", segs)
	}
}

// TestWALTornWriteIntoNextSegment: a write that moves the log to the next segment and is
// torn after its first entry leaves a hard state whose commit index no entry is missing for
// (Raft refuses to start from one past its last entry): the new segment's header repeats
// the hard state written before, not the one of the write that follows it.
func TestWALTornWriteIntoNextSegment(t *testing.T) {
	w, dir := openWithChunk(t, 8<<10)
	big := func(from, to uint64) []raftpb.Entry {
		es := ents(from, to, 1)
		for i := range es {
			es[i].Data = bytes.Repeat([]byte{byte(es[i].Index)}, 1000)
		}
		return es
	}
	last := uint64(0)
	for w.off+3000+8 <= w.alloc { // until three entries (over 3000 bytes) do not fit
		last++
		w.Save(raftpb.HardState{Term: 1, Commit: last}, big(last, last), true)
	}
	seq := w.seq
	// A follower's Ready: three entries and a commit index that covers them.
	if err := w.Save(raftpb.HardState{Term: 1, Commit: last + 3}, big(last+1, last+3), true); err != nil {
		t.Fatal(err)
	}
	if w.seq != seq+1 {
		t.Fatalf("the write went to segment %d, want %d", w.seq, seq+1)
	}
	w.Close()
	path := segPath(dir, seq+1)
	b, _ := os.ReadFile(path)
	offs, end := recordOffsets(t, b)
	if len(offs) != 6 { // header, hard state, three entries, hard state
		t.Fatalf("%d records in the new segment, want 6", len(offs))
	}
	clear(b[offs[3]:end]) // only the first entry reached the disk
	os.WriteFile(path, b, 0o600)
	st := reopen(t, dir)
	n := len(st.Entries)
	if n == 0 || st.Entries[n-1].Index != last+1 || st.HardState.Commit > last+1 {
		t.Fatalf("after the torn write: entries up to %v, commit %d", indexes(st.Entries)[n-1:], st.HardState.Commit)
	}
}

// TestWALTornRestart: a Compact whose write was torn after the restart header (its snapshot
// lost) never happened: the entries before it still count.
func TestWALTornRestart(t *testing.T) {
	dir, old := compactedLog(t, 50)
	copyDir(t, old, dir)
	b, _ := os.ReadFile(segPath(dir, 4))
	offs, end := recordOffsets(t, b)
	clear(b[offs[1]:end]) // the header reached the disk, the snapshot did not
	os.WriteFile(segPath(dir, 4), b, 0o600)
	st := reopen(t, dir)
	if st.Snapshot.Index != 0 || len(st.Entries) != 40 || st.HardState.Commit != 40 {
		t.Fatalf("after a torn Compact: snapshot %d, %d entries, %+v; want the log as it was", st.Snapshot.Index, len(st.Entries), st.HardState)
	}
}

// TestWALRemovalFails: a segment that cannot be removed stops the removal there and is tried
// again, with those after it, at the next release; segments after it are never removed
// first, which would leave a gap Open refuses.
func TestWALRemovalFails(t *testing.T) {
	w, dir := openWithChunk(t, 6<<10)
	next := uint64(1)
	save := func() {
		t.Helper()
		e := raftpb.Entry{Index: next, Term: 1, Data: bytes.Repeat([]byte{byte(next)}, 500)}
		if err := w.Save(raftpb.HardState{Term: 1, Commit: next}, []raftpb.Entry{e}, true); err != nil {
			t.Fatal(err)
		}
		next++
	}
	for next <= 40 {
		save()
	}
	if w.seq != 3 {
		t.Fatalf("the log is in segment %d, want 3", w.seq)
	}
	// Segment 0 becomes a directory with a file in it: removing it fails.
	os.Remove(segPath(dir, 0))
	os.Mkdir(segPath(dir, 0), 0o700)
	os.WriteFile(filepath.Join(segPath(dir, 0), "x"), nil, 0o600)
	// present checks that the files are segments first, first+1, ... up to at least the
	// one in use (a spare may follow).
	present := func(first uint64) {
		t.Helper()
		w.waitRemoval()
		des, _ := os.ReadDir(dir)
		var got []string
		for _, de := range des {
			got = append(got, de.Name())
		}
		for i, name := range got {
			if name != segmentName(first+uint64(i)) {
				t.Fatalf("files %v, want segments from %d on", got, first)
			}
		}
		if first+uint64(len(got)) <= w.seq {
			t.Fatalf("files %v, want segments from %d to at least %d", got, first, w.seq)
		}
	}
	for _, snap := range []uint64{25, 38} { // covering segments 0 and 1, then 0 to 2
		if err := w.Snapshot(raftpb.SnapshotMetadata{Index: snap, Term: 1}); err != nil {
			t.Fatal(err)
		}
		save()
		present(0)
	}
	os.RemoveAll(segPath(dir, 0))
	save()
	present(3)
	w.Close()
	st := reopen(t, dir)
	if st.Snapshot.Index != 38 || st.Entries[0].Index != 39 || st.Entries[len(st.Entries)-1].Index != next-1 {
		t.Fatalf("snapshot %d, entries %v", st.Snapshot.Index, indexes(st.Entries))
	}
}

// TestWALLegacyLog: a log of the version before segments (one file, log.wal, and the spare
// its rewrite used) is read as segment 0 and renamed to it.
func TestWALLegacyLog(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := Open(dir)
	w.Save(raftpb.HardState{Term: 1, Commit: 3}, ents(1, 3, 1), true)
	w.Snapshot(raftpb.SnapshotMetadata{Index: 1, Term: 1})
	w.Close()
	if err := os.Rename(segPath(dir, 0), filepath.Join(dir, legacyName)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, legacyName+".spare"), make([]byte, 4096), 0o600)
	if !Exists(dir) {
		t.Fatal("a legacy log does not exist")
	}
	w, st, err := Open(dir)
	if err != nil || st.Snapshot.Index != 1 || fmt.Sprint(indexes(st.Entries)) != "[2 3]" {
		t.Fatalf("open: %v, snapshot %d, entries %v", err, st.Snapshot.Index, indexes(st.Entries))
	}
	w.Save(raftpb.HardState{Term: 1, Commit: 4}, ents(4, 4, 1), true)
	w.Close()
	if segs := segmentFiles(t, dir); !slices.Equal(segs, []uint64{0}) {
		t.Fatalf("segments %v, want the legacy log as segment 0 and nothing else", segs)
	}
	if st := reopen(t, dir); fmt.Sprint(indexes(st.Entries)) != "[2 3 4]" {
		t.Fatalf("after appending: %v", indexes(st.Entries))
	}

	// An earlier build that refuses the segments leaves an empty, zero-filled log.wal: it is
	// ignored and removed. One that holds a record makes the log ambiguous: refused.
	legacy := filepath.Join(dir, legacyName)
	os.WriteFile(legacy, make([]byte, 64<<10), 0o600)
	if st := reopen(t, dir); fmt.Sprint(indexes(st.Entries)) != "[2 3 4]" {
		t.Fatalf("with an empty log.wal beside the segments: %v", indexes(st.Entries))
	}
	if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the empty log.wal is still there: %v", err)
	}
	seg, _ := os.ReadFile(segPath(dir, 0))
	os.WriteFile(legacy, seg, 0o600)
	if _, _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "both") {
		t.Fatalf("open with a log.wal holding records beside the segments: %v, want refused", err)
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
