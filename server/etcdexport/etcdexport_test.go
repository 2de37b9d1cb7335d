package etcdexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/authpb"
	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
	"github.com/metastore/metastore/server/etcdschema"
	"github.com/metastore/metastore/server/etcdsnap"
)

var epoch = time.Unix(1_700_000_000, 0)

// newStore is a store over its own memory backend (returned, for the records), on a manual
// clock.
func newStore(t testing.TB) (*core.Store, *backend.Memory) {
	t.Helper()
	mem := backend.NewMemory()
	s, err := core.New(core.Config{Backend: mem, Clock: clock.NewManual(epoch)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, mem
}

func snapshotOf(t testing.TB, s *core.Store) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteSnapshot(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// export writes the store's snapshot as an etcd file and returns the file's bytes.
func export(t testing.TB, s *core.Store) ([]byte, Info) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "etcd.db")
	info, err := WriteFile(snapshotOf(t, s), path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(b)) {
		t.Fatalf("info says %d bytes, the file has %d", info.Size, len(b))
	}
	return b, info
}

// body checks the SHA-256 trailer as etcdutl does and returns the db before it.
func body(t testing.TB, file []byte) []byte {
	t.Helper()
	if len(file)%512 != sha256.Size {
		t.Fatalf("file of %d bytes: etcdutl would not see a hash (size %% 512 = %d)", len(file), len(file)%512)
	}
	db := file[:len(file)-sha256.Size]
	if sum := sha256.Sum256(db); !bytes.Equal(sum[:], file[len(db):]) {
		t.Fatal("the trailer is not the db's SHA-256")
	}
	return db
}

// readBack converts the exported file with etcdsnap (the reader the restore path uses) and
// restores the result into a store over mem.
func readBack(t testing.TB, file []byte) (*core.Store, *backend.Memory, etcdsnap.Info) {
	t.Helper()
	var buf bytes.Buffer
	info, err := etcdsnap.Convert(body(t, file), &buf)
	if err != nil {
		t.Fatalf("etcdsnap refuses the exported file: %v", err)
	}
	mem := backend.NewMemory()
	s, err := core.Restore(&buf, core.Config{Backend: mem, Clock: clock.NewManual(epoch)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, mem, info
}

func records(b backend.Backend) []string {
	var out []string
	b.Ascend(0, 0, func(r *backend.Record) bool {
		out = append(out, fmt.Sprintf("%v t=%v %+v", r.Rev, r.Tombstone, r.KV))
		return true
	})
	return out
}

func rangeAt(s *core.Store, rev int64) (string, error) {
	r, err := s.Range(&core.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: rev})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("rev %d count %d %+v", r.Header.Revision, r.Count, r.Kvs), nil
}

// same checks that got holds want's state as a client sees it: every revision since the
// compaction, the compaction, the leases with their keys and checkpoints, the auth store —
// and that its backend holds the records want's does.
func same(t *testing.T, want, got *core.Store, wantMem, gotMem backend.Backend) {
	t.Helper()
	if got.Rev() != want.Rev() || got.CompactRev() != want.CompactRev() {
		t.Fatalf("revision %d compacted %d, want %d and %d", got.Rev(), got.CompactRev(), want.Rev(), want.CompactRev())
	}
	if w, g := records(wantMem), records(gotMem); !slices.Equal(w, g) {
		t.Fatalf("records\n%v\nwant\n%v", g, w)
	}
	for rev := max(want.CompactRev(), 1); rev <= want.Rev(); rev++ {
		w, werr := rangeAt(want, rev)
		g, gerr := rangeAt(got, rev)
		if w != g || (werr == nil) != (gerr == nil) {
			t.Fatalf("at %d: %s %v, want %s %v", rev, g, gerr, w, werr)
		}
	}
	if c := want.CompactRev(); c > 1 {
		if _, err := rangeAt(got, c-1); !errors.Is(err, mvcc.ErrCompacted) {
			t.Fatalf("at %d, below the compaction: %v", c-1, err)
		}
	}
	wl, gl := want.LeaseLeases().Leases, got.LeaseLeases().Leases
	if fmt.Sprint(wl) != fmt.Sprint(gl) {
		t.Fatalf("leases %v, want %v", gl, wl)
	}
	we, ge := want.Lessor().Entries(), got.Lessor().Entries()
	for i, id := range wl {
		w, g := want.LeaseTimeToLive(id, true), got.LeaseTimeToLive(id, true)
		if g.GrantedTTL != w.GrantedTTL || fmt.Sprintf("%q", g.Keys) != fmt.Sprintf("%q", w.Keys) || ge[i].Checkpoint != we[i].Checkpoint {
			t.Fatalf("lease %d: TTL %d keys %q checkpoint %d; want %d %q %d", id, g.GrantedTTL, g.Keys, ge[i].Checkpoint, w.GrantedTTL, w.Keys, we[i].Checkpoint)
		}
	}
	var wa, ga *auth.State
	want.AuthView(func(st *auth.State) { wa = st.Clone() })
	got.AuthView(func(st *auth.State) { ga = st.Clone() })
	if !reflect.DeepEqual(wa, ga) {
		t.Fatalf("auth store\n%+v\nwant\n%+v", ga, wa)
	}
}

// compactAt compacts s at rev and waits for the backend's deletes.
func compactAt(t testing.TB, s *core.Store, rev int64) {
	t.Helper()
	r, err := s.Compact(&core.CompactionRequest{Revision: rev, Physical: true})
	if err != nil {
		t.Fatalf("compact at %d: %v", rev, err)
	}
	select {
	case <-r.PhysicalDone:
	case <-time.After(30 * time.Second):
		t.Fatalf("compaction at %d: the deletes are not done after 30s", rev)
	}
}

// history applies n random operations: puts (some with leases), deletes of keys and ranges,
// txns writing several keys, lease grants, revokes and checkpoints, compactions, and at the
// end an auth store.
func history(t *testing.T, s *core.Store, rng *rand.Rand, n int) {
	t.Helper()
	key := func() []byte { return fmt.Appendf(nil, "%s%d", []string{"a/", "b/", "c"}[rng.Intn(3)], rng.Intn(8)) }
	var leases []int64
	nextLease := int64(100)
	for range n {
		var err error
		switch p := rng.Intn(100); {
		case p < 40:
			_, err = s.Put(&core.PutRequest{Key: key(), Value: fmt.Appendf(nil, "v%d", rng.Intn(1000))})
		case p < 50 && len(leases) > 0:
			_, err = s.Put(&core.PutRequest{Key: key(), Value: []byte("leased"), Lease: leases[rng.Intn(len(leases))]})
		case p < 60:
			_, err = s.DeleteRange(&core.DeleteRangeRequest{Key: key()})
		case p < 65:
			_, err = s.DeleteRange(&core.DeleteRangeRequest{Key: []byte("a/"), RangeEnd: []byte("a/5")})
		case p < 80:
			var ops []core.RequestOp
			seen := map[string]bool{}
			for range 1 + rng.Intn(4) {
				k := key()
				if seen[string(k)] {
					continue
				}
				seen[string(k)] = true
				if rng.Intn(3) == 0 {
					ops = append(ops, core.RequestOp{DeleteRange: &core.DeleteRangeRequest{Key: k}})
				} else {
					ops = append(ops, core.RequestOp{Put: &core.PutRequest{Key: k, Value: []byte("txn")}})
				}
			}
			_, err = s.Txn(&core.TxnRequest{Success: ops})
		case p < 85:
			nextLease++
			ttl := []int64{1, 60, 3600}[rng.Intn(3)]
			if _, err = s.LeaseGrant(&core.LeaseGrantRequest{ID: nextLease, TTL: ttl}); err == nil {
				leases = append(leases, nextLease)
			}
		case p < 89 && len(leases) > 0:
			i := rng.Intn(len(leases))
			_, err = s.LeaseRevoke(leases[i])
			leases = slices.Delete(leases, i, i+1)
		case p < 91 && len(leases) > 0:
			err = s.LeaseCheckpoint([]core.LeaseCheckpoint{{ID: leases[rng.Intn(len(leases))], RemainingTTL: 1 + rng.Int63n(50)}})
		case p < 95 && s.Rev() > s.CompactRev()+1:
			from := max(s.CompactRev(), 0) + 1
			compactAt(t, s, from+rng.Int63n(s.Rev()-from+1))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.AuthUpdate(func(st *auth.State) error {
		st.Enabled = rng.Intn(2) == 0
		st.Revision = 1 + uint64(rng.Intn(50))
		st.Users["root"] = &auth.User{Name: "root", Password: []byte("$2a$10$" + fmt.Sprint(rng.Int())), Roles: []string{"reader", "root"}}
		st.Users["svc"] = &auth.User{Name: "svc", NoPassword: true, Roles: []string{"reader"}}
		st.Users["idle"] = &auth.User{Name: "idle", Password: []byte("$2a$04$x")}
		st.Roles["root"] = &auth.Role{Name: "root"}
		st.Roles["reader"] = &auth.Role{Name: "reader", Perms: []auth.Permission{
			{Type: auth.Read, Key: []byte("a/"), RangeEnd: []byte("a0")},
			{Type: auth.ReadWrite, Key: []byte("b/1")},
			{Type: auth.Write, Key: []byte("c"), RangeEnd: []byte{0}},
		}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestExportRoundTrip: random histories, exported and read back by etcdsnap (which the
// restore from etcd uses, and which checks every record as etcd would read it), are the
// stores they came from.
func TestExportRoundTrip(t *testing.T) {
	defer func(n int) { txBytes = n }(txBytes)
	// The odd seeds write the records in transactions of a few hundred bytes: many, each
	// ending between two revisions (a txn's puts share one), none writing a record twice.
	for seed := range int64(20) {
		txBytes = map[bool]int{true: 300, false: 32 << 20}[seed%2 == 1]
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s, mem := newStore(t)
			history(t, s, rand.New(rand.NewSource(seed)), 250)
			file, info := export(t, s)
			got, gotMem, ri := readBack(t, file)
			same(t, s, got, mem, gotMem)
			want := Info{Revision: s.Rev(), CompactRevision: s.CompactRev(), Records: mem.Len(), Keys: s.MVCC().Keys(),
				Leases: len(s.LeaseLeases().Leases), Users: 3, Roles: 2, AuthEnabled: ri.AuthEnabled, AuthRevision: ri.AuthRevision, Size: info.Size}
			if info != want {
				t.Fatalf("info %+v, want %+v", info, want)
			}
			if ri.Revision != info.Revision || ri.CompactRevision != info.CompactRevision || ri.Records != info.Records ||
				ri.Keys != info.Keys || ri.StorageVersion != StorageVersion {
				t.Fatalf("etcdsnap read %+v, the export wrote %+v", ri, info)
			}
		})
	}
}

// TestExportEdges: an empty store, and a store compacted above its newest record (restored
// with --bump-revision, or compacted at a delete), come back as they were.
func TestExportEdges(t *testing.T) {
	empty, emptyMem := newStore(t)
	bumped, bumpedMem := newStore(t)
	deleted, deletedMem := newStore(t)
	for _, s := range []*core.Store{bumped, deleted} {
		for _, k := range []string{"a", "b"} {
			if _, err := s.Put(&core.PutRequest{Key: []byte(k), Value: []byte("1")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := bumped.BumpRevision(100); err != nil {
		t.Fatal(err)
	}
	if _, err := deleted.DeleteRange(&core.DeleteRangeRequest{Key: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	compactAt(t, deleted, 4)
	for _, c := range []struct {
		name          string
		s             *core.Store
		mem           backend.Backend
		rev, compact  int64
		records, keys int
	}{
		{"empty", empty, emptyMem, 1, -1, 0, 0},
		{"bumped", bumped, bumpedMem, 103, 103, 2, 2},
		{"deleted", deleted, deletedMem, 4, 4, 2, 1},
	} {
		file, info := export(t, c.s)
		if info.Revision != c.rev || info.CompactRevision != c.compact || info.Records != c.records || info.Keys != c.keys {
			t.Fatalf("%s: %+v, want revision %d, compacted %d, %d records, %d keys", c.name, info, c.rev, c.compact, c.records, c.keys)
		}
		got, gotMem, _ := readBack(t, file)
		same(t, c.s, got, c.mem, gotMem)
	}
}

// TestExportLayout: the buckets and values are etcd 3.6's, byte for byte, as etcd's own code
// writes them (read here with bbolt, as etcd reads them).
func TestExportLayout(t *testing.T) {
	s, _ := newStore(t)
	if _, err := s.LeaseGrant(&core.LeaseGrantRequest{ID: 7, TTL: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaseGrant(&core.LeaseGrantRequest{ID: 8, TTL: 3600}); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaseCheckpoint([]core.LeaseCheckpoint{{ID: 8, RemainingTTL: 30}}); err != nil {
		t.Fatal(err)
	}
	mustPut := func(k, v string, lease int64) {
		if _, err := s.Put(&core.PutRequest{Key: []byte(k), Value: []byte(v), Lease: lease}); err != nil {
			t.Fatal(err)
		}
	}
	mustPut("a", "1", 0)                                                                 // 2
	mustPut("b", "1", 7)                                                                 // 3
	mustPut("a", "2", 0)                                                                 // 4
	if _, err := s.DeleteRange(&core.DeleteRangeRequest{Key: []byte("b")}); err != nil { // 5
		t.Fatal(err)
	}
	if _, err := s.Txn(&core.TxnRequest{Success: []core.RequestOp{ // 6: two subs
		{Put: &core.PutRequest{Key: []byte("c"), Value: []byte("1")}},
		{Put: &core.PutRequest{Key: []byte("d"), Value: []byte("1"), Lease: 8}},
	}}); err != nil {
		t.Fatal(err)
	}
	compactAt(t, s, 5)
	err := s.AuthUpdate(func(st *auth.State) error {
		st.Enabled, st.Revision = true, 12
		st.Users["root"] = &auth.User{Name: "root", Password: []byte("$2a$10$hash"), Roles: []string{"root"}}
		st.Users["svc"] = &auth.User{Name: "svc", NoPassword: true}
		st.Roles["root"] = &auth.Role{Name: "root"}
		st.Roles["r"] = &auth.Role{Name: "r", Perms: []auth.Permission{{Type: auth.ReadWrite, Key: []byte("a"), RangeEnd: []byte("b")}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	file, _ := export(t, s)
	path := filepath.Join(t.TempDir(), "db")
	if err := os.WriteFile(path, body(t, file), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := map[string]map[string]string{}
	err = db.View(func(tx *bbolt.Tx) error {
		for e := range tx.Check() {
			t.Errorf("bbolt check: %v", e)
		}
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			m := map[string]string{}
			got[string(name)] = m
			return b.ForEach(func(k, v []byte) error { m[string(k)] = string(v); return nil })
		})
	})
	if err != nil {
		t.Fatal(err)
	}

	rev := func(main, sub int64, tomb bool) string {
		return string(etcdschema.RevKey(kv.Revision{Main: main, Sub: sub}, tomb))
	}
	mkv := func(kv *mvccpb.KeyValue) string { b, _ := kv.Marshal(); return string(b) }
	u64 := func(v uint64) string { return string(binary.BigEndian.AppendUint64(nil, v)) }
	user := func(u *authpb.User) string { b, _ := u.Marshal(); return string(b) }
	role := func(r *authpb.Role) string { b, _ := r.Marshal(); return string(b) }
	want := map[string]map[string]string{
		"key": {
			// a@2 and b@3 went with the compaction at 5; b's delete at 5 stays (etcd 3.6).
			rev(4, 0, false): mkv(&mvccpb.KeyValue{Key: []byte("a"), Value: []byte("2"), CreateRevision: 2, ModRevision: 4, Version: 2}),
			rev(5, 0, true):  mkv(&mvccpb.KeyValue{Key: []byte("b")}),
			rev(6, 0, false): mkv(&mvccpb.KeyValue{Key: []byte("c"), Value: []byte("1"), CreateRevision: 6, ModRevision: 6, Version: 1}),
			rev(6, 1, false): mkv(&mvccpb.KeyValue{Key: []byte("d"), Value: []byte("1"), CreateRevision: 6, ModRevision: 6, Version: 1, Lease: 8}),
		},
		"meta": {
			"storageVersion":      "3.6.0",
			"consistent_index":    u64(0),
			"term":                u64(0),
			"scheduledCompactRev": rev(5, 0, false),
			"finishedCompactRev":  rev(5, 0, false),
		},
		"lease": {
			u64(7): "\x08\x07\x10\x3c",             // ID 7, TTL 60
			u64(8): "\x08\x08\x10\x90\x1c\x18\x1e", // ID 8, TTL 3600, RemainingTTL 30
		},
		"auth": {"authEnabled": "\x01", "authRevision": u64(12)},
		"authUsers": {
			"root": user(&authpb.User{Name: []byte("root"), Password: []byte("$2a$10$hash"), Roles: []string{"root"}, Options: &authpb.UserAddOptions{}}),
			"svc":  user(&authpb.User{Name: []byte("svc"), Options: &authpb.UserAddOptions{NoPassword: true}}),
		},
		"authRoles": {
			"root": role(&authpb.Role{Name: []byte("root")}),
			"r":    role(&authpb.Role{Name: []byte("r"), KeyPermission: []*authpb.Permission{{PermType: authpb.READWRITE, Key: []byte("a"), RangeEnd: []byte("b")}}}),
		},
		"alarm": {}, "cluster": {}, "members": {}, "members_removed": {},
	}
	if !reflect.DeepEqual(got, want) {
		for name := range want {
			if !reflect.DeepEqual(got[name], want[name]) {
				t.Errorf("bucket %s:\n%q\nwant\n%q", name, got[name], want[name])
			}
		}
		t.Fatalf("buckets %d, want %d", len(got), len(want))
	}
}

// TestExportUnfinishedCompaction: records a compaction dropped but had not deleted yet (the
// deletes run after it, in the background) are left out: written from such a backend, the
// key bucket is the one a store that had finished writes.
func TestExportUnfinishedCompaction(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	full, fullMem := newStore(t)
	for range 150 {
		k := fmt.Appendf(nil, "k%d", rng.Intn(10))
		var err error
		if rng.Intn(4) == 0 {
			_, err = full.DeleteRange(&core.DeleteRangeRequest{Key: k})
		} else {
			_, err = full.Put(&core.PutRequest{Key: k, Value: fmt.Appendf(nil, "v%d", rng.Intn(100))})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Every record, and a compaction that deleted none of them (no store runs over stale,
	// so no compactor deletes them either).
	stale := backend.NewMemory()
	fullMem.Ascend(0, 0, func(r *backend.Record) bool {
		stale.Commit(&backend.Batch{Puts: []backend.Record{*r}})
		return true
	})
	compact := full.Rev() / 2
	compactAt(t, full, compact)
	if stale.Len() == fullMem.Len() {
		t.Fatal("the compaction dropped nothing: no test")
	}

	path := filepath.Join(t.TempDir(), "etcd.db")
	if _, err := write(&source{records: stale, compact: compact, auth: auth.New()}, path); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := export(t, full)
	_, wantMem, _ := readBack(t, want)
	_, gotMem, info := readBack(t, file)
	if w, g := records(wantMem), records(gotMem); !slices.Equal(w, g) || info.Records != fullMem.Len() {
		t.Fatalf("from the unfinished compaction (%d records)\n%v\nwant (%d)\n%v", info.Records, g, fullMem.Len(), w)
	}
}

// TestExportRefused: a damaged snapshot is refused before anything is written: no output, no
// scratch file, and a file already at the output path is left as it was.
func TestExportRefused(t *testing.T) {
	s, _ := newStore(t)
	history(t, s, rand.New(rand.NewSource(3)), 50)
	snap := snapshotOf(t, s)
	flipped := bytes.Clone(snap)
	flipped[len(flipped)/2] ^= 0x40
	for name, bad := range map[string][]byte{
		"flipped": flipped, "truncated": snap[:len(snap)-10], "empty": nil, "text": []byte("not a snapshot"),
	} {
		dir := t.TempDir()
		if _, err := WriteFile(bad, filepath.Join(dir, "out.db")); err == nil || !errors.Is(err, core.ErrBadSnapshot) {
			t.Fatalf("%s: %v, want a bad snapshot error", name, err)
		}
		if es, _ := os.ReadDir(dir); len(es) != 0 {
			t.Fatalf("%s: %d files left behind", name, len(es))
		}
		old := filepath.Join(dir, "old.db")
		if err := os.WriteFile(old, []byte("previous"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteFile(bad, old); err == nil {
			t.Fatalf("%s: exported", name)
		}
		if b, _ := os.ReadFile(old); string(b) != "previous" {
			t.Fatalf("%s: the existing output became %q", name, b)
		}
	}
	// A path that cannot be written: the error says so, nothing is left.
	dir := t.TempDir()
	if _, err := WriteFile(snap, filepath.Join(dir, "missing", "out.db")); err == nil {
		t.Fatal("exported into a missing directory")
	}
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Fatalf("%d files left behind", len(es))
	}
}

// TestExportDependencies: the product writes etcd's files with bbolt and etcd's API messages,
// never with etcd's server module (which only the tests' etcd uses).
func TestExportDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range []string{"go.etcd.io/etcd/server", "google.golang.org/grpc"} {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("etcdexport depends on %s", dep)
			}
		}
	}
}
