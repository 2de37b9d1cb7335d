package snapfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/server/etcdexport"
	"github.com/metastore/metastore/server/etcdsnap"
)

// etcdDB is a small etcd db file without its hash (a member's db), as etcdexport writes it
// from a store with n puts of 1000-byte values.
func etcdDB(t *testing.T, n int) []byte {
	t.Helper()
	s, err := core.New(core.Config{Backend: backend.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		if _, err := s.Put(&core.PutRequest{Key: []byte{'k', byte(i)}, Value: bytes.Repeat([]byte{'v'}, 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	var snap bytes.Buffer
	if err := s.WriteSnapshot(&snap); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "db")
	if _, err := etcdexport.WriteFile(snap.Bytes(), path); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return saved[:len(saved)-32]
}

// TestSourceStore: a MetaStore file is restored as it is, an etcd db converted into the
// backend given (the same state as Convert's snapshot); a file that is neither is refused by
// Open saying so, an etcd db the converter refuses by Store.
func TestSourceStore(t *testing.T) {
	snap := coreSnapshot(t)
	src, err := Open(saved(t, snap), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshotOf(t, src); !bytes.Equal(got, snap) || src.Etcd != nil {
		t.Fatalf("MetaStore file: the same snapshot %v, etcd info %+v", bytes.Equal(got, snap), src.Etcd)
	}

	db := etcdDB(t, 200)
	var want bytes.Buffer
	wantInfo, err := etcdsnap.Convert(db, &want)
	if err != nil {
		t.Fatal(err)
	}
	if src, err = Open(db, true); err != nil {
		t.Fatal(err)
	}
	if got := snapshotOf(t, src); !bytes.Equal(got, want.Bytes()) || src.Etcd == nil || *src.Etcd != wantInfo {
		t.Fatalf("etcd db: the same snapshot as Convert's %v, info %+v (want %+v)", bytes.Equal(got, want.Bytes()), src.Etcd, wantInfo)
	}
	if _, err := Open(db, false); err == nil {
		t.Fatal("a db without its hash opened without skipping the check")
	}

	if _, err := Open(bytes.Repeat([]byte{1}, 512), true); err == nil || !strings.Contains(err.Error(), "nor an etcd db") {
		t.Fatalf("neither: %v", err)
	}
	// A bbolt-looking header is not enough: the file must be etcd's.
	for name, bad := range map[string][]byte{
		"a bbolt header alone": append(append(make([]byte, 16), 0xed, 0xda, 0x0c, 0xed, 2, 0, 0, 0), make([]byte, 8168)...),
		"a db's pages gone":    append(bytes.Clone(db[:4096]), make([]byte, len(db)-4096)...),
	} {
		src, err := Open(bad, true)
		if err != nil {
			t.Fatalf("%s: Open: %v", name, err)
		}
		if _, err := src.Store(core.Config{Backend: backend.NewMemory()}); err == nil {
			t.Fatalf("%s: stored", name)
		}
	}
}

// snapshotOf stores src in memory and returns the store's snapshot.
func snapshotOf(t *testing.T, src *Source) []byte {
	t.Helper()
	s, err := src.Store(core.Config{Backend: backend.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var b bytes.Buffer
	if err := s.WriteSnapshot(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestMap: a mapped file reads as the file; an empty one maps to nothing.
func TestMap(t *testing.T) {
	dir := t.TempDir()
	for _, content := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("snap"), 5000)} {
		path := filepath.Join(dir, "f")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		data, release, err := Map(path)
		if err != nil || !bytes.Equal(data, content) {
			t.Fatalf("%d bytes: %v (same bytes: %v)", len(content), err, bytes.Equal(data, content))
		}
		release()
	}
	if _, _, err := Map(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}
