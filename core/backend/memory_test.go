package backend

import (
	"reflect"
	"testing"

	"github.com/metastore/metastore/core/kv"
)

func rec(main, sub int64, key string) Record {
	return Record{Rev: kv.Revision{Main: main, Sub: sub}, KV: kv.KeyValue{Key: []byte(key), ModRevision: main}}
}

func revsOf(m *Memory, from, to int64) []kv.Revision {
	var out []kv.Revision
	m.Ascend(from, to, func(r *Record) bool {
		out = append(out, r.Rev)
		return true
	})
	return out
}

func filled(t *testing.T) *Memory {
	t.Helper()
	m := NewMemory()
	b := &Batch{Puts: []Record{rec(2, 0, "a"), rec(3, 0, "b"), rec(3, 1, "c"), rec(4, 0, "a"), rec(6, 0, "d")}}
	if err := m.Commit(b); err != nil {
		t.Fatal(err)
	}
	return m
}

func r(main, sub int64) kv.Revision { return kv.Revision{Main: main, Sub: sub} }

func TestMemoryGet(t *testing.T) {
	m := filled(t)
	tests := []struct {
		rev  kv.Revision
		wok  bool
		wkey string
	}{
		{r(2, 0), true, "a"},
		{r(3, 0), true, "b"},
		{r(3, 1), true, "c"},
		{r(4, 0), true, "a"},
		{r(6, 0), true, "d"},
		{r(1, 0), false, ""},
		{r(3, 2), false, ""},
		{r(5, 0), false, ""},
		{r(7, 0), false, ""},
	}
	for _, tt := range tests {
		got, ok := m.Get(tt.rev)
		if ok != tt.wok {
			t.Errorf("Get(%v) ok = %v, want %v", tt.rev, ok, tt.wok)
			continue
		}
		if ok && (string(got.KV.Key) != tt.wkey || got.Rev != tt.rev) {
			t.Errorf("Get(%v) = %v %q, want key %q", tt.rev, got.Rev, got.KV.Key, tt.wkey)
		}
	}
	if m.Len() != 5 {
		t.Fatalf("Len() = %d, want 5", m.Len())
	}
}

func TestMemoryAscendBounds(t *testing.T) {
	m := filled(t)
	all := []kv.Revision{r(2, 0), r(3, 0), r(3, 1), r(4, 0), r(6, 0)}
	tests := []struct {
		from, to int64
		wrevs    []kv.Revision
	}{
		{0, 0, all},
		{0, -1, all},
		{2, 0, all},
		{3, 0, all[1:]},
		{3, 4, all[1:3]},
		{3, 5, all[1:4]},
		{5, 6, nil},
		{5, 7, all[4:]},
		{7, 0, nil},
		{4, 4, nil},
		{4, 3, nil},
		{0, 3, all[:1]},
	}
	for _, tt := range tests {
		if got := revsOf(m, tt.from, tt.to); !reflect.DeepEqual(got, tt.wrevs) {
			t.Errorf("Ascend(%d, %d) = %v, want %v", tt.from, tt.to, got, tt.wrevs)
		}
	}
}

func TestMemoryAscendStops(t *testing.T) {
	m := filled(t)
	var n int
	m.Ascend(0, 0, func(*Record) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("fn called %d times after returning false, want 2", n)
	}
}

func TestMemoryCommitDeletesAndReplaces(t *testing.T) {
	m := filled(t)
	b := &Batch{
		Puts:    []Record{rec(7, 0, "e"), rec(2, 0, "a2")}, // replaces 2.0
		Deletes: []kv.Revision{r(3, 0), r(3, 1), r(9, 9)},  // a missing revision is ignored
	}
	if err := m.Commit(b); err != nil {
		t.Fatal(err)
	}
	if got, w := revsOf(m, 0, 0), []kv.Revision{r(2, 0), r(4, 0), r(6, 0), r(7, 0)}; !reflect.DeepEqual(got, w) {
		t.Fatalf("after commit: %v, want %v", got, w)
	}
	if got, _ := m.Get(r(2, 0)); string(got.KV.Key) != "a2" {
		t.Fatalf("2.0 holds %q, want a2", got.KV.Key)
	}
	// Deletes are applied after puts: a put and a delete of one revision in one batch
	// leaves nothing.
	if err := m.Commit(&Batch{Puts: []Record{rec(8, 0, "f")}, Deletes: []kv.Revision{r(8, 0)}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get(r(8, 0)); ok {
		t.Fatal("revision put and deleted in one batch survived")
	}
}

func TestMemoryCommitCopiesBatch(t *testing.T) {
	m := NewMemory()
	b := &Batch{Puts: []Record{rec(2, 0, "a")}, Meta: []MetaEntry{{Key: "k", Value: []byte("v1")}}}
	if err := m.Commit(b); err != nil {
		t.Fatal(err)
	}
	// The caller reuses the batch and its buffers.
	b.Puts[0] = rec(99, 0, "zzz")
	b.Meta[0].Value[0] = 'X'
	b.Reset()
	if got, ok := m.Get(r(2, 0)); !ok || string(got.KV.Key) != "a" {
		t.Fatalf("stored record changed with the batch: %v %v", got, ok)
	}
	if v, _ := m.Meta("k"); string(v) != "v1" {
		t.Fatalf("stored meta changed with the batch: %q", v)
	}
}

func TestMemoryMeta(t *testing.T) {
	m := NewMemory()
	steps := []struct {
		set    []MetaEntry
		key    string
		wvalue string
		wok    bool
	}{
		{nil, "x", "", false},
		{[]MetaEntry{{"x", []byte("1")}}, "x", "1", true},
		{[]MetaEntry{{"x", []byte("2")}, {"y", []byte("3")}}, "x", "2", true},
		{nil, "y", "3", true},
		{[]MetaEntry{{"x", []byte{}}}, "x", "", true}, // empty but non-nil is a value
		{[]MetaEntry{{"x", nil}}, "x", "", false},     // nil removes
		{nil, "y", "3", true},
		{[]MetaEntry{{"y", []byte("4")}, {"y", nil}}, "y", "", false}, // in order
	}
	for i, st := range steps {
		if st.set != nil {
			if err := m.Commit(&Batch{Meta: st.set}); err != nil {
				t.Fatal(err)
			}
		}
		v, ok := m.Meta(st.key)
		if ok != st.wok || string(v) != st.wvalue {
			t.Fatalf("step %d: Meta(%q) = %q, %v; want %q, %v", i, st.key, v, ok, st.wvalue, st.wok)
		}
	}
	if m.Len() != 0 {
		t.Fatalf("meta counted as records: Len() = %d", m.Len())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBatchResetEmpty(t *testing.T) {
	var b Batch
	if !b.Empty() {
		t.Fatal("zero batch not empty")
	}
	for _, fill := range []func(*Batch){
		func(b *Batch) { b.Puts = append(b.Puts, rec(2, 0, "a")) },
		func(b *Batch) { b.Deletes = append(b.Deletes, r(2, 0)) },
		func(b *Batch) { b.Meta = append(b.Meta, MetaEntry{Key: "k"}) },
	} {
		fill(&b)
		if b.Empty() {
			t.Fatal("filled batch reports empty")
		}
		b.Reset()
		if !b.Empty() {
			t.Fatal("reset batch not empty")
		}
	}
	b.Puts = append(b.Puts, rec(2, 0, "a"))
	p := &b.Puts[:1][0]
	b.Reset()
	if p.KV.Key != nil {
		t.Fatal("Reset kept a reference to the old record's key")
	}
}
