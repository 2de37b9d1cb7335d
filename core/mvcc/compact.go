package mvcc

import (
	"encoding/binary"
	"fmt"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// Compact discards history below rev: for every key it keeps the newest version at or below
// rev and everything newer. It fails with ErrCompacted when rev is at or below the current
// compact revision and with ErrFutureRev above the current revision. Compacting changes no
// revision. The physical deletion happens before Compact returns.
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
	s.hashes = append(s.hashes, HashResult{Hash: s.hashLocked(rev), CompactRevision: s.compactRev, HashRevision: rev})
	if len(s.hashes) > maxHashes {
		s.hashes = s.hashes[1:]
	}
	keep := make(map[kv.Revision]struct{})
	s.compactIndex(rev, keep)

	b := &s.batch
	s.b.Ascend(0, rev+1, func(r *backend.Record) bool {
		if _, ok := keep[r.Rev]; ok {
			return true
		}
		if r.Tombstone && r.Rev.Main == rev {
			return true
		}
		b.Deletes = append(b.Deletes, r.Rev)
		return true
	})
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], uint64(rev))
	b.Meta = append(b.Meta, backend.MetaEntry{Key: metaCompactRev, Value: v[:]})
	err := s.commitLocked()
	b.Reset()
	if err != nil {
		return fmt.Errorf("mvcc: compact at %d: %w", rev, err)
	}
	s.compactRev = rev
	s.hub.kick()
	return nil
}

// compactIndex compacts every key's history at rev, dropping keys with none left, and records
// the surviving versions at or below rev in keep (if non-nil). The caller holds s.mu.
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
