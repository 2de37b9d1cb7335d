// Package etcdsnap reads the state of an etcd 3.x member from its bbolt db file (what
// `etcdctl snapshot save` writes from etcd, or member/snap/db copied from a data dir) and
// writes it as a MetaStore core snapshot (core.Restore reads it), so that a cluster moves
// from etcd to MetaStore with `metastore snapshot restore`.
//
// Taken: every key with its history since the compaction (values, create and mod
// revisions, versions, leases, tombstones), the compacted revision (a compaction the file
// was in the middle of is completed, as etcd completes it on start), the current revision,
// the leases (with a fresh TTL, as etcd grants on restore, and a checkpointed remaining TTL if
// the source kept one), the users (bcrypt hashes as they are, the no-password option, roles),
// the roles and their permissions, the auth enabled flag and the auth revision. Not taken:
// the cluster (members, the consistent index, term and conf state) — the restore makes a new
// cluster, as etcdutl's does — and alarms.
//
// The file's structure is read by this package itself (bolt.go), not by bbolt, so that a
// damaged file is an error rather than a crash; etcd's records are decoded with etcd's API
// messages (mvccpb, authpb) and, for leases, by hand (leasepb lives in etcd's server module,
// which the product does not import). The state is built by the core: the records go into a
// backend as they are read (ConvertInto: the new member's own, so that the state is never
// whole in memory; Convert: one in memory), a store is opened over it, the leases and the
// auth store are applied through its API, and (Convert) the store writes its snapshot.
package etcdsnap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/lease"
	"github.com/metastore/metastore/server/etcdschema"
)

// ErrNotEtcd is returned for a file that is not a bbolt file, or a bbolt file without etcd's
// key bucket.
var ErrNotEtcd = errors.New("etcdsnap: not an etcd db file")

// Info describes what a file held.
type Info struct {
	// Revision is the current revision: the newest record's, or the compacted revision if
	// that is higher (etcd's rule on start).
	Revision int64
	// CompactRevision is the compacted revision, -1 if the store was never compacted.
	CompactRevision int64
	// Records is the number of key revisions (puts and tombstones) the file holds; those an
	// interrupted compaction left are dropped on the way.
	Records int
	// Keys is the number of live keys at Revision.
	Keys int
	// Leases, Users and Roles count what was taken.
	Leases, Users, Roles int
	AuthEnabled          bool
	AuthRevision         uint64
	// StorageVersion is the schema version the file declares ("3.6.0"), "3.5.0" for a file
	// with a term but no version (etcd's rule), else empty.
	StorageVersion string
}

// Convert reads an etcd db file (without the SHA-256 `etcdctl snapshot save` appends) and
// writes its state to w as a core snapshot. Nothing is written when the file is refused.
func Convert(db []byte, w io.Writer) (Info, error) {
	s, info, err := ConvertInto(db, backend.NewMemory())
	if err != nil {
		return Info{}, err
	}
	defer s.Close()
	return info, s.WriteSnapshot(w)
}

// ConvertInto reads an etcd db file (as Convert) into b, the empty backend of a new store,
// and returns the store opened over it. The records are committed as they are read, a batch
// at a time. On an error b holds part of the state: the caller discards it.
func ConvertInto(db []byte, b backend.Backend) (*core.Store, Info, error) {
	st, err := read(db, b)
	if err != nil {
		return nil, Info{}, err
	}
	return st.store()
}

// recordBatch is how many records read commits at a time.
const recordBatch = 4096

// state is what read takes from the file.
type state struct {
	b         backend.Backend // the records go there
	batch     backend.Batch   // records read, not yet committed
	records   int             // records read
	last      kv.Revision     // the newest record's revision
	finished  int64           // finishedCompactRev, -1 if absent
	scheduled int64           // scheduledCompactRev, -1 if absent
	leases    []leaseEntry
	auth      *auth.State
	version   string
}

type leaseEntry struct{ id, ttl, remaining int64 }

