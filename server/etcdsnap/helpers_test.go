package etcdsnap

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"testing"

	bbolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/encoding/protowire"
)

// Buckets is a bbolt file's content: bucket → key → value.
type Buckets map[string]map[string][]byte

// BuildDB writes the buckets into a fresh bbolt file with bbolt itself (pageSize 0: the
// default) and returns the file's bytes, as etcd's backend leaves them on disk.
func BuildDB(t testing.TB, pageSize int, content Buckets) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(content))
	for n := range content {
		names = append(names, n)
	}
	sort.Strings(names)
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, n := range names {
			b, err := tx.CreateBucket([]byte(n))
			if err != nil {
				return err
			}
			for k, v := range content[n] {
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
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

// RevKey is etcd's key-bucket key for a revision.
func RevKey(main, sub int64, tombstone bool) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(main))
	b = append(b, '_')
	b = binary.BigEndian.AppendUint64(b, uint64(sub))
	if tombstone {
		b = append(b, 't')
	}
	return string(b)
}

// Etcd is an etcd db's content, built up record by record the way etcd writes it.
type Etcd struct {
	Buckets Buckets
	rev     int64
	live    map[string]*mvccpb.KeyValue
}

func NewEtcd() *Etcd {
	return &Etcd{Buckets: Buckets{"key": {}, "meta": {"storageVersion": []byte("3.6.0")}, "lease": {},
		"auth": {}, "authUsers": {}, "authRoles": {}, "cluster": {}, "members": {}, "alarm": {}},
		rev: 1, live: map[string]*mvccpb.KeyValue{}}
}

// Put writes keys in one revision (each a sub-revision) and returns the revision.
func (e *Etcd) Put(lease int64, kvs ...string) int64 {
	e.rev++
	for i := 0; i < len(kvs); i += 2 {
		k := kvs[i]
		kv := &mvccpb.KeyValue{Key: []byte(k), Value: []byte(kvs[i+1]), ModRevision: e.rev, Version: 1, CreateRevision: e.rev, Lease: lease}
		if old := e.live[k]; old != nil {
			kv.Version, kv.CreateRevision = old.Version+1, old.CreateRevision
		}
		e.live[k] = kv
		b, _ := kv.Marshal()
		e.Buckets["key"][RevKey(e.rev, int64(i/2), false)] = b
	}
	return e.rev
}

// Delete writes tombstones for keys in one revision and returns it.
func (e *Etcd) Delete(keys ...string) int64 {
	e.rev++
	for i, k := range keys {
		delete(e.live, k)
		b, _ := (&mvccpb.KeyValue{Key: []byte(k)}).Marshal()
		e.Buckets["key"][RevKey(e.rev, int64(i), true)] = b
	}
	return e.rev
}

// Compacted records a finished (and scheduled) compaction at rev, dropping nothing: callers
// drop what etcd would with Drop.
func (e *Etcd) Compacted(finished, scheduled int64) {
	if finished >= 0 {
		e.Buckets["meta"]["finishedCompactRev"] = []byte(RevKey(finished, 0, false))
	}
	if scheduled >= 0 {
		e.Buckets["meta"]["scheduledCompactRev"] = []byte(RevKey(scheduled, 0, false))
	}
}

// Drop removes the records at the given revisions (main, sub, tombstone).
func (e *Etcd) Drop(main, sub int64, tombstone bool) {
	delete(e.Buckets["key"], RevKey(main, sub, tombstone))
}

// Lease adds a lease record.
func (e *Etcd) Lease(id, ttl, remaining int64) {
	e.Buckets["lease"][string(binary.BigEndian.AppendUint64(nil, uint64(id)))] = LeaseValue(id, ttl, remaining)
}

// LeaseValue is a leasepb.Lease's encoding.
func LeaseValue(id, ttl, remaining int64) []byte {
	var b []byte
	for i, v := range []int64{id, ttl, remaining} {
		if v != 0 {
			b = protowire.AppendTag(b, protowire.Number(i+1), protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	return b
}

func (e *Etcd) User(u *authpb.User) {
	b, _ := u.Marshal()
	e.Buckets["authUsers"][string(u.Name)] = b
}

func (e *Etcd) Role(r *authpb.Role) {
	b, _ := r.Marshal()
	e.Buckets["authRoles"][string(r.Name)] = b
}

func (e *Etcd) Auth(enabled bool, rev uint64) {
	e.Buckets["auth"]["authEnabled"] = []byte{0}
	if enabled {
		e.Buckets["auth"]["authEnabled"] = []byte{1}
	}
	e.Buckets["auth"]["authRevision"] = binary.BigEndian.AppendUint64(nil, rev)
}
