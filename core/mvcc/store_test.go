package mvcc

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
)

// The recovery tests drive two stores with the same operations: one on a backend that is
// closed and reopened (recovered) at chosen points, one that runs uninterrupted as the
// reference. After each reopening, the two must agree on everything observable and on the
// key index itself, and keep agreeing as writes continue.

// recovTracker is a LeaseTracker that records which keys each lease holds.
type recovTracker struct {
	mu     sync.Mutex
	leases map[int64]map[string]bool
}

func newRecovTracker() *recovTracker { return &recovTracker{leases: map[int64]map[string]bool{}} }

func (r *recovTracker) Attach(lease int64, key []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.leases[lease] == nil {
		r.leases[lease] = map[string]bool{}
	}
	r.leases[lease][string(key)] = true
}

func (r *recovTracker) Detach(lease int64, key []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.leases[lease], string(key))
	if len(r.leases[lease]) == 0 {
		delete(r.leases, lease)
	}
}

func (r *recovTracker) snapshot() map[int64][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int64][]string{}
	for l, ks := range r.leases {
		for k := range ks {
			out[l] = append(out[l], k)
		}
		slices.Sort(out[l])
	}
	return out
}

// recovOp is one write transaction (changes) or a compaction (compact > 0).
type recovOp struct {
	changes []recovChange
	compact int64
}

type recovChange struct {
	del        bool
	key, end   string // end "" = the key alone, "\x00" = every key from key on
	value      string
	lease      int64
	wantDelete int64 // for deletes: how many keys should go, -1 = don't check
}

func rput(key, value string, lease int64) recovOp {
	return recovOp{changes: []recovChange{{key: key, value: value, lease: lease}}}
}

func rdel(key, end string) recovOp {
	return recovOp{changes: []recovChange{{del: true, key: key, end: end, wantDelete: -1}}}
}

func rcompact(rev int64) recovOp { return recovOp{compact: rev} }

func rtxn(cs ...recovChange) recovOp { return recovOp{changes: cs} }

func recovEnd(end string) []byte {
	switch end {
	case "":
		return nil
	case "\x00":
		return []byte{}
	}
	return []byte(end)
}

// recovApply runs op on s and returns a description of its outcome, to compare between
// stores.
func recovApply(t *testing.T, s *Store, op recovOp) string {
	t.Helper()
	if op.compact != 0 {
		err := s.Compact(op.compact)
		return fmt.Sprintf("compact %d: %v", op.compact, err)
	}
	tx := s.Write()
	out := ""
	for _, c := range op.changes {
		if c.del {
			n, r := tx.DeleteRange([]byte(c.key), recovEnd(c.end))
			out += fmt.Sprintf("del %q..%q: %d @%d; ", c.key, c.end, n, r)
		} else {
			r := tx.Put([]byte(c.key), []byte(c.value), c.lease)
			out += fmt.Sprintf("put %q @%d; ", c.key, r)
		}
	}
	tx.End()
	return out
}

type recovKI struct {
	Key                   string
	Revs                  []revEntry
	Created, Ver, LeaseID int64
}

func recovIndex(s *Store) []recovKI {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []recovKI
	s.index.Ascend(func(ki *keyIndex) bool {
		out = append(out, recovKI{ki.key, ki.entries(), ki.created, ki.ver, ki.lease})
		return true
	})
	return out
}

func recovRangeAll(t *testing.T, s *Store, at int64) ([]kv.KeyValue, int, error) {
	t.Helper()
	tx := s.Read()
	defer tx.End()
	r, err := tx.Range([]byte{0}, []byte{}, RangeOptions{Rev: at})
	if err != nil {
		return nil, 0, err
	}
	return r.KVs, r.Count, nil
}