// read decodes the buckets etcd's state lives in, checking every record, and commits the
// records into b.
func read(db []byte, b backend.Backend) (*state, error) {
	if !IsBolt(db) {
		return nil, ErrNotEtcd
	}
	bt, err := openBolt(db)
	if err != nil {
		return nil, err
	}
	buckets, err := bt.buckets()
	if err != nil {
		return nil, err
	}
	if buckets[etcdschema.BucketKey] == nil || buckets[etcdschema.BucketMeta] == nil {
		return nil, fmt.Errorf("%w: no %q or %q bucket", ErrNotEtcd, etcdschema.BucketKey, etcdschema.BucketMeta)
	}
	st := &state{b: b, finished: -1, scheduled: -1, auth: auth.New()}
	if err := bt.forEach(buckets[etcdschema.BucketKey], st.addRecord); err != nil {
		return nil, err
	}
	if err := st.commit(); err != nil {
		return nil, err
	}
	err = bt.forEach(buckets[etcdschema.BucketMeta], func(k, v []byte) error {
		switch string(k) {
		case etcdschema.MetaFinishedCompactRev, etcdschema.MetaScheduledCompactRev:
			// A revision's bucket key (etcd's RevToBytes): its main revision first.
			if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) < 0 {
				return fmt.Errorf("etcdsnap: meta %s: bad revision %x", k, v)
			}
			if string(k) == etcdschema.MetaFinishedCompactRev {
				st.finished = int64(binary.BigEndian.Uint64(v))
			} else {
				st.scheduled = int64(binary.BigEndian.Uint64(v))
			}
		case etcdschema.MetaStorageVersion:
			st.version = string(v)
		case etcdschema.MetaTerm:
			if st.version == "" && len(v) == 8 && binary.BigEndian.Uint64(v) != 0 {
				st.version = "3.5.0"
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h := buckets[etcdschema.BucketLease]; h != nil {
		if err := bt.forEach(h, st.addLease); err != nil {
			return nil, err
		}
	}
	if h := buckets[etcdschema.BucketAuth]; h != nil {
		err := bt.forEach(h, func(k, v []byte) error {
			switch string(k) {
			case etcdschema.AuthEnabled:
				st.auth.Enabled = bytes.Equal(v, []byte{1}) // etcd's test: anything else is off
			case etcdschema.AuthRevision:
				if len(v) != 8 {
					return fmt.Errorf("etcdsnap: auth revision of %d bytes", len(v))
				}
				st.auth.Revision = binary.BigEndian.Uint64(v)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// etcd starts a store whose auth revision is 0 (none recorded) at 1.
	st.auth.Revision = max(st.auth.Revision, 1)
	if h := buckets[etcdschema.BucketAuthUsers]; h != nil {
		if err := bt.forEach(h, st.addUser); err != nil {
			return nil, err
		}
	}
	if h := buckets[etcdschema.BucketAuthRoles]; h != nil {
		if err := bt.forEach(h, st.addRole); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// addRecord decodes one revision of the key bucket: the key is the revision (8-byte main,
// '_', 8-byte sub, then 't' for a tombstone), the value a mvccpb.KeyValue (only the key for a
// tombstone).
func (st *state) addRecord(k, v []byte) error {
	rev, tombstone, ok := etcdschema.ParseRevKey(k)
	if !ok {
		return fmt.Errorf("etcdsnap: key bucket: bad revision key %x", k)
	}
	if rev.Main < 2 || rev.Sub < 0 {
		return fmt.Errorf("etcdsnap: key bucket: revision %v out of range", rev)
	}
	if st.records > 0 && !st.last.Less(rev) {
		return fmt.Errorf("etcdsnap: key bucket: revision %v twice", rev)
	}
	var pkv mvccpb.KeyValue
	if err := pkv.Unmarshal(v); err != nil {
		return fmt.Errorf("etcdsnap: key bucket: revision %v: %w", rev, err)
	}
	if len(pkv.Key) == 0 {
		return fmt.Errorf("etcdsnap: key bucket: revision %v: empty key", rev)
	}
	r := backend.Record{Rev: rev, Tombstone: tombstone}
	if r.Tombstone {
		// The core's tombstone: the key and the delete's revision.
		r.KV = kv.KeyValue{Key: pkv.Key, ModRevision: rev.Main}
	} else {
		if pkv.ModRevision != rev.Main || pkv.Version < 1 || pkv.CreateRevision < 1 || pkv.CreateRevision > rev.Main {
			return fmt.Errorf("etcdsnap: key bucket: revision %v: bad key-value (mod %d, create %d, version %d)",
				rev, pkv.ModRevision, pkv.CreateRevision, pkv.Version)
		}
		r.KV = kv.KeyValue{Key: pkv.Key, Value: pkv.Value, CreateRevision: pkv.CreateRevision,
			ModRevision: pkv.ModRevision, Version: pkv.Version, Lease: pkv.Lease}
	}
	st.batch.Puts = append(st.batch.Puts, r)
	st.records++
	st.last = rev
	if len(st.batch.Puts) >= recordBatch {
		return st.commit()
	}
	return nil
}

// commit writes the records read since the last commit.
func (st *state) commit() error {
	if len(st.batch.Puts) == 0 {
		return nil
	}
	if err := st.b.Commit(&st.batch); err != nil {
		return fmt.Errorf("etcdsnap: write records: %w", err)
	}
	st.batch.Reset()
	return nil
}

// addLease decodes a leasepb.Lease {ID int64 = 1, TTL int64 = 2, RemainingTTL int64 = 3}.
func (st *state) addLease(k, v []byte) error {
	var e leaseEntry
	for b := v; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("etcdsnap: lease %x: %w", k, protowire.ParseError(n))
		}
		b = b[n:]
		var field *int64
		switch num {
		case 1:
			field = &e.id
		case 2:
			field = &e.ttl
		case 3:
			field = &e.remaining
		}
		if field != nil && typ == protowire.VarintType {
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("etcdsnap: lease %x: %w", k, protowire.ParseError(n))
			}
			*field = int64(x)
			b = b[n:]
			continue
		}
		if field != nil {
			return fmt.Errorf("etcdsnap: lease %x: field %d has wire type %d", k, num, typ)
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return fmt.Errorf("etcdsnap: lease %x: %w", k, protowire.ParseError(n))
		}
		b = b[n:]
	}
	if e.id == 0 {
		return fmt.Errorf("etcdsnap: lease %x: ID 0", k)
	}
	st.leases = append(st.leases, e)
	return nil
}

// addUser decodes an authpb.User (named by the record, as etcd reads it).
func (st *state) addUser(k, v []byte) error {
	var u authpb.User
	if err := u.Unmarshal(v); err != nil {
		return fmt.Errorf("etcdsnap: user %q: %w", k, err)
	}
	name := string(u.Name)
	if name == "" || st.auth.Users[name] != nil {
		return fmt.Errorf("etcdsnap: user %q: empty or duplicate name %q", k, u.Name)
	}
	mu := &auth.User{Name: name, Password: u.Password}
	if u.Options != nil && u.Options.NoPassword {
		mu.NoPassword, mu.Password = true, nil
	}
	// etcd keeps a user's roles sorted (it inserts each grant in place); the core relies on it.
	mu.Roles = slices.Compact(slices.Sorted(slices.Values(u.Roles)))
	st.auth.Users[name] = mu
	return nil
}

// addRole decodes an authpb.Role; its permissions keep etcd's order.
func (st *state) addRole(k, v []byte) error {
	var r authpb.Role
	if err := r.Unmarshal(v); err != nil {
		return fmt.Errorf("etcdsnap: role %q: %w", k, err)
	}
	name := string(r.Name)
	if name == "" || st.auth.Roles[name] != nil {
		return fmt.Errorf("etcdsnap: role %q: empty or duplicate name %q", k, r.Name)
	}
	mr := &auth.Role{Name: name}
	for _, p := range r.KeyPermission {
		if p == nil || p.PermType < authpb.READ || p.PermType > authpb.READWRITE {
			return fmt.Errorf("etcdsnap: role %q: bad permission %v", name, p)
		}
		mr.Perms = append(mr.Perms, auth.Permission{Type: auth.PermType(p.PermType), Key: p.Key, RangeEnd: p.RangeEnd})
	}
	st.auth.Roles[name] = mr
	return nil
}

// epoch is the clock the conversion runs on: fixed, so that every lease has its full TTL left
// and converting a file twice writes the same bytes.
var epoch = time.Unix(0, 0)

// store opens a core store over the records and applies the rest of the state.
func (st *state) store() (_ *core.Store, info Info, err error) {
	s, err := core.New(core.Config{Backend: st.b, Clock: clock.NewManual(epoch)})
	if err != nil {
		return nil, info, err
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	// etcd's compacted revision on start: the finished compaction's, or a scheduled one
	// past it, which etcd then completes. The core compacts physically too, so that what an
	// interrupted compaction left is dropped. A compacted revision above the newest record
	// (the newest revisions were tombstones, which etcd before 3.6 compacted away) is also
	// etcd's current revision: the core's store is raised to it and compacted there.
	if compact := max(st.finished, st.scheduled); compact > s.Rev() {
		if err = s.BumpRevision(compact - s.Rev()); err != nil {
			return nil, info, fmt.Errorf("etcdsnap: compact at %d: %w", compact, err)
		}
	} else if compact >= 0 {
		if _, err = s.Compact(&core.CompactionRequest{Revision: compact}); err != nil {
			return nil, info, fmt.Errorf("etcdsnap: compact at %d: %w", compact, err)
		}
	}
	sort.Slice(st.leases, func(i, j int) bool { return st.leases[i].id < st.leases[j].id })
	for _, l := range st.leases {
		// The core raises a TTL below its minimum as etcd's lessor does on recovery.
		if l.ttl > lease.MaxLeaseTTL {
			return nil, info, fmt.Errorf("etcdsnap: lease %d: TTL %d above the maximum", l.id, l.ttl)
		}
		if _, err := s.LeaseGrant(&core.LeaseGrantRequest{ID: l.id, TTL: l.ttl}); err != nil {
			return nil, info, fmt.Errorf("etcdsnap: lease %d: %w", l.id, err)
		}
		if l.remaining > 0 {
			if err := s.LeaseCheckpoint([]core.LeaseCheckpoint{{ID: l.id, RemainingTTL: l.remaining}}); err != nil {
				return nil, info, fmt.Errorf("etcdsnap: lease %d: %w", l.id, err)
			}
		}
	}
	if err := s.AuthUpdate(func(a *auth.State) error { *a = *st.auth; return nil }); err != nil {
		return nil, info, err
	}
	info = Info{Revision: s.Rev(), CompactRevision: s.CompactRev(), Records: st.records, Keys: s.MVCC().Keys(),
		Leases: len(st.leases), Users: len(st.auth.Users), Roles: len(st.auth.Roles),
		AuthEnabled: st.auth.Enabled, AuthRevision: st.auth.Revision, StorageVersion: st.version}
	return s, info, nil
}
