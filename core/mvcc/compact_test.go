package mvcc

import (
	"testing"

	"github.com/metastore/metastore/core/backend"
)

// TestBumpAndCompact: a restore's --bump-revision --mark-compacted raises the revision and
// compacts at it, and a reopened store keeps both.
func TestBumpAndCompact(t *testing.T) {
	b := backend.NewMemory()
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	tx := s.Write()
	tx.Put([]byte("a"), []byte("1"), 0) // revision 2
	tx.End()
	if err := s.BumpAndCompact(100); err != nil {
		t.Fatal(err)
	}
	if s.Rev() != 102 || s.CompactRev() != 102 {
		t.Fatalf("revision %d, compacted %d; want both 102", s.Rev(), s.CompactRev())
	}
	if err := s.BumpAndCompact(0); err == nil {
		t.Fatal("a bump of 0 was taken")
	}
	s.Close()
	if s, err = New(Config{Backend: b}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Rev() != 102 || s.CompactRev() != 102 {
		t.Fatalf("reopened: revision %d, compacted %d; want both 102", s.Rev(), s.CompactRev())
	}
	tx = s.Write()
	tx.Put([]byte("a"), []byte("2"), 0)
	tx.End()
	if s.Rev() != 103 {
		t.Fatalf("the next write is at revision %d, want 103", s.Rev())
	}
}