// recovCompare checks that got (recovered) and want (reference) are indistinguishable.
func recovCompare(t *testing.T, got, want *Store, gotT, wantT *recovTracker) {
	t.Helper()
	if g, w := got.Rev(), want.Rev(); g != w {
		t.Fatalf("Rev = %d, want %d", g, w)
	}
	if g, w := got.CompactRev(), want.CompactRev(); g != w {
		t.Fatalf("CompactRev = %d, want %d", g, w)
	}
	for at := max(want.CompactRev(), 1) - 1; at <= want.Rev()+1; at++ {
		gkvs, gn, gerr := recovRangeAll(t, got, at)
		wkvs, wn, werr := recovRangeAll(t, want, at)
		if gerr != werr || gn != wn || !reflect.DeepEqual(gkvs, wkvs) {
			t.Fatalf("range at %d: got %d %+v %v, want %d %+v %v", at, gn, gkvs, gerr, wn, wkvs, werr)
		}
	}
	// HashKV at the compact revision itself may differ: the reference remembers the hash it
	// took when compacting, which (as in etcd) a restart forgets.
	for at := max(want.CompactRev(), 0) + 1; at <= want.Rev(); at++ {
		gh, gerr := got.HashKV(at)
		wh, werr := want.HashKV(at)
		if gh != wh || gerr != werr {
			t.Fatalf("HashKV(%d) = %+v %v, want %+v %v", at, gh, gerr, wh, werr)
		}
	}
	if gi, wi := recovIndex(got), recovIndex(want); !reflect.DeepEqual(gi, wi) {
		t.Fatalf("index after recovery:\n got %+v\nwant %+v", gi, wi)
	}
	if gotT != nil {
		if g, w := gotT.snapshot(), wantT.snapshot(); !reflect.DeepEqual(g, w) {
			t.Fatalf("lease attachments %v, want %v", g, w)
		}
	}
}

// recovRun applies ops to a reference store and to a store that is reopened over its
// backend after every op index listed in reopenAfter, comparing them after each reopening,
// and then continues with more writes on both.
// It runs once over the memory backend and once over one that lists its records without
// values, each key valid only during the call (backend.IndexScanner, as the server's disk
// backend does).
func recovRun(t *testing.T, ops []recovOp, reopenAfter []int) {
	t.Helper()
	recovRunOn(t, backend.NewMemory(), ops, reopenAfter)
	recovRunOn(t, indexMemory{backend.NewMemory()}, ops, reopenAfter)
	recovRunOn(t, &savingMemory{Memory: backend.NewMemory()}, ops, reopenAfter)
}

// savingMemory is a memory backend that is also a backend.IndexSaver: each reopening loads
// the index saved before it instead of replaying the records.
type savingMemory struct {
	*backend.Memory
	mu     sync.Mutex // the store's writer and its compactor commit concurrently
	chunks [][]byte   // nil: nothing saved
	loads  int
}

func (m *savingMemory) saved() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.chunks != nil
}

func (m *savingMemory) Commit(b *backend.Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chunks = nil
	return m.Memory.Commit(b)
}

func (m *savingMemory) SaveIndex(next func() []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.chunks = [][]byte{}
	for c := next(); c != nil; c = next() {
		m.chunks = append(m.chunks, slices.Clone(c))
	}
	return nil
}

func (m *savingMemory) LoadIndex(fn func([]byte) error) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.chunks == nil {
		return false, nil
	}
	m.loads++
	for _, c := range m.chunks {
		if err := fn(c); err != nil {
			return true, err
		}
	}
	return true, nil
}

// indexMemory is a memory backend that is also a backend.IndexScanner, whose records' keys
// are overwritten once fn returns: recovery must copy what it keeps.
type indexMemory struct{ *backend.Memory }

func (m indexMemory) AscendIndex(from, to int64, fn func(*backend.Record) bool) {
	var key []byte
	m.Ascend(from, to, func(r *backend.Record) bool {
		key = append(key[:0], r.KV.Key...)
		ok := fn(&backend.Record{Rev: r.Rev, Tombstone: r.Tombstone, KV: kv.KeyValue{
			Key: key, CreateRevision: r.KV.CreateRevision, ModRevision: r.KV.ModRevision,
			Version: r.KV.Version, Lease: r.KV.Lease}})
		for i := range key {
			key[i] = '!'
		}
		return ok
	})
}

func recovRunOn(t *testing.T, b backend.Backend, ops []recovOp, reopenAfter []int) {
	t.Helper()
	refT := newRecovTracker()
	ref, err := New(Config{Leases: refT})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	curT := newRecovTracker()
	cur, err := New(Config{Backend: b, Leases: curT})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cur.Close() }()

	saver, saves := b.(*savingMemory)
	reopen := func() {
		t.Helper()
		cur.Close()
		if saves {
			if err := cur.SaveIndex(); err != nil {
				t.Fatal(err)
			}
			if !saver.saved() {
				t.Fatal("SaveIndex saved nothing")
			}
			saver.loads = 0
		}
		curT = newRecovTracker()
		if cur, err = New(Config{Backend: b, Leases: curT}); err != nil {
			t.Fatal(err)
		}
		if saves && saver.loads != 1 {
			t.Fatalf("the saved index was loaded %d times on reopening", saver.loads)
		}
		recovCompare(t, cur, ref, curT, refT)
	}
	for i, op := range ops {
		g, w := recovApply(t, cur, op), recovApply(t, ref, op)
		if g != w {
			t.Fatalf("op %d: %s, want %s", i, g, w)
		}
		if slices.Contains(reopenAfter, i) {
			reopen()
		}
	}
	reopen()
	// Writes after recovery: a put to every key ever written (new versions of live keys,
	// recreations of deleted ones), a delete of some, then another put.
	var keys []string
	for _, ki := range recovIndex(ref) {
		keys = append(keys, ki.Key)
	}
	keys = append(keys, "fresh")
	more := []recovOp{}
	for _, k := range keys {
		more = append(more, rput(k, "after-"+k, 0))
	}
	more = append(more, rdel(keys[0], ""), rput(keys[0], "again", 0))
	for i, op := range more {
		g, w := recovApply(t, cur, op), recovApply(t, ref, op)
		if g != w {
			t.Fatalf("after recovery, op %d: %s, want %s", i, g, w)
		}
	}
	recovCompare(t, cur, ref, curT, refT)
	reopen()
}

