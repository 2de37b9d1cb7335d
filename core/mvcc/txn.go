package mvcc

import (
	"bytes"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// RangeOptions narrows a Range.
type RangeOptions struct {
	// Limit caps the number of KVs returned; 0 means no limit. Count is unaffected.
	Limit int64
	// Rev reads at that revision; <= 0 means the view's revision.
	Rev int64
	// Count asks only for the count.
	Count bool
}

// RangeResult is what a Range found.
type RangeResult struct {
	// KVs share their byte slices with the store: callers must not modify them.
	KVs []kv.KeyValue
	// Rev is the view's revision (not the revision read at).
	Rev int64
	// Count is the number of keys in the range at the revision read, ignoring Limit.
	Count int
}

// ReadView reads a consistent view of the store.
type ReadView interface {
	// Rev is the view's revision: the store revision when the transaction began, plus one once
	// a write transaction has changed something.
	Rev() int64
	// CompactRev is the store's compact revision, -1 if never compacted.
	CompactRev() int64
	// Range reads the keys in [key, end) at ro.Rev. A nil end reads the single key; an empty
	// non-nil end reads every key >= key; end <= key reads nothing. It fails with ErrFutureRev
	// above the view's revision and with ErrCompacted below the compact revision.
	Range(key, end []byte, ro RangeOptions) (*RangeResult, error)
}

// TxnRead is a read transaction; End releases it.
type TxnRead interface {
	ReadView
	End()
}

// WriteView changes the store. All changes of one transaction share one main revision.
type WriteView interface {
	// Put writes key and returns the revision it will have.
	Put(key, value []byte, lease int64) int64
	// DeleteRange deletes the live keys in [key, end) (end as in Range) and returns how many
	// it deleted and the view's revision afterwards.
	DeleteRange(key, end []byte) (n, rev int64)
}

// TxnWrite is a write transaction; End commits it and notifies watchers, Abort undoes its
// changes instead.
type TxnWrite interface {
	TxnRead
	WriteView
	// Abort discards every change of the transaction and ends it.
	Abort()
	// AddMeta adds a metadata entry to the transaction's commit.
	AddMeta(e backend.MetaEntry)
}

type readTxn struct {
	s   *Store
	rev int64 // revision the transaction began at
	w   *writeTxn
}

func (t *readTxn) Rev() int64 {
	if t.w != nil && len(t.w.batch.Puts) > 0 {
		return t.rev + 1
	}
	return t.rev
}

func (t *readTxn) CompactRev() int64 { return t.s.compactRev }

func (t *readTxn) End() { t.s.mu.RUnlock() }

// get returns the record at rev, looking at the transaction's own uncommitted changes first.
func (t *readTxn) get(rev kv.Revision) *backend.Record {
	if t.w != nil && rev.Main == t.rev+1 {
		return &t.w.batch.Puts[rev.Sub]
	}
	return t.s.record(rev)
}

func (t *readTxn) Range(key, end []byte, ro RangeOptions) (*RangeResult, error) {
	cur := t.Rev()
	rev := ro.Rev
	switch {
	case rev > cur:
		return &RangeResult{Rev: cur}, ErrFutureRev
	case rev <= 0:
		rev = cur
	}
	if rev < t.s.compactRev {
		return &RangeResult{Rev: cur}, ErrCompacted
	}
	res := &RangeResult{Rev: cur}
	var revs []kv.Revision
	visit := func(ki *keyIndex) {
		r, ok := ki.at(rev)
		if !ok {
			return
		}
		res.Count++
		if !ro.Count && (ro.Limit <= 0 || int64(len(revs)) < ro.Limit) {
			revs = append(revs, r)
		}
	}
	t.s.walk(key, end, func(ki *keyIndex) bool { visit(ki); return true })
	if len(revs) > 0 {
		res.KVs = make([]kv.KeyValue, len(revs))
		for i, r := range revs {
			res.KVs[i] = t.get(r).KV
		}
	}
	return res, nil
}

// walk visits the index entries in [key, end) in key order until fn returns false.
func (s *Store) walk(key, end []byte, fn func(*keyIndex) bool) {
	if end == nil {
		if ki := s.keyIndex(key); ki != nil {
			fn(ki)
		}
		return
	}
	if len(end) > 0 && bytes.Compare(key, end) >= 0 {
		return
	}
	if len(end) == 0 {
		s.index.AscendGreaterOrEqual(pivot(key), fn)
		return
	}
	s.index.AscendRange(pivot(key), pivot(end), fn)
}

type writeTxn struct {
	readTxn
	batch *backend.Batch // the store's, reused across transactions
	undo  []undoEntry    // how to revert each change, for Abort
	live  int            // change in the number of live keys, applied at End
}

// undoEntry restores a key's index entry as it was before one change.
type undoEntry struct {
	ki                  *keyIndex
	created, ver, lease int64
	isNew               bool
}

func (t *writeTxn) remember(ki *keyIndex, isNew bool) {
	t.undo = append(t.undo, undoEntry{ki: ki, created: ki.created, ver: ki.ver, lease: ki.lease, isNew: isNew})
}

func (t *writeTxn) Abort() {
	s := t.s
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		ki := u.ki
		if s.leases != nil && ki.lease != u.lease {
			if ki.lease != 0 {
				s.leases.Detach(ki.lease, ki.keyBytes())
			}
			if u.lease != 0 {
				s.leases.Attach(u.lease, ki.keyBytes())
			}
		}
		ki.pop()
		ki.created, ki.ver, ki.lease = u.created, u.ver, u.lease
		if u.isNew {
			s.index.Delete(ki)
		}
	}
	t.undo = nil
	t.live = 0
	t.batch.Reset()
	s.mu.Unlock()
}

