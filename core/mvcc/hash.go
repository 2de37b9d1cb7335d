package mvcc

import (
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

// HashKV returns a CRC-32C over the key history up to rev (0 = the current revision): every
// stored version at or below rev that compaction keeps. Stores that applied the same
// operations have equal hashes. It fails like Range for revisions out of bounds.
//
// Like etcd, the store remembers the hash it computed at each of its last compactions (over
// the history between the previous compact revision and that one, before deleting it); asking
// for exactly such a revision returns that hash, with the previous compact revision, even
// once it is compacted. Members compare these to detect corruption.
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
	var keep map[kv.Revision]struct{}
	if s.compactPending() {
		keep = s.keptLocked() // what the compactor has yet to delete is not hashed
	}
	b, release := s.frozenLocked()
	defer release()
	res.Hash = hashRecords(b, rev, res.CompactRevision, keep)
	return res, nil
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

// hashRecords hashes b's records up to rev, leaving out a tombstone at compactRev (etcd keeps
// it in the backend for watchers, not in the hash) and, when keep is set, any version at or
// below compactRev that is not in keep (the compactor has yet to delete it).
func hashRecords(b backend.Backend, rev, compactRev int64, keep map[kv.Revision]struct{}) uint32 {
	h := crc32.New(castagnoli)
	h.Write([]byte("key"))
	if rev <= 0 {
		return h.Sum32()
	}
	var buf []byte
	b.Ascend(0, rev+1, func(r *backend.Record) bool {
		if (r.Tombstone && r.Rev.Main == compactRev) || pendingDelete(r, compactRev, keep) {
			return true
		}
		buf = backend.AppendRecord(buf[:0], r)
		h.Write(buf)
		return true
	})
	return h.Sum32()
}
