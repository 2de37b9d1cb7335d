package mvcc

import (
	"fmt"
	"slices"
	"sort"
	"unsafe"

	"github.com/metastore/metastore/core/kv"
)

// keyIndex is the history of one key: every revision that put or deleted it, oldest first.
// It plays the role of etcd's generations; a tombstone ends a generation.
//
// Example: put@2, put@5, del@7, put@9 gives
//
//	revisions: 2 5 7(t) 9       created=9 ver=1 (the live generation started at 9)
//
// The key exists at revisions 2–6 and from 9 on. Compacting at 6 keeps 5 (the newest at or
// below 6) and drops 2; compacting at 8 drops 2, 5 and the tombstone, leaving only 9.
//
// There is one per key, so its layout is about memory: 64 bytes plus the key's bytes for a
// key with one revision, the usual case once history is compacted (a []byte key and a slice
// of entries cost 40 bytes more per key; docs/benchmarks.md, "Where the memory goes"). The
// newest entry is held inline, and whether it is a tombstone needs no flag: a key whose last
// change deleted it has no live generation (ver == 0). Older entries, if any, are in hist.
type keyIndex struct {
	key  string      // never modified; records share its bytes (keyBytes)
	last kv.Revision // the newest entry; zero while there is none (being built or undone)
	hist *[]revEntry // the older entries, oldest first; nil when there are none
	// created, ver and lease describe the live generation; ver == 0 means the key is deleted.
	created int64
	ver     int64
	lease   int64
}

type revEntry struct {
	rev  kv.Revision
	tomb bool
}

// pivot is a keyIndex to look key up with. It shares key's bytes, so it must not be stored.
func pivot(key []byte) *keyIndex {
	return &keyIndex{key: unsafe.String(unsafe.SliceData(key), len(key))}
}

// keyBytes is the key as a byte slice sharing the index's copy: records and events carry it
// without a copy per write, and nothing modifies a record's key (backend.Backend).
func (ki *keyIndex) keyBytes() []byte {
	return unsafe.Slice(unsafe.StringData(ki.key), len(ki.key))
}

func (ki *keyIndex) live() bool { return ki.ver > 0 }

// empty reports whether the entry holds no revision.
func (ki *keyIndex) empty() bool { return ki.last.Main == 0 }

// entries returns every entry, oldest first (a copy).
func (ki *keyIndex) entries() []revEntry {
	if ki.empty() {
		return nil
	}
	var out []revEntry
	if ki.hist != nil {
		out = append(out, *ki.hist...)
	}
	return append(out, revEntry{rev: ki.last, tomb: !ki.live()})
}

// push makes rev the newest entry, moving the previous one into hist. The caller sets
// created and ver after it: the previous entry's tombstone flag is read from ver.
func (ki *keyIndex) push(rev kv.Revision) {
	if ki.empty() {
		ki.last = rev
		return
	}
	if !ki.last.Less(rev) {
		// The store hands out revisions in order; anything else is a broken invariant.
		panic(fmt.Sprintf("mvcc: key %q: revision %v not after %v", ki.key, rev, ki.last))
	}
	if ki.hist == nil {
		ki.hist = new([]revEntry)
	}
	*ki.hist = append(*ki.hist, revEntry{rev: ki.last, tomb: !ki.live()})
	ki.last = rev
}

// pop drops the newest entry (undoing a change), making the previous one the newest. The
// caller restores created, ver and lease to what they were before that change.
func (ki *keyIndex) pop() {
	if ki.hist == nil {
		ki.last = kv.Revision{}
		return
	}
	h := *ki.hist
	ki.last = h[len(h)-1].rev
	if len(h) == 1 {
		ki.hist = nil
	} else {
		*ki.hist = h[:len(h)-1]
	}
}

// put records a put at rev and returns the key's create revision and new version.
func (ki *keyIndex) put(rev kv.Revision, lease int64) (created, ver int64) {
	ki.push(rev)
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
	ki.push(rev)
	ki.created, ki.ver, ki.lease = created, ver, lease
}

// tombstone records a delete at rev.
func (ki *keyIndex) tombstone(rev kv.Revision) {
	ki.push(rev)
	ki.created, ki.ver, ki.lease = 0, 0, 0
}

// clip trims the spare capacity appends left in hist (after recovery built it).
func (ki *keyIndex) clip() {
	if ki.hist != nil && cap(*ki.hist) > len(*ki.hist) {
		h := slices.Clone(*ki.hist)
		ki.hist = &h
	}
}

// at returns the revision of the key's version visible at main revision atRev.
func (ki *keyIndex) at(atRev int64) (kv.Revision, bool) {
	// Fast path: most reads are at the newest revision.
	if ki.last.Main <= atRev {
		return ki.last, !ki.empty() && ki.live()
	}
	if ki.hist == nil {
		return kv.Revision{}, false
	}
	h := *ki.hist
	i := sort.Search(len(h), func(i int) bool { return h[i].rev.Main > atRev }) - 1
	if i < 0 || h[i].tomb {
		return kv.Revision{}, false
	}
	return h[i].rev, true
}

// compact drops the history that compaction at atRev makes unreachable: everything older than
// the newest entry at or below atRev, and that entry too if it is a tombstone. The surviving
// entry at or below atRev is added to keep, and so is a tombstone exactly at atRev, which the
// backend keeps for watchers (etcd's treeIndex.Compact returns both). It reports whether the
// key has no history left.
func (ki *keyIndex) compact(atRev int64, keep map[kv.Revision]struct{}) (empty bool) {
	if ki.empty() {
		return true
	}
	if ki.last.Main <= atRev {
		// The newest entry survives alone, unless it is a tombstone.
		ki.hist = nil
		if !ki.live() {
			if keep != nil && ki.last.Main == atRev {
				keep[ki.last] = struct{}{}
			}
			ki.last = kv.Revision{}
			return true
		}
		if keep != nil {
			keep[ki.last] = struct{}{}
		}
		return false
	}
	if ki.hist == nil {
		return false
	}
	h := *ki.hist
	i := sort.Search(len(h), func(i int) bool { return h[i].rev.Main > atRev }) - 1
	if i < 0 {
		return false
	}
	if h[i].tomb {
		if keep != nil && h[i].rev.Main == atRev {
			keep[h[i].rev] = struct{}{}
		}
		i++
	} else if keep != nil {
		keep[h[i].rev] = struct{}{}
	}
	switch i {
	case 0:
	case len(h):
		ki.hist = nil
	default:
		rest := slices.Clone(h[i:])
		ki.hist = &rest
	}
	return false
}

// kept adds to keep the entries at or below atRev that are versions, not tombstones: after
// compaction at atRev, the versions there the backend must keep.
func (ki *keyIndex) kept(atRev int64, keep map[kv.Revision]struct{}) {
	if ki.hist != nil {
		for _, e := range *ki.hist {
			if e.rev.Main > atRev {
				return
			}
			if !e.tomb {
				keep[e.rev] = struct{}{}
			}
		}
	}
	if !ki.empty() && ki.last.Main <= atRev && ki.live() {
		keep[ki.last] = struct{}{}
	}
}