func TestRecovery(t *testing.T) {
	tests := []struct {
		name        string
		ops         []recovOp
		reopenAfter []int
		bug         string
	}{
		{name: "empty"},
		{
			name:        "puts",
			ops:         []recovOp{rput("a", "1", 0), rput("b", "1", 0), rput("a", "2", 0), rput("a", "3", 0)},
			reopenAfter: []int{0, 2},
		},
		{
			name: "deletes and recreation",
			ops: []recovOp{
				rput("a", "1", 0), rput("b", "1", 0), rdel("a", ""), rput("a", "2", 0),
				rdel("a", "\x00"), rput("b", "3", 0), rdel("zz", ""),
			},
			reopenAfter: []int{2, 4},
		},
		{
			name: "multi-change txns",
			ops: []recovOp{
				rtxn(recovChange{key: "a", value: "1"}, recovChange{key: "b", value: "1"}, recovChange{key: "c", value: "1"}),
				rtxn(recovChange{key: "d", value: "1"}, recovChange{del: true, key: "a", end: "c"}),
				rtxn(recovChange{key: "a", value: "2"}, recovChange{key: "b", value: "2"}),
			},
			reopenAfter: []int{0, 1},
		},
		{
			name: "leases",
			ops: []recovOp{
				rput("a", "1", 7), rput("b", "1", 7), rput("c", "1", 8), rput("b", "2", 0),
				rput("c", "2", 7), rdel("a", ""), rput("d", "1", 9),
			},
			reopenAfter: []int{1, 4},
		},
		{
			name:        "compact a fresh store",
			ops:         []recovOp{rcompact(1)},
			reopenAfter: []int{0},
		},
		{
			name:        "compact with single versions",
			ops:         []recovOp{rput("a", "1", 0), rput("b", "1", 0), rput("c", "1", 0), rcompact(3)},
			reopenAfter: []int{3},
		},
		{
			name:        "compact at a tombstone",
			ops:         []recovOp{rput("a", "1", 0), rdel("a", ""), rcompact(3), rput("b", "1", 0)},
			reopenAfter: []int{2},
		},
		{
			name:        "compact everything deleted",
			ops:         []recovOp{rput("a", "1", 0), rput("b", "1", 0), rdel("a", "\x00"), rcompact(4)},
			reopenAfter: []int{3},
		},
		{
			name: "compact keeps the newest version of a key with several",
			ops: []recovOp{
				rput("a", "1", 0), rput("a", "2", 0), rput("a", "3", 5), rput("b", "1", 0), rcompact(5),
			},
			reopenAfter: []int{4},
		},
		{
			name: "compact at the current revision",
			ops: []recovOp{
				rput("a", "1", 0), rput("a", "2", 0), rcompact(3),
			},
		},
		{
			name: "two compactions",
			ops: []recovOp{
				rput("a", "1", 0), rput("b", "1", 0), rput("a", "2", 0), rcompact(3),
				rdel("b", ""), rput("b", "2", 0), rput("a", "3", 0), rcompact(6), rput("c", "1", 0),
			},
			reopenAfter: []int{3, 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recovRun(t, tt.ops, tt.reopenAfter)
		})
	}
}

