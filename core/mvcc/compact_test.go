package mvcc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
)

// TestBumpAndCompact: a restore's --bump-revision --mark-compacted raises the revision and
// compacts at it, and a reopened store keeps both.
func TestBumpAndCompact(t *testing.T) {
	b := backend.NewMemory()
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	tx := s.Write()
	tx.Put([]byte("a"), []byte("1"), 0) // revision 2
	tx.End()
	if err := s.BumpAndCompact(100); err != nil {
		t.Fatal(err)
	}
	if s.Rev() != 102 || s.CompactRev() != 102 {
		t.Fatalf("revision %d, compacted %d; want both 102", s.Rev(), s.CompactRev())
	}
	if err := s.BumpAndCompact(0); err == nil {
		t.Fatal("a bump of 0 was taken")
	}
	s.Close()
	if s, err = New(Config{Backend: b}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Rev() != 102 || s.CompactRev() != 102 {
		t.Fatalf("reopened: revision %d, compacted %d; want both 102", s.Rev(), s.CompactRev())
	}
	tx = s.Write()
	tx.Put([]byte("a"), []byte("2"), 0)
	tx.End()
	if s.Rev() != 103 {
		t.Fatalf("the next write is at revision %d, want 103", s.Rev())
	}
}

// writeHistory writes n versions of each of keys k0..k(keys-1), then deletes k0; it returns the
// revision of the last version written before the delete.
func writeHistory(s *Store, keys, n int) int64 {
	for i := 0; i < n; i++ {
		for k := 0; k < keys; k++ {
			tx := s.Write()
			tx.Put([]byte(fmt.Sprint("k", k)), []byte(fmt.Sprint(i)), 0)
			tx.End()
		}
	}
	rev := s.Rev()
	tx := s.Write()
	tx.DeleteRange([]byte("k0"), nil)
	tx.End()
	return rev
}

// TestCompactionInBackground: Compact drops the history from reads at once and the backend's
// deletes follow in batches; HashKV and snapshots are the same before and after they land, and
// the last compaction's hash is remembered once they do.
func TestCompactionInBackground(t *testing.T) {
	b := backend.NewMemory()
	s, err := New(Config{Backend: b, CompactionBatchLimit: 3, CompactionSleepInterval: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rev := writeHistory(s, 4, 10) // 40 versions and a tombstone
	hashBefore, err := s.HashKV(rev)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(rev); err != nil {
		t.Fatal(err)
	}
	tx := s.Read()
	_, err = tx.Range([]byte("k1"), nil, RangeOptions{Rev: rev - 1})
	tx.End()
	if err != ErrCompacted {
		t.Fatalf("a read below the compact revision right after Compact: %v", err)
	}
	pending, err := s.HashKV(0)
	if err != nil {
		t.Fatal(err)
	}
	var view bytes.Buffer
	if err := s.View().Encode(&view); err != nil {
		t.Fatal(err)
	}
	<-s.PhysicalDone(rev)
	if n := b.Len(); n != 4+1 { // the newest version of each key, and the tombstone after rev
		t.Fatalf("%d records after the compaction, want 5", n)
	}
	done, err := s.HashKV(0)
	if err != nil || done != pending {
		t.Fatalf("HashKV while the deletes were pending %+v, after %+v (%v)", pending, done, err)
	}
	var after bytes.Buffer
	if err := s.View().Encode(&after); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(view.Bytes(), after.Bytes()) {
		t.Fatal("the snapshot taken while the deletes were pending differs from the one after")
	}
	h, err := s.HashKV(rev)
	if err != nil || h.Hash != hashBefore.Hash || h.CompactRevision != -1 {
		t.Fatalf("the compaction hash at %d: %+v %v, want %d with compact revision -1", rev, h, err, hashBefore.Hash)
	}
	if v, ok := b.Meta(metaFinishedCompactRev); !ok || int64(binary.BigEndian.Uint64(v)) != rev {
		t.Fatalf("finished compact revision %x %v, want %d", v, ok, rev)
	}
}

// TestCompactionDoesNotHoldWrites: with a compactor that pauses an hour between batches,
// writes, reads and HashKV go on, and Close does not wait for it; the store opened next on the
// same backend finishes the compaction, and the applied index its batches committed is only
// ever the apply path's.
func TestCompactionDoesNotHoldWrites(t *testing.T) {
	b := backend.NewMemory()
	s, err := New(Config{Backend: b, CompactionBatchLimit: 1, CompactionSleepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rev := writeHistory(s, 2, 5)
	s.SetApplied(7)
	if err := s.SaveApplied(); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(rev); err != nil {
		t.Fatal(err)
	}
	s.SetApplied(8) // an entry being applied; its changes are not committed yet
	// The first batch (one delete) commits; the rest waits an hour.
	for b.Len() == 2*5+1 {
		runtime.Gosched()
	}
	if v, _ := b.Meta(metaApplied); binary.BigEndian.Uint64(v) != 7 {
		t.Fatalf("the compactor committed applied index %d", binary.BigEndian.Uint64(v))
	}
	tx := s.Write()
	tx.Put([]byte("new"), []byte("v"), 0)
	tx.End()
	if _, err := s.HashKV(0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.PhysicalDone(rev):
		t.Fatal("the compaction finished within its hour's pause")
	default:
	}
	s.Close()

	s, err = New(Config{Backend: b, CompactionBatchLimit: 1, CompactionSleepInterval: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	<-s.PhysicalDone(rev)
	// The newest version of k0 and k1 at rev, k0's tombstone after it, and "new".
	if n := b.Len(); n != 4 {
		t.Fatalf("%d records after the resumed compaction, want 4", n)
	}
	if n := s.Keys(); n != 2 {
		t.Fatalf("%d live keys, want 2", n)
	}
}

// failingDeletes is a memory backend whose commits that delete fail, as a failing disk would.
type failingDeletes struct{ *backend.Memory }

func (f failingDeletes) Commit(b *backend.Batch) error {
	if len(b.Deletes) > 0 {
		return fmt.Errorf("disk on fire")
	}
	return f.Memory.Commit(b)
}

// TestCompactionErrorReported: a background delete batch that fails to commit is reported
// through OnCompactionError (the server stops on it), once; the versions stay readable as
// garbage no read reaches, and closing the store reports nothing more.
func TestCompactionErrorReported(t *testing.T) {
	errs := make(chan error, 4)
	s, err := New(Config{Backend: failingDeletes{backend.NewMemory()}, OnCompactionError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	rev := writeHistory(s, 3, 5)
	if err := s.Compact(rev); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !bytes.Contains([]byte(err.Error()), []byte("disk on fire")) {
			t.Fatalf("reported %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the failed compaction was not reported")
	}
	s.Close()
	if len(errs) != 0 {
		t.Fatalf("more reports: %v", <-errs)
	}
}

// TestCompactionHashOnlyAfterAFinishedOne: as etcd, a compaction asked for while the one
// before it is still deleting remembers no hash (HashKV at its revision is computed afresh,
// with it as the compact revision); one asked for after the last finished does.
func TestCompactionHashOnlyAfterAFinishedOne(t *testing.T) {
	pace := clock.NewManual(time.Unix(0, 0))
	s, err := New(Config{Backend: backend.NewMemory(), CompactionBatchLimit: 1, CompactionSleepInterval: time.Second, PaceClock: pace})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(k, v string) {
		tx := s.Write()
		tx.Put([]byte(k), []byte(v), 0)
		tx.End()
	}
	for i := range 4 {
		put("a", fmt.Sprint(i)) // 2..5
	}
	put("b", "1") // 6
	put("a", "x") // 7
	put("a", "y") // 8
	finish := func(rev int64) {
		t.Helper()
		done := s.PhysicalDone(rev)
		for {
			select {
			case <-done:
				return
			default:
				pace.Advance(time.Second) // the compactor's pause between batches
				runtime.Gosched()
			}
		}
	}
	if err := s.Compact(5); err != nil { // three versions of a to delete, one a batch
		t.Fatal(err)
	}
	if err := s.Compact(8); err != nil { // while the first is still deleting
		t.Fatal(err)
	}
	finish(8)
	if h, err := s.HashKV(8); err != nil || h.CompactRevision != 8 {
		t.Fatalf("HashKV at a compaction asked for during another: %+v %v, want it computed (compact revision 8)", h, err)
	}
	put("b", "2") // 9
	if err := s.Compact(9); err != nil {
		t.Fatal(err)
	}
	finish(9)
	if h, err := s.HashKV(9); err != nil || h.CompactRevision != 8 {
		t.Fatalf("HashKV at a compaction asked for after the last finished: %+v %v, want the remembered one (compact revision 8)", h, err)
	}
}

// TestHashKVDuringCompactions: HashKV reads nothing of the store after it lets go of its lock
// (under -race, reading the compact revision there was reported), and the hashes it gives
// while compactions and writes go on equal the ones a quiet store gives for the same
// revision and compact revision.
func TestHashKVDuringCompactions(t *testing.T) {
	s, err := New(Config{Backend: backend.NewMemory(), CompactionSleepInterval: time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	type at struct{ rev, compact int64 }
	seen := map[at]uint32{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			tx := s.Write()
			tx.Put([]byte(fmt.Sprint("k", i%7)), []byte(fmt.Sprint(i)), 0)
			tx.End()
			if i%5 == 4 {
				s.Compact(s.Rev() - 1)
			}
		}
	}()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		rev := s.Rev()
		h, err := s.HashKV(rev)
		if err == nil { // else compacted meanwhile
			seen[at{h.HashRevision, h.CompactRevision}] = h.Hash
		}
		runtime.Gosched() // WebAssembly does not preempt: let the writer run
	}
	<-s.PhysicalDone(s.CompactRev())
	for k, hash := range seen {
		if k.compact != s.CompactRev() {
			continue // a later compaction changed what a hash at that revision covers
		}
		if h, err := s.HashKV(k.rev); err != nil || h.Hash != hash {
			t.Fatalf("HashKV(%d) with compact revision %d: %d during the writes, %+v (%v) after", k.rev, k.compact, hash, h, err)
		}
	}
}
