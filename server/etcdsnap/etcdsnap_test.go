package etcdsnap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/mvcc"
)

// readAll reads every bucket of a bbolt file with this package's reader.
func readAll(data []byte) (Buckets, error) {
	b, err := openBolt(data)
	if err != nil {
		return nil, err
	}
	hs, err := b.buckets()
	if err != nil {
		return nil, err
	}
	out := Buckets{}
	for name, h := range hs {
		m := map[string][]byte{}
		if err := b.forEach(h, func(k, v []byte) error { m[string(k)] = bytes.Clone(v); return nil }); err != nil {
			return nil, err
		}
		out[name] = m
	}
	return out, nil
}

// TestEtcdSnapBoltReader: the reader sees exactly what bbolt wrote, over page sizes, inline
// buckets (small), empty buckets, deep trees (many keys) and overflow pages (large values).
func TestEtcdSnapBoltReader(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, pageSize := range []int{1024, 4096, 16384} {
		for round := range 4 {
			content := Buckets{"empty": {}, "tiny": {"a": []byte("1")}}
			for b := range 1 + round {
				m := map[string][]byte{}
				n := []int{3, 200, 2000, 20}[round]
				for range n {
					k := make([]byte, 1+rng.Intn(40))
					rng.Read(k)
					v := make([]byte, []int{0, 10, 100, 10, 0, 100, 10, 3 * pageSize}[rng.Intn(8)])
					rng.Read(v)
					m[string(k)] = v
				}
				content[fmt.Sprintf("b%d", b)] = m
			}
			data := BuildDB(t, pageSize, content)
			got, err := readAll(data)
			if err != nil {
				t.Fatalf("page size %d round %d: %v", pageSize, round, err)
			}
			if !reflect.DeepEqual(normalizeBuckets(got), normalizeBuckets(content)) {
				t.Fatalf("page size %d round %d: the reader saw other content than bbolt wrote", pageSize, round)
			}
		}
	}
}

func normalizeBuckets(b Buckets) Buckets {
	out := Buckets{}
	for n, m := range b {
		c := map[string][]byte{}
		for k, v := range m {
			if len(v) == 0 {
				v = nil
			}
			c[k] = v
		}
		out[n] = c
	}
	return out
}