// TestRecoveryVersionAfterCompaction: after a compaction dropped a key's older versions, a
// recovered store still continues its create revision and version (from the stored KeyValue).
func TestRecoveryVersionAfterCompaction(t *testing.T) {
	b := backend.NewMemory()
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"1", "2", "3"} { // revs 2, 3, 4: versions 1, 2, 3
		tx := s.Write()
		tx.Put([]byte("k"), []byte(v), 0)
		tx.End()
	}
	if err := s.Compact(4); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tx := s.Write()
	tx.Put([]byte("k"), []byte("4"), 0) // rev 5
	tx.End()
	kvs, _, err := recovRangeAll(t, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := kv.KeyValue{Key: []byte("k"), Value: []byte("4"), CreateRevision: 2, ModRevision: 5, Version: 4}
	if len(kvs) != 1 || !reflect.DeepEqual(kvs[0], w) {
		t.Fatalf("after recovery and a put: %+v, want %+v", kvs, w)
	}
}

func recovRandomOps(seed int64, n int, compact bool) []recovOp {
	rng := rand.New(rand.NewSource(seed))
	keys := []string{"a", "a/1", "a/2", "b", "c", "c/x", "d"}
	var ops []recovOp
	rev, compactRev := int64(1), int64(-1)
	for len(ops) < n {
		k := keys[rng.Intn(len(keys))]
		switch x := rng.Intn(20); {
		case x < 10:
			ops = append(ops, rput(k, fmt.Sprint(rng.Intn(100)), int64(rng.Intn(3))))
			rev++
		case x < 14:
			end := ""
			if rng.Intn(2) == 0 {
				end = k + "0"
			}
			ops = append(ops, rdel(k, end))
			// the revision may or may not move; the store tells
		case x < 17:
			var cs []recovChange
			used := map[string]bool{}
			for i := rng.Intn(4) + 1; i > 0; i-- {
				k := keys[rng.Intn(len(keys))]
				if used[k] {
					continue
				}
				used[k] = true
				cs = append(cs, recovChange{key: k, value: "t", lease: int64(rng.Intn(2))})
			}
			ops = append(ops, rtxn(cs...))
			rev++
		default:
			if !compact {
				continue
			}
			// A revision at most the number of writes so far: the reference store
			// decides whether it is valid, and both must agree.
			at := compactRev + 1 + rng.Int63n(max(rev-compactRev, 1))
			ops = append(ops, rcompact(at))
			compactRev = at
		}
	}
	return ops
}

func TestRecoveryRandom(t *testing.T) {
	tests := []struct {
		name    string
		compact bool
		bug     string
	}{
		{"no compaction", false, ""},
		{"with compaction", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := int64(1); seed <= 5; seed++ {
				ops := recovRandomOps(seed, 200, tt.compact)
				recovRun(t, ops, []int{20, 50, 51, 99, 150})
			}
		})
	}
}

// TestRecoveryCompactRevOnly covers a backend whose history was compacted away except for
// the compact revision: the store resumes at that revision.
func TestRecoveryCompactRevOnly(t *testing.T) {
	b := backend.NewMemory()
	s, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		tx := s.Write()
		tx.Put([]byte("k"), nil, 0)
		tx.End()
	}
	tx := s.Write()
	tx.DeleteRange([]byte("k"), nil) // rev 5
	tx.End()
	if err := s.Compact(5); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Rev() != 5 || s.CompactRev() != 5 {
		t.Fatalf("rev %d compact %d, want 5 5", s.Rev(), s.CompactRev())
	}
	if kvs, n, err := recovRangeAll(t, s, 5); err != nil || n != 0 || len(kvs) != 0 {
		t.Fatalf("range at 5: %v %d %v", kvs, n, err)
	}
	if _, _, err := recovRangeAll(t, s, 4); err != ErrCompacted {
		t.Fatalf("range at 4: %v, want ErrCompacted", err)
	}
	tx = s.Write()
	if got := tx.Put([]byte("k"), []byte("v"), 0); got != 6 {
		t.Fatalf("put at %d, want 6", got)
	}
	tx.End()
	kvs, _, _ := recovRangeAll(t, s, 0)
	if w := (kv.KeyValue{Key: []byte("k"), Value: []byte("v"), CreateRevision: 6, ModRevision: 6, Version: 1}); len(kvs) != 1 || !reflect.DeepEqual(kvs[0], w) {
		t.Fatalf("recreated key %+v, want %+v", kvs, w)
	}
}

func TestRecoveryBadCompactRecord(t *testing.T) {
	b := backend.NewMemory()
	if err := b.Commit(&backend.Batch{Meta: []backend.MetaEntry{{Key: metaCompactRev, Value: []byte{1, 2, 3}}}}); err != nil {
		t.Fatal(err)
	}
	if s, err := New(Config{Backend: b}); err == nil {
		s.Close()
		t.Fatal("opened a backend with a 3-byte compact revision")
	}
}
