package snapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/server/etcdsnap"
)

// etcdDB is a small etcd db file (bbolt, etcd's buckets) with n revisions of one key each.
func etcdDB(t *testing.T, n int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		keys, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket([]byte("meta")); err != nil {
			return err
		}
		for rev := int64(2); rev <= int64(n)+1; rev++ { // etcd's first write is revision 2
			k := make([]byte, 17)
			binary.BigEndian.PutUint64(k, uint64(rev))
			k[8] = '_'
			kv := mvccpb.KeyValue{Key: []byte{'k', byte(rev)}, Value: bytes.Repeat([]byte{'v'}, 1000), CreateRevision: rev, ModRevision: rev, Version: 1}
			v, err := kv.Marshal()
			if err != nil {
				return err
			}
			if err := keys.Put(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
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