func (t *writeTxn) End() {
	s := t.s
	if !t.batch.Empty() {
		changed := len(t.batch.Puts) > 0
		if changed {
			s.currentRev = t.rev + 1
		}
		if err := s.commitLocked(); err != nil {
			// A write that cannot be stored must not be acknowledged; the index already holds
			// it, so the store cannot go on.
			panic("mvcc: backend commit failed: " + err.Error())
		}
		if changed {
			s.hub.notify(s.currentRev, t.batch.Puts)
		}
		t.batch.Reset()
	}
	s.liveKeys += t.live
	s.mu.Unlock()
}

// AddMeta adds a metadata entry to the transaction's commit.
func (t *writeTxn) AddMeta(e backend.MetaEntry) { t.batch.Meta = append(t.batch.Meta, e) }

func (t *writeTxn) nextRev() kv.Revision {
	return kv.Revision{Main: t.rev + 1, Sub: int64(len(t.batch.Puts))}
}

func (t *writeTxn) Put(key, value []byte, lease int64) int64 {
	rev := t.nextRev()
	ki := t.s.keyIndex(key)
	isNew := ki == nil
	if isNew {
		ki = t.s.addKeyIndex(key)
	}
	t.remember(ki, isNew)
	if !ki.live() {
		t.live++
	}
	oldLease := ki.lease
	created, ver := ki.put(rev, lease)
	t.batch.Puts = append(t.batch.Puts, backend.Record{Rev: rev, KV: kv.KeyValue{
		Key:            ki.keyBytes(),
		Value:          bytes.Clone(value),
		CreateRevision: created,
		ModRevision:    rev.Main,
		Version:        ver,
		Lease:          lease,
	}})
	if t.s.leases != nil && oldLease != lease {
		if oldLease != 0 {
			t.s.leases.Detach(oldLease, ki.keyBytes())
		}
		if lease != 0 {
			t.s.leases.Attach(lease, ki.keyBytes())
		}
	}
	return rev.Main
}

func (t *writeTxn) DeleteRange(key, end []byte) (int64, int64) {
	var dels []*keyIndex
	t.s.walk(key, end, func(ki *keyIndex) bool {
		if ki.live() {
			dels = append(dels, ki)
		}
		return true
	})
	for _, ki := range dels {
		rev := t.nextRev()
		if t.s.leases != nil && ki.lease != 0 {
			t.s.leases.Detach(ki.lease, ki.keyBytes())
		}
		t.remember(ki, false)
		t.live--
		ki.tombstone(rev)
		t.batch.Puts = append(t.batch.Puts, backend.Record{Rev: rev, Tombstone: true,
			KV: kv.KeyValue{Key: ki.keyBytes(), ModRevision: rev.Main}})
	}
	return int64(len(dels)), t.Rev()
}
