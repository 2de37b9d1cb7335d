package mvcc

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/kv"
)

// Compaction, as etcd does it, in two parts:
//
//   - Compact (on the apply path, under the write lock) compacts the key index, which is in
//     memory, and records the new compact revision with the entry's applied index. From then on
//     no read or watch can reach below it: the logical state is final and the same on every
//     member.
//   - A background goroutine (the compactor) then hashes the history it is about to drop (the
//     compaction hash HashKV keeps, as etcd's hashStorage) and deletes the dropped versions
//     from the backend in batches of CompactionBatchLimit, pausing CompactionSleepInterval
//     between batches and never taking the write lock (its records are below anything a
//     writer touches), so that writes go on while a year of history is deleted. When it is
//     done it records the revision as finished; a store that opens with an unfinished one (a
//     crash, a snapshot taken meanwhile) resumes it.
//
// The backend may thus hold versions below the compact revision that nothing can read; HashKV
// skips them, so hashes do not depend on how far a member's compactor has got.

// Defaults of etcd's --compaction-batch-limit and --compaction-sleep-interval.
const (
	DefaultCompactionBatchLimit    = 1000
	DefaultCompactionSleepInterval = 10 * time.Millisecond
)

// metaFinishedCompactRev is the last compaction whose deletes are all in the backend (etcd's
// finishedCompactRev; metaCompactRev is its scheduledCompactRev).
const metaFinishedCompactRev = "mvcc/finishedCompactRev"

// compactJob is one physical compaction.
type compactJob struct {
	rev  int64                    // the compact revision
	prev int64                    // the compact revision before it
	hash bool                     // take the compaction hash (not if the one before was unfinished, or resumed)
	keep map[kv.Revision]struct{} // the records at or below rev that stay (keyIndex.compact)
	done chan struct{}            // closed when the deletes are committed
}

// Compact discards history below rev: for every key it keeps the newest version at or below
// rev and everything newer. It fails with ErrCompacted when rev is at or below the current
// compact revision and with ErrFutureRev above the current revision. Compacting changes no
// revision. The index is compacted before Compact returns; the backend's deletes follow in
// the background (PhysicalDone tells when).
//
// A tombstone exactly at rev stays in the backend until the next compaction, so a watcher
// starting at rev still sees that delete (etcd issue #19179); it is left out of the index and
// of HashKV.
func (s *Store) Compact(rev int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rev <= s.compactRev {
		return ErrCompacted
	}
	if rev > s.currentRev {
		return ErrFutureRev
	}
	keep := make(map[kv.Revision]struct{})
	s.compactIndex(rev, keep)

	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(rev))
	s.batch.Meta = append(s.batch.Meta, backend.MetaEntry{Key: metaCompactRev, Value: v[:]})
	err := s.commitLocked()
	s.batch.Reset()
	if err != nil {
		return fmt.Errorf("mvcc: compact at %d: %w", rev, err)
	}
	// As etcd (issue #15919): the hash is remembered only if the compaction before it had
	// finished when this one was asked for; otherwise a HashKV at rev is computed afresh.
	s.scheduleLocked(&compactJob{rev: rev, prev: s.compactRev, hash: !s.compactPending(), keep: keep})
	s.compactRev = rev
	s.hub.kick()
	return nil
}

// compactIndex compacts every key's history at rev, dropping keys with none left, and records
// the records at or below rev that stay in keep (if non-nil; keyIndex.compact). The caller
// holds s.mu.
func (s *Store) compactIndex(rev int64, keep map[kv.Revision]struct{}) {
	var empty []*keyIndex
	s.index.Ascend(func(ki *keyIndex) bool {
		if ki.compact(rev, keep) {
			empty = append(empty, ki)
		}
		return true
	})
	for _, ki := range empty {
		s.index.Delete(ki)
	}
}

// keptLocked returns the versions at or below the compact revision that the index still
// refers to: once the index is compacted, exactly those the backend keeps there. The caller
// holds s.mu.
func (s *Store) keptLocked() map[kv.Revision]struct{} {
	keep := make(map[kv.Revision]struct{})
	s.index.Ascend(func(ki *keyIndex) bool {
		ki.kept(s.compactRev, keep)
		return true
	})
	return keep
}

// pendingDelete reports whether r is a version that compaction at compactRev dropped and the
// compactor has yet to delete, given keep (keptLocked; nil when no deletes are pending).
func pendingDelete(r *backend.Record, compactRev int64, keep map[kv.Revision]struct{}) bool {
	if keep == nil || r.Rev.Main > compactRev || (r.Tombstone && r.Rev.Main == compactRev) {
		return false
	}
	_, ok := keep[r.Rev]
	return !ok
}