// restore converts a db file and restores the snapshot into a core store over mem.
func restore(t *testing.T, db []byte, mem *backend.Memory) (*core.Store, Info) {
	t.Helper()
	var buf bytes.Buffer
	info, err := Convert(db, &buf)
	if err != nil {
		t.Fatal(err)
	}
	converted := bytes.Clone(buf.Bytes())
	s, err := core.Restore(&buf, core.Config{Backend: mem, Clock: clock.NewManual(epoch)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	// The state ConvertInto builds in a backend of its own (metastore snapshot restore's
	// path) is the one restored from Convert's snapshot: both write the same snapshot.
	var again bytes.Buffer
	if err := s.WriteSnapshot(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), converted) {
		t.Fatal("the state restored from Convert's snapshot differs from ConvertInto's")
	}
	return s, info
}

// countingBackend counts the commits into a backend and the most records one carried.
type countingBackend struct {
	backend.Backend
	commits, most int
}

func (c *countingBackend) Commit(b *backend.Batch) error {
	c.commits++
	c.most = max(c.most, len(b.Puts))
	return c.Backend.Commit(b)
}

// TestEtcdSnapConvertIntoCommitsAsItReads: the records reach the backend a batch at a time
// as the file is read, not all at once after it, so a restore never holds them all.
func TestEtcdSnapConvertIntoCommitsAsItReads(t *testing.T) {
	e := NewEtcd()
	const n = 3*recordBatch + 10
	for i := range n {
		e.Put(0, fmt.Sprintf("k%05d", i), "v")
	}
	b := &countingBackend{Backend: backend.NewMemory()}
	s, info, err := ConvertInto(BuildDB(t, 0, e.Buckets), b)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if info.Records != n || b.Len() != n || s.Rev() != n+1 {
		t.Fatalf("%d records converted, %d in the backend, revision %d; want %d, %d, %d", info.Records, b.Len(), s.Rev(), n, n, n+1)
	}
	if b.commits < n/recordBatch || b.most > recordBatch {
		t.Fatalf("%d commits of at most %d records; want at least %d of at most %d", b.commits, b.most, n/recordBatch, recordBatch)
	}
}

func rangeAt(t *testing.T, s *core.Store, rev int64) ([]string, error) {
	t.Helper()
	r, err := s.Range(&core.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, kv := range r.Kvs {
		out = append(out, fmt.Sprintf("%s=%s@%d/%d/v%d/l%d", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease))
	}
	return out, nil
}

// TestEtcdSnapConvert: keys, history, tombstones, a compaction, leases and the auth store
// come over; the restored store reads as etcd would.
func TestEtcdSnapConvert(t *testing.T) {
	e := NewEtcd()
	e.Put(0, "a", "1")           // 2
	e.Put(0, "b", "1", "c", "1") // 3
	e.Put(7, "a", "2")           // 4
	e.Delete("b")                // 5
	e.Put(0, "b", "2")           // 6
	e.Put(8, "d", "1")           // 7
	e.Delete("c")                // 8
	e.Compacted(5, 5)            // at 5: a@2 and b@3 go, the tombstone at 5 stays (etcd 3.6)
	e.Drop(2, 0, false)          // a@2
	e.Drop(3, 0, false)          // b@3
	e.Lease(7, 60, 0)            // a's lease
	e.Lease(8, 1, 30)            // d's, TTL below the minimum, checkpointed
	e.Lease(9, 3600, 0)          // no keys
	e.User(&authpb.User{Name: []byte("root"), Password: []byte("$2a$10$hash"), Roles: []string{"root"}})
	e.User(&authpb.User{Name: []byte("svc"), Options: &authpb.UserAddOptions{NoPassword: true}, Roles: []string{"r2", "r1"}})
	e.Role(&authpb.Role{Name: []byte("r1"), KeyPermission: []*authpb.Permission{
		{PermType: authpb.READ, Key: []byte("a")}, {PermType: authpb.READWRITE, Key: []byte("b"), RangeEnd: []byte{0}}}})
	e.Role(&authpb.Role{Name: []byte("r2")})
	e.Auth(true, 9)
	db := BuildDB(t, 0, e.Buckets)

	mem := backend.NewMemory()
	s, info := restore(t, db, mem)
	want := Info{Revision: 8, CompactRevision: 5, Records: 6, Keys: 3, Leases: 3, Users: 2, Roles: 2,
		AuthEnabled: true, AuthRevision: 9, StorageVersion: "3.6.0"}
	if info != want {
		t.Fatalf("info %+v, want %+v", info, want)
	}
	if s.Rev() != 8 || s.CompactRev() != 5 {
		t.Fatalf("revision %d compacted %d, want 8 and 5", s.Rev(), s.CompactRev())
	}
	if _, err := rangeAt(t, s, 4); !errors.Is(err, mvcc.ErrCompacted) {
		t.Fatalf("range at 4: %v, want compacted", err)
	}
	for rev, want := range map[int64]string{
		5: "[a=2@2/4/v2/l7 c=1@3/3/v1/l0]",
		6: "[a=2@2/4/v2/l7 b=2@6/6/v1/l0 c=1@3/3/v1/l0]",
		7: "[a=2@2/4/v2/l7 b=2@6/6/v1/l0 c=1@3/3/v1/l0 d=1@7/7/v1/l8]",
		8: "[a=2@2/4/v2/l7 b=2@6/6/v1/l0 d=1@7/7/v1/l8]",
	} {
		got, err := rangeAt(t, s, rev)
		if err != nil || fmt.Sprint(got) != want {
			t.Fatalf("at %d: %v %v, want %s", rev, got, err, want)
		}
	}
	// The backend holds what etcd's did: the 6 records, the tombstone at 5 among them.
	if mem.Len() != 6 {
		t.Fatalf("%d records restored, want 6", mem.Len())
	}
	ids := s.LeaseLeases().Leases
	if fmt.Sprint(ids) != "[7 8 9]" {
		t.Fatalf("leases %v", ids)
	}
	for _, c := range []struct {
		id, granted int64
		keys        string
	}{{7, 60, "[a]"}, {8, 2, "[d]"}, {9, 3600, "[]"}} {
		r := s.LeaseTimeToLive(c.id, true)
		if r.GrantedTTL != c.granted || r.TTL != c.granted || fmt.Sprintf("%s", r.Keys) != c.keys {
			t.Fatalf("lease %d: granted %d, TTL %d, keys %s; want %d, %d, %s", c.id, r.GrantedTTL, r.TTL, r.Keys, c.granted, c.granted, c.keys)
		}
	}
	if cp := s.Lessor().Entries()[1].Checkpoint; cp != 30 {
		t.Fatalf("lease 8's checkpoint %d, want 30", cp)
	}
	s.AuthView(func(st *auth.State) {
		want := &auth.State{Enabled: true, Revision: 9,
			Users: map[string]*auth.User{
				"root": {Name: "root", Password: []byte("$2a$10$hash"), Roles: []string{"root"}},
				"svc":  {Name: "svc", NoPassword: true, Roles: []string{"r1", "r2"}},
			},
			Roles: map[string]*auth.Role{
				"r1": {Name: "r1", Perms: []auth.Permission{{Type: auth.Read, Key: []byte("a")}, {Type: auth.ReadWrite, Key: []byte("b"), RangeEnd: []byte{0}}}},
				"r2": {Name: "r2"},
			}}
		if !reflect.DeepEqual(st, want) {
			t.Fatalf("auth state\n%+v\nwant\n%+v", st, want)
		}
	})
	// Watching from the compacted revision sees the delete there.
	ws := s.NewWatchStream()
	defer ws.Close()
	if _, err := ws.Create(&core.WatchCreateRequest{Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: 5}); err != nil {
		t.Fatal(err)
	}
	var evs []string
	for len(evs) < 4 {
		select {
		case r := <-ws.Chan():
			for _, ev := range r.Events {
				evs = append(evs, fmt.Sprintf("%v %s@%d", ev.Type, ev.Kv.Key, ev.Kv.ModRevision))
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watch from 5: only %v", evs)
		}
	}
	if got := fmt.Sprint(evs); got != "[DELETE b@5 PUT b@6 PUT d@7 DELETE c@8]" {
		t.Fatalf("events %s", got)
	}

	// Converting is deterministic: every member of a new cluster restores the same state.
	var a, b bytes.Buffer
	if _, err := Convert(db, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(db, &b); err != nil || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("two conversions differ (%v)", err)
	}
}

// TestEtcdSnapCompactedAboveLastRecord: etcd before 3.6 dropped a tombstone at the compacted
// revision, so a file's newest record can be older than its compaction; etcd then starts at
// the compacted revision, and so does the restored store.
func TestEtcdSnapCompactedAboveLastRecord(t *testing.T) {
	e := NewEtcd()
	e.Put(0, "a", "1") // 2
	e.Put(0, "b", "1") // 3
	e.Delete("b")      // 4
	e.Put(0, "c", "1") // 5
	e.Delete("c")      // 6
	e.Compacted(6, 6)  // 3.5 dropped b@3, b's tombstone, c@5 and c's tombstone at 6
	e.Drop(3, 0, false)
	e.Drop(4, 0, true)
	e.Drop(5, 0, false)
	e.Drop(6, 0, true)
	mem := backend.NewMemory()
	s, info := restore(t, BuildDB(t, 0, e.Buckets), mem)
	if s.Rev() != 6 || s.CompactRev() != 6 || info.Revision != 6 || info.CompactRevision != 6 {
		t.Fatalf("revision %d compacted %d (info %+v), want 6 and 6", s.Rev(), s.CompactRev(), info)
	}
	if got, err := rangeAt(t, s, 6); err != nil || fmt.Sprint(got) != "[a=1@2/2/v1/l0]" {
		t.Fatalf("at 6: %v %v", got, err)
	}
	if _, err := rangeAt(t, s, 5); !errors.Is(err, mvcc.ErrCompacted) {
		t.Fatalf("at 5: %v, want compacted", err)
	}
	r, err := s.Put(&core.PutRequest{Key: []byte("c"), Value: []byte("2")})
	if err != nil || r.Header.Revision != 7 {
		t.Fatalf("the next write: %v %v, want revision 7", r, err)
	}

	// No record at all: the store starts at the compacted revision.
	e = NewEtcd()
	e.Compacted(9, 9)
	s, _ = restore(t, BuildDB(t, 0, e.Buckets), backend.NewMemory())
	if s.Rev() != 9 || s.CompactRev() != 9 {
		t.Fatalf("empty: revision %d compacted %d, want 9 and 9", s.Rev(), s.CompactRev())
	}
}

// TestEtcdSnapInterruptedCompaction: a file saved while etcd was compacting (scheduled past
// finished, records below the scheduled revision partly deleted) is compacted at the
// scheduled revision, as etcd completes it on start; nothing it would delete is kept.
func TestEtcdSnapInterruptedCompaction(t *testing.T) {
	e := NewEtcd()
	e.Put(0, "a", "1") // 2
	e.Put(0, "b", "1") // 3
	e.Put(0, "a", "2") // 4
	e.Put(0, "b", "2") // 5
	e.Delete("a")      // 6
	e.Put(0, "c", "1") // 7
	e.Compacted(3, 6)  // etcd had deleted a@2 when the file was saved
	e.Drop(2, 0, false)
	mem := backend.NewMemory()
	s, _ := restore(t, BuildDB(t, 0, e.Buckets), mem)
	if s.Rev() != 7 || s.CompactRev() != 6 {
		t.Fatalf("revision %d compacted %d, want 7 and 6", s.Rev(), s.CompactRev())
	}
	// Kept: b@5 (b's newest at 6), the tombstone at 6 (until the next compaction), c@7.
	if mem.Len() != 3 {
		t.Fatalf("%d records, want 3", mem.Len())
	}
	if got, err := rangeAt(t, s, 6); err != nil || fmt.Sprint(got) != "[b=2@3/5/v2/l0]" {
		t.Fatalf("at 6: %v %v", got, err)
	}

	// Never compacted: everything is there, and the store says so (-1).
	e = NewEtcd()
	e.Put(0, "a", "1")
	s, _ = restore(t, BuildDB(t, 0, e.Buckets), backend.NewMemory())
	if s.CompactRev() != -1 || s.Rev() != 2 {
		t.Fatalf("never compacted: revision %d compacted %d", s.Rev(), s.CompactRev())
	}
}

// TestEtcdSnapRefused: files that are not etcd's, or whose records are not etcd's, are
// refused with an error saying why.
func TestEtcdSnapRefused(t *testing.T) {
	good := func() *Etcd {
		e := NewEtcd()
		e.Put(0, "a", "1")
		return e
	}
	kv := func(kv *mvccpb.KeyValue) []byte { b, _ := kv.Marshal(); return b }
	cases := map[string]func(e *Etcd){
		"no key bucket":      func(e *Etcd) { delete(e.Buckets, "key") },
		"short revision key": func(e *Etcd) { e.Buckets["key"]["\x00\x00"] = kv(&mvccpb.KeyValue{Key: []byte("x")}) },
		"bad separator":      func(e *Etcd) { k := []byte(RevKey(3, 0, false)); k[8] = '-'; e.Buckets["key"][string(k)] = nil },
		"revision 1": func(e *Etcd) {
			e.Buckets["key"][RevKey(1, 0, false)] = kv(&mvccpb.KeyValue{Key: []byte("x"), ModRevision: 1, CreateRevision: 1, Version: 1})
		},
		"negative sub": func(e *Etcd) {
			e.Buckets["key"][RevKey(3, -1, false)] = kv(&mvccpb.KeyValue{Key: []byte("x"), ModRevision: 3, CreateRevision: 3, Version: 1})
		},
		"put and tombstone": func(e *Etcd) { e.Buckets["key"][RevKey(2, 0, true)] = kv(&mvccpb.KeyValue{Key: []byte("a")}) },
		"mod revision": func(e *Etcd) {
			e.Buckets["key"][RevKey(3, 0, false)] = kv(&mvccpb.KeyValue{Key: []byte("x"), ModRevision: 4, CreateRevision: 3, Version: 1})
		},
		"version 0": func(e *Etcd) {
			e.Buckets["key"][RevKey(3, 0, false)] = kv(&mvccpb.KeyValue{Key: []byte("x"), ModRevision: 3, CreateRevision: 3})
		},
		"created later": func(e *Etcd) {
			e.Buckets["key"][RevKey(3, 0, false)] = kv(&mvccpb.KeyValue{Key: []byte("x"), ModRevision: 3, CreateRevision: 4, Version: 1})
		},
		"empty key":           func(e *Etcd) { e.Buckets["key"][RevKey(3, 0, true)] = kv(&mvccpb.KeyValue{}) },
		"not a key-value":     func(e *Etcd) { e.Buckets["key"][RevKey(3, 0, false)] = []byte{0xff, 0xff} },
		"short compact rev":   func(e *Etcd) { e.Buckets["meta"]["finishedCompactRev"] = []byte{1} },
		"lease ID 0":          func(e *Etcd) { e.Buckets["lease"]["\x00"] = LeaseValue(0, 10, 0) },
		"lease not protobuf":  func(e *Etcd) { e.Buckets["lease"]["\x01"] = []byte{0x08} },
		"lease field type":    func(e *Etcd) { e.Buckets["lease"]["\x01"] = []byte{0x0a, 0x00} },
		"lease TTL too large": func(e *Etcd) { e.Lease(5, 9_000_000_001, 0) },
		"auth revision":       func(e *Etcd) { e.Buckets["auth"]["authRevision"] = []byte{1} },
		"user not protobuf":   func(e *Etcd) { e.Buckets["authUsers"]["u"] = []byte{0xff} },
		"user without name":   func(e *Etcd) { e.Buckets["authUsers"]["u"], _ = (&authpb.User{Password: []byte("x")}).Marshal() },
		"role without name":   func(e *Etcd) { e.Buckets["authRoles"]["r"], _ = (&authpb.Role{}).Marshal() },
		"permission type": func(e *Etcd) {
			e.Role(&authpb.Role{Name: []byte("r"), KeyPermission: []*authpb.Permission{{PermType: 3, Key: []byte("a")}}})
		},
	}
	for name, damage := range cases {
		e := good()
		damage(e)
		if _, err := Convert(BuildDB(t, 0, e.Buckets), &bytes.Buffer{}); err == nil {
			t.Errorf("%s: converted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	for name, data := range map[string][]byte{"empty": nil, "text": []byte(strings.Repeat("etcd", 2048)),
		"MetaStore's": append(binary.BigEndian.AppendUint64(nil, 8), "MSNAP\x02.."...)} {
		if _, err := Convert(data, &bytes.Buffer{}); !errors.Is(err, ErrNotEtcd) {
			t.Errorf("%s: %v, want ErrNotEtcd", name, err)
		}
	}
	// The good file converts (the cases above fail for their damage alone).
	if _, err := Convert(BuildDB(t, 0, good().Buckets), &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}

// sampleDB is a small etcd db with a bit of everything, on 1 KiB pages (so that its trees
// have branch pages and its values overflow pages).
func sampleDB(t testing.TB) []byte { return sample(t, 60, 40) }

// sample is an etcd db of n puts of growing values (by grow bytes), deletes, leases, users
// and roles, and a compaction.
func sample(t testing.TB, n, grow int) []byte {
	e := NewEtcd()
	for i := range n {
		e.Put(int64(i%3), fmt.Sprintf("k%02d", i%17), strings.Repeat("v", i*grow))
		if i%7 == 0 {
			e.Delete(fmt.Sprintf("k%02d", i%17))
		}
	}
	e.Lease(1, 100, 0)
	e.Lease(2, 200, 50)
	e.User(&authpb.User{Name: []byte("root"), Password: []byte("$2a$10$x"), Roles: []string{"root"}})
	e.Role(&authpb.Role{Name: []byte("r"), KeyPermission: []*authpb.Permission{{PermType: authpb.WRITE, Key: []byte("k")}}})
	e.Auth(false, 3)
	e.Compacted(int64(n/3), int64(n/3))
	return BuildDB(t, 1024, e.Buckets)
}

// safeConvert converts, turning a panic into a test failure's message.
func safeConvert(data []byte) (err error, panicked any) {
	defer func() { panicked = recover() }()
	_, err = Convert(data, &bytes.Buffer{})
	return err, nil
}

// TestEtcdSnapDamaged: a damaged file is an error or a conversion, never a panic: every
// truncation, bytes flipped on every page, and the structural damage that makes bbolt itself
// crash or loop (a page pointing at itself, at its parent, past the end of the file).
func TestEtcdSnapDamaged(t *testing.T) {
	data := sampleDB(t)
	if err, p := safeConvert(data); err != nil || p != nil {
		t.Fatalf("the sample: %v %v", err, p)
	}
	check := func(name string, d []byte) {
		t.Helper()
		if _, p := safeConvert(d); p != nil {
			t.Fatalf("%s: panic: %v", name, p)
		}
	}
	// Sampled through the file (FuzzEtcdSnapConvert, in make fuzz, damages it at random for
	// longer): every page is hit, at a cost make test can afford under -race.
	for n := 0; n < len(data); n += 397 {
		check(fmt.Sprintf("truncated to %d", n), data[:n])
	}
	converted := 0
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < len(data); i += 1 + rng.Intn(760) {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			d := bytes.Clone(data)
			d[i] ^= x
			if err, p := safeConvert(d); p != nil {
				t.Fatalf("byte %d ^ %#x: panic: %v", i, x, p)
			} else if err == nil {
				converted++
			}
		}
	}
	t.Logf("%d damaged files converted (damage in values or unused space), the rest refused", converted)

	// Structural damage, aimed: every branch element pointing at its own page, at page 2, and
	// past the end; every page claiming a huge overflow; both meta pages damaged.
	b, err := openBolt(data)
	if err != nil {
		t.Fatal(err)
	}
	branches := 0
	for id := uint64(2); id < b.pgid; id++ {
		p := data[id*b.pageSize:]
		if le.Uint64(p) != id {
			continue // an overflow page's continuation
		}
		d := bytes.Clone(data)
		le.PutUint32(d[id*b.pageSize+12:], 1<<31)
		if err, p := safeConvert(d); p != nil || err == nil && usedPage(t, data, id) {
			t.Fatalf("page %d with a huge overflow: %v %v", id, err, p)
		}
		if le.Uint16(p[8:]) != branchPageFlag {
			continue
		}
		branches++
		for _, target := range []uint64{id, 2, b.pgid, 1 << 62} {
			d := bytes.Clone(data)
			for i := range int(le.Uint16(p[10:])) {
				le.PutUint64(d[id*b.pageSize+pageHeaderSize+uint64(i)*elementSize+8:], target)
			}
			if err, p := safeConvert(d); err == nil || p != nil {
				t.Fatalf("branch page %d pointing at %d: %v %v", id, target, err, p)
			}
		}
	}
	if branches == 0 {
		t.Fatal("the sample has no branch page: the cycle cases test nothing")
	}
	d := bytes.Clone(data)
	d[pageHeaderSize+20] ^= 1
	d[b.pageSize+pageHeaderSize+20] ^= 1
	if err, p := safeConvert(d); err == nil || p != nil {
		t.Fatalf("both metas damaged: %v %v", err, p)
	}
	// The older meta damaged: the newer is used, as bbolt does. (The newer damaged, bbolt
	// and the reader fall back on the older, the state one transaction before.)
	older := uint64(0)
	if m0, _ := readMeta(data, 0); m0.txid > 0 {
		if m1, _ := readMeta(data, b.pageSize); m1.txid < m0.txid {
			older = b.pageSize
		}
	}
	d = bytes.Clone(data)
	d[older+pageHeaderSize+20] ^= 1
	if err, p := safeConvert(d); err != nil || p != nil {
		t.Fatalf("older meta damaged: %v %v", err, p)
	}
}

// usedPage reports whether the reader reaches page id in data.
func usedPage(t *testing.T, data []byte, id uint64) bool {
	b, err := openBolt(data)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := b.buckets()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if err := b.forEach(h, func(k, v []byte) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return b.seen[id]
}

// FuzzEtcdSnapConvert: any file is converted or refused, never a panic (bbolt itself panics,
// faults or recurses for ever on some damaged files; the reader must not).
func FuzzEtcdSnapConvert(f *testing.F) {
	// Small files on 1 KiB pages, so that the mutations often land in the structure.
	f.Add(sample(f, 20, 8))
	e := NewEtcd()
	e.Put(0, "a", "1")
	f.Add(BuildDB(f, 1024, e.Buckets))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf bytes.Buffer
		info, err := Convert(b, &buf)
		if err != nil {
			return
		}
		// What was written is a snapshot the core restores, at the revision it said.
		s, err := core.Restore(&buf, core.Config{Clock: clock.NewManual(epoch)})
		if err != nil {
			t.Fatalf("converted, but the core refuses the snapshot: %v", err)
		}
		defer s.Close()
		if s.Rev() != info.Revision || s.CompactRev() != info.CompactRevision {
			t.Fatalf("restored at %d (compacted %d), the conversion said %+v", s.Rev(), s.CompactRev(), info)
		}
	})
}

// TestEtcdSnapDependencies: the product reads etcd's files without etcd's server module (nor
// bbolt: the reader is this package's own).
func TestEtcdSnapDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range []string{"go.etcd.io/etcd/server", "go.etcd.io/bbolt", "google.golang.org/grpc"} {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("etcdsnap depends on %s", dep)
			}
		}
	}
}
