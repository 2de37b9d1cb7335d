package mvcc

import (
	"testing"

	"github.com/metastore/metastore/core/kv"
)

func rev(m, s int64) kv.Revision { return kv.Revision{Main: m, Sub: s} }

// history builds the key index of the keyIndex doc comment: put@2, put@5, del@7, put@9.
func history() *keyIndex {
	ki := &keyIndex{key: []byte("k")}
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
	}{
		{1, []kv.Revision{rev(2, 0), rev(5, 0), rev(7, 0), rev(9, 1)}, nil, false},
		{2, []kv.Revision{rev(2, 0), rev(5, 0), rev(7, 0), rev(9, 1)}, []kv.Revision{rev(2, 0)}, false},
		{6, []kv.Revision{rev(5, 0), rev(7, 0), rev(9, 1)}, []kv.Revision{rev(5, 0)}, false},
		// The tombstone at or below the compact revision goes with everything before it.
		{7, []kv.Revision{rev(9, 1)}, nil, false},
		{8, []kv.Revision{rev(9, 1)}, nil, false},
		{9, []kv.Revision{rev(9, 1)}, []kv.Revision{rev(9, 1)}, false},
	}
	for _, tt := range tests {
		ki := history()
		keep := map[kv.Revision]struct{}{}
		empty := ki.compact(tt.at, keep)
		if empty != tt.wempty {
			t.Errorf("compact(%d) empty = %v", tt.at, empty)
		}
		if len(ki.revs) != len(tt.wrevs) {
			t.Fatalf("compact(%d): revs %v, want %v", tt.at, ki.revs, tt.wrevs)
		}
		for i, e := range ki.revs {
			if e.rev != tt.wrevs[i] {
				t.Fatalf("compact(%d): revs %v, want %v", tt.at, ki.revs, tt.wrevs)
			}
		}
		if len(keep) != len(tt.wkeep) {
			t.Fatalf("compact(%d): keep %v, want %v", tt.at, keep, tt.wkeep)
		}
		for _, r := range tt.wkeep {
			if _, ok := keep[r]; !ok {
				t.Fatalf("compact(%d): keep %v, want %v", tt.at, keep, tt.wkeep)
			}
		}
	}
	// A key whose last change is a tombstone at or below the compact revision disappears.
	ki := &keyIndex{key: []byte("k")}
	ki.put(rev(2, 0), 0)
	ki.tombstone(rev(3, 0))
	if !ki.compact(3, nil) {
		t.Fatal("deleted key not empty after compaction past its tombstone")
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