// scheduleLocked queues j for the compactor. The caller holds s.mu.
func (s *Store) scheduleLocked(j *compactJob) {
	j.done = make(chan struct{})
	s.cmu.Lock()
	s.jobs = append(s.jobs, j)
	s.cmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// PhysicalDone returns a channel closed once the backend holds nothing that the compaction at
// rev (or an earlier one) drops: what CompactionRequest.physical waits for.
func (s *Store) PhysicalDone(rev int64) <-chan struct{} {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	for _, j := range s.jobs {
		if j.rev >= rev {
			return j.done
		}
	}
	return closedChan
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// compactPending reports whether a compaction's deletes are not all in the backend yet.
func (s *Store) compactPending() bool {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	return len(s.jobs) > 0
}

// runCompactor runs the queued compactions, oldest first, until stop is closed.
func (s *Store) runCompactor() {
	defer close(s.compactorDone)
	for {
		s.cmu.Lock()
		var j *compactJob
		if len(s.jobs) > 0 {
			j = s.jobs[0]
		}
		s.cmu.Unlock()
		if j == nil {
			select {
			case <-s.wake:
				continue
			case <-s.stop:
				return
			}
		}
		if !s.compactPhysical(j) {
			return // stopped; the next open resumes it
		}
		s.cmu.Lock()
		s.jobs = s.jobs[1:]
		s.cmu.Unlock()
		close(j.done)
	}
}

// compactPhysical hashes what j drops and deletes it from the backend; false if the store was
// closed first.
func (s *Store) compactPhysical(j *compactJob) bool {
	// The compaction hash (HashKV at j.rev with j.prev as the compact revision, as etcd's
	// hashStorage keeps) is taken in the same scan as the deletes, paced with them: the scan
	// visits every record up to j.rev once, before deleting any it drops.
	rh := newRecordHash()
	f := recordFilter{compactRev: j.prev, keep: j.keep}
	visit := func(r *backend.Record, _ []byte) bool {
		if j.hash && f.hashed(r) {
			rh.add(r)
		}
		return pendingDelete(r, j.rev, j.keep)
	}
	var from kv.Revision
	for {
		// Without the store's lock: these records are below the compact revision, where no
		// writer goes (the backend takes concurrent commits), so writes never wait on a
		// compaction. Not with the applied index either: that belongs to the apply path.
		next, done, err := backend.Prune(s.b, from, j.rev+1, s.batchLimit, visit)
		if err == nil && done {
			if j.hash {
				s.rememberHash(HashResult{Hash: rh.h.Sum32(), CompactRevision: j.prev, HashRevision: j.rev})
			}
			var v [8]byte
			binary.BigEndian.PutUint64(v[:], uint64(j.rev))
			err = s.b.Commit(&backend.Batch{Meta: []backend.MetaEntry{{Key: metaFinishedCompactRev, Value: v[:]}}})
		}
		if err != nil {
			// The index is compacted and durable; what is left is garbage no read reaches. The
			// next open retries.
			select {
			case <-s.stop: // closing: not a failure
			default:
				if s.onCompactErr != nil {
					s.onCompactErr(fmt.Errorf("mvcc: compaction at %d: %w", j.rev, err))
				}
			}
			return false
		}
		if done {
			return true
		}
		from = next
		pause, release := clock.After(s.pace, s.sleep)
		select {
		case <-s.stop:
			release()
			return false
		case <-pause:
			release()
		}
	}
}

// rememberHash keeps a compaction's hash, the last maxHashes of them.
func (s *Store) rememberHash(r HashResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hashes = append(s.hashes, r)
	if len(s.hashes) > maxHashes {
		s.hashes = s.hashes[1:]
	}
}

// BumpAndCompact raises the current revision by n and compacts at the new revision, as
// etcdutl's restore does with --bump-revision n --mark-compacted: clients that saw the old
// cluster's revisions never see one go back, and their watches from before are told the
// history is gone.
func (s *Store) BumpAndCompact(n int64) error {
	if n <= 0 {
		return fmt.Errorf("mvcc: bump the revision by %d", n)
	}
	s.mu.Lock()
	s.currentRev += n
	rev := s.currentRev
	s.mu.Unlock()
	return s.Compact(rev)
}
