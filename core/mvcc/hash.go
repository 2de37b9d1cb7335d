package mvcc

import (
	"hash"
	"hash/crc32"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// HashResult is the answer to HashKV.
type HashResult struct {
	Hash uint32
	// CompactRevision is the store's compact revision (-1 if never compacted).
	CompactRevision int64
	// HashRevision is the revision hashed up to.
	HashRevision int64
	// Revision is the current revision.
	Revision int64
}

// HashKV returns etcd's hash of the key history up to rev (0 = the current revision): a
// CRC-32C over the records at or below rev as etcd's "key" bucket holds them (bucket key and
// mvccpb.KeyValue bytes, backend.AppendEtcdKey and AppendEtcdValue), chosen as etcd 3.6's
// kvHasher chooses them, so that a member holding the same history as an etcd member gives
// the same number. Stores that applied the same operations have equal hashes. It fails like
// Range for revisions out of bounds.
//
// Like etcd, the store remembers the hash it computed at each of its last compactions (over
// the history between the previous compact revision and that one, before deleting it; not
// for a compaction asked for while the one before was still deleting); asking for exactly
// such a revision returns that hash, with the previous compact revision, even once it is
// compacted. Members compare these to detect corruption.
//
// The scan runs on a frozen copy of the backend where it can (backend.Cloner), so that it
// holds no lock writers wait on.
func (s *Store) HashKV(rev int64) (HashResult, error) {
	s.mu.RLock()
	for _, h := range s.hashes {
		if h.HashRevision == rev {
			h.Revision = s.currentRev
			s.mu.RUnlock()
			return h, nil
		}
	}
	res := HashResult{CompactRevision: s.compactRev, Revision: s.currentRev}
	// As in etcd, only 0 means "current"; a negative revision hashes nothing.
	if rev > 0 && rev < s.compactRev {
		s.mu.RUnlock()
		return res, ErrCompacted
	}
	if rev > s.currentRev {
		s.mu.RUnlock()
		return res, ErrFutureRev
	}
	if rev == 0 {
		rev = s.currentRev
	}
	res.HashRevision = rev
	f := recordFilter{compactRev: s.compactRev}
	if s.compactRev > 0 {
		f.keepAny = s.anyLiveLocked(rev)
		if s.compactPending() {
			f.pending = s.keptLocked() // what the compactor has yet to delete is not hashed
		}
	}
	b, release := s.frozenLocked()
	defer release()
	if f.keepAny {
		f.changed = changedKeys(b, f.compactRev, rev) // s.mu is released: f holds what was read under it
	}
	res.Hash = hashRecords(b, rev, f)
	return res, nil
}

// CompactionHashes returns the hashes the store remembers from its last compactions (see
// HashKV), newest first, for etcd's compaction hash check across members.
func (s *Store) CompactionHashes() []HashResult {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]HashResult, len(s.hashes))
	for i, h := range s.hashes {
		out[len(out)-1-i] = h
	}
	return out
}

// anyLiveLocked reports whether some key is live at rev: whether etcd's keep set for a hash up
// to rev (treeIndex.Keep) is not empty. The caller holds s.mu.
func (s *Store) anyLiveLocked(rev int64) (live bool) {
	s.index.Ascend(func(ki *keyIndex) bool {
		_, live = ki.at(rev)
		return !live
	})
	return live
}

// changedKeys returns the keys with a record above compactRev and at or below rev in b. A
// version at or below compactRev that survived the compaction is the one visible at rev, and
// so in etcd's keep set, exactly when its key is not among them: b answers this after the
// store's lock is released, where building etcd's keep set from the index held the lock for
// over half a second per million keys.
func changedKeys(b backend.Backend, compactRev, rev int64) map[string]struct{} {
	changed := make(map[string]struct{})
	b.Ascend(compactRev+1, rev+1, func(r *backend.Record) bool {
		changed[string(r.KV.Key)] = struct{}{}
		return true
	})
	return changed
}

// frozenLocked returns a copy of the backend that later commits do not change, or the backend
// itself if it cannot copy itself. The caller holds s.mu shared and hands it over: it is
// released at once after a copy, else by release (the backend itself must stay read-locked).
func (s *Store) frozenLocked() (b backend.Backend, release func()) {
	if c, ok := s.b.(backend.Cloner); ok {
		clone := c.Clone()
		s.mu.RUnlock()
		return clone, func() { clone.Close() }
	}
	return s.b, s.mu.RUnlock
}

// maxHashes is how many compaction hashes are remembered, as etcd's hashStorage.
const maxHashes = 10

// recordFilter decides which records a hash covers, as etcd 3.6's kvHasher.WriteKeyValue does
// over its backend: every record above compactRev; at or below it (where, once the compactor
// is done, the backend holds the versions compaction kept and a tombstone at compactRev), the
// tombstone never, and the versions in etcd's keep set if that set is not empty, else all.
type recordFilter struct {
	compactRev int64
	// etcd's keep set: keep itself, when set (the compaction hash); else (HashKV), if keepAny
	// says it is not empty, the versions whose key is not in changed.
	keep    map[kv.Revision]struct{}
	keepAny bool
	changed map[string]struct{}
	// pending, when set, is keptLocked for a compaction at compactRev whose deletes are not
	// all done: etcd's backend would not hold the others once it finished.
	pending map[kv.Revision]struct{}
}

func (f *recordFilter) hashed(r *backend.Record) bool {
	switch {
	case r.Rev.Main > f.compactRev:
		return true
	case r.Tombstone && r.Rev.Main == f.compactRev:
		// etcd up to 3.5.15 deleted such a tombstone at compaction, later versions keep it;
		// it is left out so that both hash alike.
		return false
	case pendingDelete(r, f.compactRev, f.pending):
		return false
	case f.keep != nil:
		_, ok := f.keep[r.Rev]
		return ok || len(f.keep) == 0
	case !f.keepAny:
		return true
	}
	_, ok := f.changed[string(r.KV.Key)]
	return !ok
}

// recordHash is etcd's hash of the "key" bucket, fed one record at a time.
type recordHash struct {
	h   hash.Hash32
	buf []byte
}

func newRecordHash() *recordHash {
	h := crc32.New(castagnoli)
	h.Write([]byte("key")) // the bucket's name
	return &recordHash{h: h}
}

func (rh *recordHash) add(r *backend.Record) {
	rh.buf = backend.AppendEtcdKey(rh.buf[:0], r.Rev, r.Tombstone)
	rh.buf = backend.AppendEtcdValue(rh.buf, r)
	rh.h.Write(rh.buf)
}

// hashRecords hashes b's records up to rev that f lets through.
func hashRecords(b backend.Backend, rev int64, f recordFilter) uint32 {
	rh := newRecordHash()
	if rev <= 0 {
		return rh.h.Sum32()
	}
	b.Ascend(0, rev+1, func(r *backend.Record) bool {
		if f.hashed(r) {
			rh.add(r)
		}
		return true
	})
	return rh.h.Sum32()
}
