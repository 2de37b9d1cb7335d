package mvcc

import (
	"hash/crc32"

	"github.com/metastore/metastore/core/backend"
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
func (s *Store) HashKV(rev int64) (HashResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, h := range s.hashes {
		if h.HashRevision == rev {
			h.Revision = s.currentRev
			return h, nil
		}
	}
	res := HashResult{CompactRevision: s.compactRev, Revision: s.currentRev}
	// As in etcd, only 0 means "current"; a negative revision hashes nothing.
	if rev > 0 && rev < s.compactRev {
		return res, ErrCompacted
	}
	if rev > s.currentRev {
		return res, ErrFutureRev
	}
	if rev == 0 {
		rev = s.currentRev
	}
	res.HashRevision = rev
	res.Hash = s.hashLocked(rev)
	return res, nil
}

// maxHashes is how many compaction hashes are remembered, as etcd's hashStorage.
const maxHashes = 10

// hashLocked hashes the history up to rev. The caller holds s.mu.
func (s *Store) hashLocked(rev int64) uint32 {
	h := crc32.New(castagnoli)
	h.Write([]byte("key"))
	if rev <= 0 {
		return h.Sum32()
	}
	var buf []byte
	s.b.Ascend(0, rev+1, func(r *backend.Record) bool {
		if r.Tombstone && r.Rev.Main == s.compactRev {
			return true
		}
		buf = backend.AppendRecord(buf[:0], r)
		h.Write(buf)
		return true
	})
	return h.Sum32()
}
