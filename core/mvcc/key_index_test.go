package mvcc

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/metastore/metastore/core/kv"
)

func rev(m, s int64) kv.Revision { return kv.Revision{Main: m, Sub: s} }

// history builds the key index of the keyIndex doc comment: put@2, put@5, del@7, put@9.
func history() *keyIndex {
	ki := &keyIndex{key: "k"}
	ki.put(rev(2, 0), 0)
	ki.put(rev(5, 0), 0)
	ki.tombstone(rev(7, 0))
	ki.put(rev(9, 1), 3)
	return ki
}

func TestKeyIndexAt(t *testing.T) {
	ki := history()
	tests := []struct {
		at   int64
		wrev kv.Revision
		wok  bool
	}{
		{1, kv.Revision{}, false},
		{2, rev(2, 0), true},
		{4, rev(2, 0), true},
		{5, rev(5, 0), true},
		{6, rev(5, 0), true},
		{7, kv.Revision{}, false},
		{8, kv.Revision{}, false},
		{9, rev(9, 1), true},
		{100, rev(9, 1), true},
	}
	for _, tt := range tests {
		r, ok := ki.at(tt.at)
		if r != tt.wrev || ok != tt.wok {
			t.Errorf("at(%d) = %v %v, want %v %v", tt.at, r, ok, tt.wrev, tt.wok)
		}
	}
	if ki.created != 9 || ki.ver != 1 || ki.lease != 3 || !ki.live() {
		t.Fatalf("live generation: created %d ver %d lease %d", ki.created, ki.ver, ki.lease)
	}
}

func TestKeyIndexCompact(t *testing.T) {
	tests := []struct {
		at     int64
		wrevs  []kv.Revision
		wkeep  []kv.Revision
		wempty bool
		wtomb  bool // keep also holds the tombstone at the compact revision (etcd's Compact returns it)
	}{
		{1, []kv.Revision{rev(2, 0), rev(5, 0), rev(7, 0), rev(9, 1)}, nil, false, false},
		{2, []kv.Revision{rev(2, 0), rev(5, 0), rev(7, 0), rev(9, 1)}, []kv.Revision{rev(2, 0)}, false, false},
		{6, []kv.Revision{rev(5, 0), rev(7, 0), rev(9, 1)}, []kv.Revision{rev(5, 0)}, false, false},
		// The tombstone at or below the compact revision goes with everything before it.
		{7, []kv.Revision{rev(9, 1)}, nil, false, true},
		{8, []kv.Revision{rev(9, 1)}, nil, false, false},
		{9, []kv.Revision{rev(9, 1)}, []kv.Revision{rev(9, 1)}, false, false},
	}
	for _, tt := range tests {
		ki := history()
		keep := map[kv.Revision]struct{}{}
		empty := ki.compact(tt.at, keep)
		if empty != tt.wempty {
			t.Errorf("compact(%d) empty = %v", tt.at, empty)
		}
		got := ki.entries()
		if len(got) != len(tt.wrevs) {
			t.Fatalf("compact(%d): revs %v, want %v", tt.at, got, tt.wrevs)
		}
		for i, e := range got {
			if e.rev != tt.wrevs[i] || e.tomb != (e.rev == rev(7, 0)) {
				t.Fatalf("compact(%d): revs %v, want %v (7 a tombstone)", tt.at, got, tt.wrevs)
			}
		}
		// What compaction keeps is what kept reports afterwards.
		kept := map[kv.Revision]struct{}{}
		ki.kept(tt.at, kept)
		if len(kept) != len(tt.wkeep) {
			t.Fatalf("compact(%d): kept %v after, keep %v", tt.at, kept, tt.wkeep)
		}
		wkeep := tt.wkeep
		if tt.wtomb {
			wkeep = append(slices.Clone(wkeep), rev(tt.at, 0))
		}
		if len(keep) != len(wkeep) {
			t.Fatalf("compact(%d): keep %v, want %v", tt.at, keep, wkeep)
		}
		for _, r := range wkeep {
			if _, ok := keep[r]; !ok {
				t.Fatalf("compact(%d): keep %v, want %v", tt.at, keep, wkeep)
			}
		}
	}
	// A key whose last change is a tombstone at or below the compact revision disappears.
	ki := &keyIndex{key: "k"}
	ki.put(rev(2, 0), 0)
	ki.tombstone(rev(3, 0))
	keep := map[kv.Revision]struct{}{}
	if !ki.compact(3, keep) {
		t.Fatal("deleted key not empty after compaction past its tombstone")
	}
	if _, ok := keep[rev(3, 0)]; !ok || len(keep) != 1 {
		t.Fatalf("compact(3) at the key's tombstone: keep %v, want the tombstone", keep)
	}
}

func TestKeyIndexOutOfOrderPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("appending an older revision did not panic")
		}
	}()
	ki := history()
	ki.put(rev(9, 0), 0)
}

// Undoing changes newest first (a transaction's Abort) gives back each earlier history,
// tombstone flags included.
func TestKeyIndexPop(t *testing.T) {
	type state struct {
		created, ver, lease int64
	}
	ki := &keyIndex{key: "k"}
	var (
		hist   [][]revEntry
		states []state
	)
	step := func(f func()) {
		hist = append(hist, ki.entries())
		states = append(states, state{ki.created, ki.ver, ki.lease})
		f()
	}
	step(func() { ki.put(rev(2, 0), 0) })
	step(func() { ki.put(rev(5, 0), 4) })
	step(func() { ki.tombstone(rev(7, 0)) })
	step(func() { ki.put(rev(9, 1), 3) })
	step(func() { ki.tombstone(rev(10, 0)) })
	for i := len(hist) - 1; i >= 0; i-- {
		ki.pop()
		ki.created, ki.ver, ki.lease = states[i].created, states[i].ver, states[i].lease
		if got := ki.entries(); !slices.Equal(got, hist[i]) {
			t.Fatalf("after undoing step %d: %v, want %v", i, got, hist[i])
		}
	}
	if !ki.empty() || ki.hist != nil {
		t.Fatalf("undoing everything left %+v", ki)
	}
}

// The entry's size is what the memory figures in docs/benchmarks.md assume: a size class of
// its own, 64 bytes.
func TestKeyIndexSize(t *testing.T) {
	if n := unsafe.Sizeof(keyIndex{}); n != 64 {
		t.Fatalf("keyIndex is %d bytes", n)
	}
}
