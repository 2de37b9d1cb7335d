package mvcc

import (
	"fmt"
	"sort"

	"github.com/metastore/metastore/core/kv"
)

// keyIndex is the history of one key: every revision that put or deleted it, oldest first.
// It plays the role of etcd's generations; a tombstone ends a generation.
//
// Example: put@2, put@5, del@7, put@9 gives
//
//	revs: 2 5 7(t) 9       created=9 ver=1 (the live generation started at 9)
//
// The key exists at revisions 2–6 and from 9 on. Compacting at 6 keeps 5 (the newest at or
// below 6) and drops 2; compacting at 8 drops 2, 5 and the tombstone, leaving only 9.
type keyIndex struct {
	key  []byte
	revs []revEntry
	// created, ver and lease describe the live generation; ver == 0 means the key is deleted.
	created int64
	ver     int64
	lease   int64
}

type revEntry struct {
	rev  kv.Revision
	tomb bool
}

func (ki *keyIndex) live() bool { return ki.ver > 0 }

// put records a put at rev and returns the key's create revision and new version.
func (ki *keyIndex) put(rev kv.Revision, lease int64) (created, ver int64) {
	ki.checkAppend(rev)
	ki.revs = append(ki.revs, revEntry{rev: rev})
	if ki.ver == 0 {
		ki.created = rev.Main
	}
	ki.ver++
	ki.lease = lease
	return ki.created, ki.ver
}

// restore records a put at rev read back from storage, taking the key's create revision and
// version from the stored KeyValue: after a compaction the index no longer holds the earlier
// versions it would count them from.
func (ki *keyIndex) restore(rev kv.Revision, created, ver, lease int64) {
	ki.checkAppend(rev)
	ki.revs = append(ki.revs, revEntry{rev: rev})
	ki.created, ki.ver, ki.lease = created, ver, lease
}

// tombstone records a delete at rev.
func (ki *keyIndex) tombstone(rev kv.Revision) {
	ki.checkAppend(rev)
	ki.revs = append(ki.revs, revEntry{rev: rev, tomb: true})
	ki.created, ki.ver, ki.lease = 0, 0, 0
}

func (ki *keyIndex) checkAppend(rev kv.Revision) {
	if n := len(ki.revs); n > 0 && !ki.revs[n-1].rev.Less(rev) {
		// The store hands out revisions in order; anything else is a broken invariant.
		panic(fmt.Sprintf("mvcc: key %q: revision %v not after %v", ki.key, rev, ki.revs[n-1].rev))
	}
}

// at returns the revision of the key's version visible at main revision atRev.
func (ki *keyIndex) at(atRev int64) (kv.Revision, bool) {
	// Fast path: most reads are at the newest revision.
	n := len(ki.revs)
	if n > 0 && ki.revs[n-1].rev.Main <= atRev {
		e := ki.revs[n-1]
		return e.rev, !e.tomb
	}
	i := sort.Search(n, func(i int) bool { return ki.revs[i].rev.Main > atRev }) - 1
	if i < 0 || ki.revs[i].tomb {
		return kv.Revision{}, false
	}
	return ki.revs[i].rev, true
}

// compact drops the history that compaction at atRev makes unreachable: everything older than
// the newest entry at or below atRev, and that entry too if it is a tombstone. The surviving
// entry at or below atRev is added to keep. It reports whether the key has no history left.
func (ki *keyIndex) compact(atRev int64, keep map[kv.Revision]struct{}) (empty bool) {
	i := sort.Search(len(ki.revs), func(i int) bool { return ki.revs[i].rev.Main > atRev }) - 1
	if i < 0 {
		return len(ki.revs) == 0
	}
	if ki.revs[i].tomb {
		i++
	} else if keep != nil {
		keep[ki.revs[i].rev] = struct{}{}
	}
	if i == 0 {
		return false
	}
	ki.revs = append(ki.revs[:0:0], ki.revs[i:]...)
	return len(ki.revs) == 0
}
