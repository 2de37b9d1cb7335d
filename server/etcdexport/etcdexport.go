package etcdexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/authpb"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/lease"
	"github.com/metastore/metastore/server/etcdschema"
	"github.com/metastore/metastore/server/pebblekv"
)

// StorageVersion is the schema version the file declares (etcd 3.6's, which etcd 3.6 and
// etcdutl 3.6 read as "3.6.0").
const StorageVersion = "3.6.0"

// Info describes what was written.
type Info struct {
	// Revision is the store's current revision, which etcd starts at: the newest record's,
	// or the compacted revision if that is higher.
	Revision int64
	// CompactRevision is the compacted revision, -1 if the store was never compacted.
	CompactRevision int64
	// Records is the number of key revisions written (puts and tombstones), Keys the number
	// of live keys at Revision.
	Records, Keys        int
	Leases, Users, Roles int
	AuthEnabled          bool
	AuthRevision         uint64
	// Size is the file's size in bytes, its SHA-256 included.
	Size int64
}

// WriteFile writes the state a core snapshot holds (core.Store.WriteSnapshot's format; the
// payload of a MetaStore member's saved file, see snapfile.Parse) to path as an etcd 3.6 db
// file followed by its SHA-256. The snapshot is checked (its checksum, every record) before
// the db file is made; on any error path is left as it was and nothing else remains. An
// existing file at path is replaced, as `etcdctl snapshot save` replaces it.
//
// The state is restored into a scratch pebble database beside path (removed once the records
// are in the db file) and the records are written to the db in transactions of a bounded
// size, so that neither is ever whole in memory. The scratch database is made before the
// snapshot is checked; it is removed on any error.
func WriteFile(snapshot []byte, path string) (_ Info, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	db, drop, err := pebblekv.OpenScratch(dir, "."+base+".state-*")
	if err != nil {
		return Info{}, fmt.Errorf("etcdexport: %w", err)
	}
	var s *core.Store
	release := sync.OnceFunc(func() {
		if s != nil {
			s.Close()
		}
		drop()
	})
	defer release()
	// A fixed clock: leases keep their full TTL, and nothing depends on when this runs.
	s, err = core.Restore(bytes.NewReader(snapshot), core.Config{Backend: db, Clock: clock.NewManual(time.Unix(0, 0))})
	if err != nil {
		return Info{}, fmt.Errorf("etcdexport: read snapshot: %w", err)
	}
	var st *auth.State
	s.AuthView(func(a *auth.State) { st = a.Clone() })
	src := &source{records: db, compact: s.CompactRev(), leases: s.Lessor().Entries(), auth: st, release: release}
	info := Info{Revision: s.Rev(), CompactRevision: s.CompactRev(), Keys: s.MVCC().Keys(),
		Leases: len(src.leases), Users: len(st.Users), Roles: len(st.Roles), AuthEnabled: st.Enabled, AuthRevision: st.Revision}
	if info.Size, err = write(src, path); err != nil {
		return Info{}, err
	}
	info.Records = src.written
	return info, nil
}

// source is the state to write.
type source struct {
	records backend.Backend // every record, read with Ascend
	compact int64           // -1: never compacted
	leases  []lease.Entry
	auth    *auth.State
	written int // records written
	// release, if set, closes the records' database and removes it once they are written:
	// the copy out of the bbolt file then needs no disk for them.
	release func()
}

