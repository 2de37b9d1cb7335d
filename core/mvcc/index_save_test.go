package mvcc

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/metastore/metastore/core/backend"
)

// savedStore writes a history with several versions, deletes and a compaction (enough keys
// for several chunks), closes the store and saves its index.
func savedStore(t testing.TB) (*savingMemory, []recovKI) {
	t.Helper()
	b := &savingMemory{Memory: backend.NewMemory()}
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		w := s.Write()
		for i := 0; i < 5000; i++ {
			w.Put([]byte(fmt.Sprintf("key-%05d", i)), []byte("v"), int64(round))
		}
		w.End()
		w = s.Write()
		w.DeleteRange([]byte(fmt.Sprintf("key-%05d", round*100)), []byte(fmt.Sprintf("key-%05d", round*100+50)))
		w.End()
	}
	if err := s.Compact(s.Rev() - 2); err != nil {
		t.Fatal(err)
	}
	<-s.PhysicalDone(s.Rev() - 2)
	s.Close()
	want := recovIndex(s)
	if err := s.SaveIndex(); err != nil {
		t.Fatal(err)
	}
	if len(b.chunks) < 3 {
		t.Fatalf("saved %d chunks; want a header and several chunks", len(b.chunks))
	}
	return b, want
}

// A saved index that is damaged, incomplete or from another store state is not used: the
// index is rebuilt from the records, and comes out the same.
func TestSavedIndexIgnoredWhenBad(t *testing.T) {
	tests := []struct {
		name   string
		damage func(b *savingMemory)
	}{
		{"intact", func(*savingMemory) {}},
		{"bad magic", func(b *savingMemory) { b.chunks[0] = append([]byte("x"), b.chunks[0][1:]...) }},
		{"a chunk missing", func(b *savingMemory) { b.chunks = slices.Delete(b.chunks, 1, 2) }},
		{"last chunk missing", func(b *savingMemory) { b.chunks = b.chunks[:len(b.chunks)-1] }},
		{"truncated chunk", func(b *savingMemory) { b.chunks[1] = b.chunks[1][:len(b.chunks[1])/2] }},
		{"chunks swapped", func(b *savingMemory) { b.chunks[1], b.chunks[2] = b.chunks[2], b.chunks[1] }},
		{"header only", func(b *savingMemory) { b.chunks = b.chunks[:1] }},
		{"another compact revision", func(b *savingMemory) {
			r := reader{b: b.chunks[0][len(indexMagic):]}
			rev, compactRev, n := r.varint(), r.varint(), r.uvarint()
			h := binary.AppendVarint([]byte(indexMagic), rev)
			h = binary.AppendVarint(h, compactRev+1)
			b.chunks[0] = binary.AppendUvarint(h, n)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, want := savedStore(t)
			tt.damage(b)
			v, _ := b.Meta(metaCompactRev)
			probe := &Store{index: newIndex(), compactRev: int64(binary.BigEndian.Uint64(v))}
			if used := probe.loadIndex(b); used != (tt.name == "intact") {
				t.Fatalf("a %s saved index used: %v", tt.name, used)
			}
			b.loads = 0
			s, err := New(Config{Backend: b})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if b.loads != 1 {
				t.Fatalf("saved index read %d times", b.loads)
			}
			if got := recovIndex(s); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("index differs after loading a %s saved index", tt.name)
			}
		})
	}
}

// FuzzLoadIndex: whatever the saved chunks hold, loading them does not panic, and an index
// it rejects leaves nothing behind.
func FuzzLoadIndex(f *testing.F) {
	b, _ := savedStore(f)
	f.Add(b.chunks[0], b.chunks[1][:200])
	f.Add([]byte(indexMagic+"\x04\x02\x01"), []byte("\x01k\x04\x00\x04\x02\x00\x00"))
	f.Fuzz(func(t *testing.T, header, chunk []byte) {
		s := &Store{index: newIndex(), compactRev: 1}
		m := &savingMemory{Memory: backend.NewMemory(), chunks: [][]byte{header, chunk}}
		if !s.loadIndex(m) && s.index.Len() != 0 {
			t.Fatal("a rejected saved index left entries behind")
		}
	})
}