// write makes the file at path: a scratch bbolt db, copied out as etcd's Snapshot RPC copies
// its own, then the SHA-256, then a rename.
func write(src *source, path string) (size int64, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	scratch, err := os.CreateTemp(dir, "."+base+".bolt-*")
	if err != nil {
		return 0, fmt.Errorf("etcdexport: %w", err)
	}
	scratch.Close()
	defer os.Remove(scratch.Name())
	// The scratch file is thrown away: no fsync; the output is synced once, at the end.
	db, err := bbolt.Open(scratch.Name(), 0o600, &bbolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		return 0, fmt.Errorf("etcdexport: open %s: %w", scratch.Name(), err)
	}
	defer db.Close()
	if err := fill(db, src); err != nil {
		return 0, err
	}
	if src.release != nil {
		src.release()
	}

	part, err := os.CreateTemp(dir, base+".part-*")
	if err != nil {
		return 0, fmt.Errorf("etcdexport: %w", err)
	}
	defer func() {
		if err != nil {
			part.Close()
			os.Remove(part.Name())
		}
	}()
	h := sha256.New()
	err = db.View(func(tx *bbolt.Tx) error {
		size, err = tx.WriteTo(io.MultiWriter(part, h))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("etcdexport: copy the db to %s: %w", part.Name(), err)
	}
	// etcdctl's rule: a file whose size is 32 past a multiple of 512 ends with its hash. A
	// bbolt file is a whole number of pages, so its size is a multiple of 512.
	if size%512 != 0 {
		return 0, fmt.Errorf("etcdexport: db of %d bytes, not a multiple of 512", size)
	}
	if _, err = part.Write(h.Sum(nil)); err != nil {
		return 0, fmt.Errorf("etcdexport: write %s: %w", part.Name(), err)
	}
	if err = part.Sync(); err != nil {
		return 0, fmt.Errorf("etcdexport: sync %s: %w", part.Name(), err)
	}
	if err = part.Close(); err != nil {
		return 0, fmt.Errorf("etcdexport: close %s: %w", part.Name(), err)
	}
	if err = os.Rename(part.Name(), path); err != nil {
		return 0, fmt.Errorf("etcdexport: %w", err)
	}
	syncDir(dir)
	return size + sha256.Size, nil
}

// syncDir makes a rename in dir durable, where the platform allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// txBytes bounds the record bytes one bbolt transaction writes: bbolt holds a transaction's
// pages in memory until it commits. (etcd commits its backend every 100 ms the same way.)
// A variable for the tests.
var txBytes = 32 << 20

// fill writes the state into the buckets of a fresh db: the records in transactions of about
// txBytes, in revision order, the rest in the last.
func fill(db *bbolt.DB, src *source) error {
	err := db.Update(func(tx *bbolt.Tx) error {
		for _, name := range etcdschema.AllBuckets {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return fmt.Errorf("etcdexport: create bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	live := compacted(src.records, src.compact)
	for from := int64(0); ; {
		var next int64 // the revision the next transaction starts at; 0: done
		err := db.Update(func(tx *bbolt.Tx) error {
			b := tx.Bucket([]byte(etcdschema.BucketKey))
			// Revisions ascend: pages fill as etcd's sequential puts fill them.
			b.FillPercent = 0.9
			var err error
			n, last := 0, int64(-1)
			src.records.Ascend(from, 0, func(r *backend.Record) bool {
				if n >= txBytes && r.Rev.Main != last {
					// Only between revisions: the next transaction starts at a main
					// revision, and must not write this one's records again.
					next = r.Rev.Main
					return false
				}
				last = r.Rev.Main
				if r.Rev.Main <= src.compact && !live(r) {
					return true
				}
				var v []byte
				if v, err = recordValue(r); err != nil {
					return false
				}
				k := etcdschema.RevKey(r.Rev, r.Tombstone)
				if err = b.Put(k, v); err != nil {
					err = fmt.Errorf("etcdexport: bucket %s, key %q: %w", etcdschema.BucketKey, k, err)
					return false
				}
				src.written++
				n += len(k) + len(v)
				return true
			})
			return err
		})
		if err != nil {
			return err
		}
		if next == 0 {
			break
		}
		from = next
	}
	return db.Update(func(tx *bbolt.Tx) error { return fillRest(tx, src) })
}

// fillRest writes the metadata, the leases and the auth store.
func fillRest(tx *bbolt.Tx, src *source) error {
	put := func(bucket string, k, v []byte) error {
		if err := tx.Bucket([]byte(bucket)).Put(k, v); err != nil {
			return fmt.Errorf("etcdexport: bucket %s, key %q: %w", bucket, k, err)
		}
		return nil
	}

	meta := [][2][]byte{
		{[]byte(etcdschema.MetaStorageVersion), []byte(StorageVersion)},
		{[]byte(etcdschema.MetaConsistentIndex), binary.BigEndian.AppendUint64(nil, 0)},
		{[]byte(etcdschema.MetaTerm), binary.BigEndian.AppendUint64(nil, 0)},
	}
	if src.compact >= 0 {
		// etcd records a compaction as scheduled, then as finished once the records are gone.
		c := etcdschema.RevKey(kv.Revision{Main: src.compact}, false)
		meta = append(meta, [2][]byte{[]byte(etcdschema.MetaScheduledCompactRev), c}, [2][]byte{[]byte(etcdschema.MetaFinishedCompactRev), c})
	}
	for _, m := range meta {
		if err := put(etcdschema.BucketMeta, m[0], m[1]); err != nil {
			return err
		}
	}

	for _, e := range src.leases {
		if err := put(etcdschema.BucketLease, binary.BigEndian.AppendUint64(nil, uint64(e.ID)), leaseValue(e)); err != nil {
			return err
		}
	}

	enabled := []byte{0}
	if src.auth.Enabled {
		enabled = []byte{1}
	}
	if err := put(etcdschema.BucketAuth, []byte(etcdschema.AuthEnabled), enabled); err != nil {
		return err
	}
	if err := put(etcdschema.BucketAuth, []byte(etcdschema.AuthRevision), binary.BigEndian.AppendUint64(nil, src.auth.Revision)); err != nil {
		return err
	}
	for _, name := range sortedKeys(src.auth.Users) {
		v, err := userValue(src.auth.Users[name])
		if err != nil {
			return err
		}
		if err := put(etcdschema.BucketAuthUsers, []byte(name), v); err != nil {
			return err
		}
	}
	for _, name := range sortedKeys(src.auth.Roles) {
		v, err := roleValue(src.auth.Roles[name])
		if err != nil {
			return err
		}
		if err := put(etcdschema.BucketAuthRoles, []byte(name), v); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// compacted returns which records at or below the compacted revision a finished compaction
// leaves (etcd's rule, kvstore_compaction.go): for each key its newest record there, if that
// is a put, or a delete exactly at the compacted revision (etcd 3.6 keeps it for watchers
// starting there). The store keeps the same, but deletes the rest in the background: its
// snapshots leave out what is still to delete, and so does the export, whatever snapshot it
// is given (an older one, or the store restored here resuming the deletes meanwhile).
func compacted(records backend.Backend, compact int64) func(*backend.Record) bool {
	newest := map[string]kv.Revision{}
	if compact >= 0 {
		records.Ascend(0, compact+1, func(r *backend.Record) bool {
			newest[string(r.KV.Key)] = r.Rev
			return true
		})
	}
	return func(r *backend.Record) bool {
		return newest[string(r.KV.Key)] == r.Rev && (!r.Tombstone || r.Rev.Main == compact)
	}
}

// recordValue is the mvccpb.KeyValue etcd stores for a record: the whole version for a put,
// the key alone for a delete.
func recordValue(r *backend.Record) ([]byte, error) {
	if !r.Tombstone && r.KV.ModRevision != r.Rev.Main {
		return nil, fmt.Errorf("etcdexport: record %v: mod revision %d", r.Rev, r.KV.ModRevision)
	}
	return backend.AppendEtcdValue(nil, r), nil
}

// leaseValue encodes a leasepb.Lease {ID int64 = 1, TTL int64 = 2, RemainingTTL int64 = 3}
// as gogo's marshaller does (fields in order, zeros left out). leasepb lives in etcd's server
// module, which the product does not import. RemainingTTL is the checkpointed remaining TTL,
// which etcd persists only for a checkpointed lease.
func leaseValue(e lease.Entry) []byte {
	var b []byte
	for i, v := range []int64{e.ID, e.TTL, e.Checkpoint} {
		if v != 0 {
			b = protowire.AppendTag(b, protowire.Number(i+1), protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	return b
}

// userValue is the authpb.User etcd stores. Users added through etcd's API carry their
// options (clientv3 always sends them), so the options are always written.
func userValue(u *auth.User) ([]byte, error) {
	pu := authpb.User{Name: []byte(u.Name), Roles: slices.Clone(u.Roles), Options: &authpb.UserAddOptions{NoPassword: u.NoPassword}}
	if !u.NoPassword {
		pu.Password = u.Password
	}
	v, err := pu.Marshal()
	if err != nil {
		return nil, fmt.Errorf("etcdexport: user %q: %w", u.Name, err)
	}
	return v, nil
}

// roleValue is the authpb.Role etcd stores.
func roleValue(r *auth.Role) ([]byte, error) {
	pr := authpb.Role{Name: []byte(r.Name)}
	for _, p := range r.Perms {
		if p.Type < auth.Read || p.Type > auth.ReadWrite {
			return nil, fmt.Errorf("etcdexport: role %q: permission type %d", r.Name, p.Type)
		}
		pr.KeyPermission = append(pr.KeyPermission, &authpb.Permission{PermType: authpb.Permission_Type(p.Type), Key: p.Key, RangeEnd: p.RangeEnd})
	}
	v, err := pr.Marshal()
	if err != nil {
		return nil, fmt.Errorf("etcdexport: role %q: %w", r.Name, err)
	}
	return v, nil
}
