package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"reflect"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
)

var snapEpoch = time.Unix(1_700_000_000, 0)

// snapMust(f())(t) returns f's result, failing t if f returned an error.
func snapMust[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// snapBuild returns a store with a varied history on clk: leases with and without keys,
// overwrites, deletes, a recreated key, a multi-op txn, a revoked lease and a compaction
// followed by more writes. It returns the keys it ever wrote.
func snapBuild(t *testing.T, clk *clock.Manual) (*Store, []string) {
	t.Helper()
	s := snapMust(New(Config{Clock: clk}))(t)
	t.Cleanup(s.Close)
	put := func(k, v string, lease int64) {
		t.Helper()
		snapMust(s.Put(&PutRequest{Key: []byte(k), Value: []byte(v), Lease: lease}))(t)
	}
	del := func(k, end string) {
		t.Helper()
		snapMust(s.DeleteRange(&DeleteRangeRequest{Key: []byte(k), RangeEnd: []byte(end)}))(t)
	}
	snapMust(s.LeaseGrant(&LeaseGrantRequest{ID: 100, TTL: 100}))(t)
	snapMust(s.LeaseGrant(&LeaseGrantRequest{ID: 200, TTL: 50}))(t)
	snapMust(s.LeaseGrant(&LeaseGrantRequest{ID: 300, TTL: 10}))(t) // never holds a key
	snapMust(s.LeaseGrant(&LeaseGrantRequest{ID: 400, TTL: 30}))(t)
	put("a", "a1", 0)   // 2
	put("b", "b1", 100) // 3
	put("c", "c1", 0)   // 4
	put("a", "a2", 0)   // 5
	del("c", "")        // 6
	put("c", "c2", 200) // 7
	put("d/1", "", 0)   // 8: empty value
	put("d/2", "x", 400)
	snapMust(s.Txn(&TxnRequest{Success: []RequestOp{ // 10
		{Put: &PutRequest{Key: []byte("e"), Value: []byte("e1"), Lease: 100}},
		{Put: &PutRequest{Key: []byte("a"), Value: []byte("a3")}},
		{DeleteRange: &DeleteRangeRequest{Key: []byte("d/1")}},
	}}))(t)
	snapMust(s.LeaseRevoke(400))(t) // 11: deletes d/2
	put("f", "f1", 0)               // 12
	snapMust(s.Compact(&CompactionRequest{Revision: 9}))(t)
	put("g", "g1", 100) // 13
	put("f", "f2", 0)   // 14
	put("h", "\x00\xff", 200)
	del("g", "")        // 16
	put("b", "b2", 100) // 17
	clk.Advance(30*time.Second + 500*time.Millisecond)
	if s.Rev() != 17 || s.CompactRev() != 9 {
		t.Fatalf("built store at rev %d compact %d, want 17 9", s.Rev(), s.CompactRev())
	}
	return s, []string{"a", "b", "c", "d/1", "d/2", "e", "f", "g", "h"}
}

func snapWrite(t *testing.T, s *Store) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func snapRestore(t *testing.T, data []byte, cfg Config) *Store {
	t.Helper()
	s, err := Restore(bytes.NewReader(data), cfg)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// snapReseal recomputes the checksum of a snapshot whose body was changed.
func snapReseal(body []byte) []byte {
	out := append([]byte(nil), body...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

type snapRange struct {
	resp *RangeResponse
	err  error
}

func snapRangeAt(s *Store, key, end string, at int64) snapRange {
	r, err := s.Range(&RangeRequest{Key: []byte(key), RangeEnd: []byte(end), Revision: at})
	if r != nil {
		snapNorm(r.Kvs)
	}
	return snapRange{r, err}
}

// snapNorm makes empty values nil: a put of "" keeps an empty slice, a restored one is nil,
// and the two are the same on the wire.
func snapNorm(kvs []kvT) []kvT {
	for i := range kvs {
		if len(kvs[i].Value) == 0 {
			kvs[i].Value = nil
		}
	}
	return kvs
}

// snapCompare checks that got answers every read, hash and lease query as want does.
func snapCompare(t *testing.T, got, want *Store, keys []string) {
	t.Helper()
	if got.Rev() != want.Rev() || got.CompactRev() != want.CompactRev() {
		t.Fatalf("rev %d compact %d, want %d %d", got.Rev(), got.CompactRev(), want.Rev(), want.CompactRev())
	}
	for at := int64(-1); at <= want.Rev()+1; at++ {
		if g, w := snapRangeAt(got, "\x00", "\x00", at), snapRangeAt(want, "\x00", "\x00", at); !reflect.DeepEqual(g, w) {
			t.Fatalf("range all at %d: %+v %v, want %+v %v", at, g.resp, g.err, w.resp, w.err)
		}
		for _, k := range keys {
			if g, w := snapRangeAt(got, k, "", at), snapRangeAt(want, k, "", at); !reflect.DeepEqual(g, w) {
				t.Fatalf("range %q at %d: %+v %v, want %+v %v", k, at, g.resp, g.err, w.resp, w.err)
			}
		}
	}
	// At the compact revision itself the original answers the hash it remembered when
	// compacting, which (as in etcd) only the compacting store has; above it they agree.
	for _, at := range append([]int64{0}, rangeInts(max(want.CompactRev(), 0)+1, want.Rev())...) {
		gh, gerr := got.HashKV(at)
		wh, werr := want.HashKV(at)
		if !reflect.DeepEqual(gh, wh) || !errors.Is(gerr, werr) {
			t.Fatalf("HashKV(%d) = %+v %v, want %+v %v", at, gh, gerr, wh, werr)
		}
	}
	if g, w := got.LeaseLeases(), want.LeaseLeases(); !reflect.DeepEqual(g, w) {
		t.Fatalf("leases %+v, want %+v", g, w)
	}
	for _, id := range want.LeaseLeases().Leases {
		if g, w := got.LeaseTimeToLive(id, true), want.LeaseTimeToLive(id, true); !reflect.DeepEqual(g, w) {
			t.Fatalf("lease %d: %+v, want %+v", id, g, w)
		}
	}
}

func rangeInts(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func TestSnapshotRoundTrip(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	orig, keys := snapBuild(t, clk)
	data := snapWrite(t, orig)

	// Restore on a clock that reads another time: leases keep their remaining time.
	clk2 := clock.NewManual(snapEpoch.Add(1000 * time.Hour))
	rest := snapRestore(t, data, Config{Clock: clk2})
	snapCompare(t, rest, orig, keys)

	// Spot checks of what snapCompare compared.
	if r := rest.LeaseTimeToLive(100, true); r.TTL != 69 || r.GrantedTTL != 100 || len(r.Keys) != 2 ||
		string(r.Keys[0]) != "b" || string(r.Keys[1]) != "e" {
		t.Fatalf("lease 100 after restore: %+v", r)
	}
	if r := rest.LeaseTimeToLive(300, true); r.TTL != -1 {
		// 300 had TTL 10 and 30.5s went by: expired, but not revoked, so still there.
		if r.GrantedTTL != 10 || len(r.Keys) != 0 {
			t.Fatalf("lease 300 after restore: %+v", r)
		}
	}
	if _, err := rest.Range(&RangeRequest{Key: []byte("a"), Revision: 8}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("range below the compact revision: %v", err)
	}

	// A snapshot of the restored store is the same bytes.
	if again := snapWrite(t, rest); !bytes.Equal(again, data) {
		t.Fatal("snapshot of the restored store differs from the original snapshot")
	}

	// Both go on the same way: revoking a lease deletes the keys it held, new keys get the
	// next revisions, compaction works.
	for i, op := range []func(s *Store) (any, error){
		func(s *Store) (any, error) { return s.LeaseRevoke(200) },
		func(s *Store) (any, error) { return s.Put(&PutRequest{Key: []byte("new"), Value: []byte("n")}) },
		func(s *Store) (any, error) {
			return s.Put(&PutRequest{Key: []byte("h"), Value: []byte("h2"), PrevKv: true})
		},
		func(s *Store) (any, error) {
			return s.Put(&PutRequest{Key: []byte("g"), Value: []byte("g2"), Lease: 100, PrevKv: true})
		},
		func(s *Store) (any, error) { return s.Compact(&CompactionRequest{Revision: 15}) },
		func(s *Store) (any, error) { return s.LeaseRevoke(100) },
		func(s *Store) (any, error) { return s.LeaseRevoke(100) },
		func(s *Store) (any, error) { return s.Compact(&CompactionRequest{Revision: 12}) },
		func(s *Store) (any, error) {
			return s.LeaseGrant(&LeaseGrantRequest{ID: 500, TTL: 5})
		},
	} {
		g, gerr := op(rest)
		w, werr := op(orig)
		for _, r := range []any{g, w} {
			if p, ok := r.(*PutResponse); ok && p.PrevKv != nil {
				if len(p.PrevKv.Value) == 0 {
					p.PrevKv.Value = nil
				}
			}
		}
		if !reflect.DeepEqual(g, w) || !errors.Is(gerr, werr) {
			t.Fatalf("op %d after restore: %+v %v, want %+v %v", i, g, gerr, w, werr)
		}
	}
	if orig.Rev() != 22 {
		t.Fatalf("original at rev %d, want 22", orig.Rev())
	}
	snapCompare(t, rest, orig, append(keys, "new"))
	// Revoking 200 removed c and h (h was then recreated), revoking 100 removed b, e and g.
	r := snapMust(rest.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}))(t)
	if got := keysOf(r.Kvs); !reflect.DeepEqual(got, []string{"a", "f", "h", "new"}) {
		t.Fatalf("live keys %v", got)
	}
}

func keysOf(kvs []kvT) []string {
	out := []string{}
	for _, kv := range kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

func TestSnapshotRestoreThenRewriteCompactedKeys(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	orig, keys := snapBuild(t, clk)
	rest := snapRestore(t, snapWrite(t, orig), Config{Clock: clk})
	// "a" had versions 1-3 at revisions 2, 5, 10; compaction at 9 dropped the first two.
	for _, k := range keys {
		g, gerr := rest.Put(&PutRequest{Key: []byte(k), Value: []byte("again"), PrevKv: true})
		w, werr := orig.Put(&PutRequest{Key: []byte(k), Value: []byte("again"), PrevKv: true})
		if !reflect.DeepEqual(g, w) || gerr != werr {
			t.Fatalf("put %q: %+v %v, want %+v %v", k, g, gerr, w, werr)
		}
	}
	snapCompare(t, rest, orig, keys)
}

func TestSnapshotNoCompaction(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	s := snapMust(New(Config{Clock: clk}))(t)
	defer s.Close()
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("k%d", i%7)
		if i%5 == 4 {
			snapMust(s.DeleteRange(&DeleteRangeRequest{Key: []byte(k)}))(t)
		} else {
			snapMust(s.Put(&PutRequest{Key: []byte(k), Value: []byte(fmt.Sprint(i))}))(t)
		}
	}
	rest := snapRestore(t, snapWrite(t, s), Config{Clock: clk})
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6"}
	snapCompare(t, rest, s, keys)
	for _, k := range keys {
		g := snapMust(rest.Put(&PutRequest{Key: []byte(k), PrevKv: true}))(t)
		w := snapMust(s.Put(&PutRequest{Key: []byte(k), PrevKv: true}))(t)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("put %q after restore: %+v, want %+v", k, g, w)
		}
	}
	snapCompare(t, rest, s, keys)
}

func TestSnapshotEmptyStore(t *testing.T) {
	for _, compact := range []bool{false, true} {
		clk := clock.NewManual(snapEpoch)
		s := snapMust(New(Config{Clock: clk}))(t)
		if compact {
			snapMust(s.Compact(&CompactionRequest{Revision: 1}))(t)
		}
		data := snapWrite(t, s)
		rest := snapRestore(t, data, Config{Clock: clk})
		snapCompare(t, rest, s, nil)
		if r := snapMust(rest.Put(&PutRequest{Key: []byte("k")}))(t); r.Header.Revision != 2 {
			t.Fatalf("compact=%v: first put at %d, want 2", compact, r.Header.Revision)
		}
		s.Close()
	}
}

func TestSnapshotExpiredLease(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	s := snapMust(New(Config{Clock: clk}))(t)
	defer s.Close()
	snapMust(s.LeaseGrant(&LeaseGrantRequest{ID: 1, TTL: 5}))(t)
	snapMust(s.LeaseGrant(&LeaseGrantRequest{ID: 2, TTL: 60}))(t)
	snapMust(s.Put(&PutRequest{Key: []byte("k"), Lease: 1}))(t)
	clk.Advance(7 * time.Second) // 1 expired, not revoked
	rest := snapRestore(t, snapWrite(t, s), Config{Clock: clock.NewManual(snapEpoch)})
	if got := rest.ExpiredLeases(0); !reflect.DeepEqual(got, []int64{1}) {
		t.Fatalf("expired after restore: %v, want [1]", got)
	}
	if got := rest.LeaseKeepAlive(1); got.TTL != 0 {
		t.Fatalf("keepalive of the expired lease: %+v", got)
	}
	r := snapMust(rest.LeaseRevoke(1))(t)
	if r.Header.Revision != 3 {
		t.Fatalf("revoke at %d, want 3", r.Header.Revision)
	}
	if tl := rest.LeaseTimeToLive(2, false); tl.TTL != 53 {
		t.Fatalf("lease 2 remaining %d, want 53", tl.TTL)
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	orig, _ := snapBuild(t, clk)
	data := snapWrite(t, orig)
	body := data[:len(data)-4]

	type tc struct {
		name string
		data []byte
	}
	var tests []tc
	for n := 0; n < len(data); n++ {
		tests = append(tests, tc{fmt.Sprintf("truncated to %d", n), data[:n]})
	}
	for i := range data {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			d := bytes.Clone(data)
			d[i] ^= x
			tests = append(tests, tc{fmt.Sprintf("byte %d ^ %#x", i, x), d})
		}
	}
	tests = append(tests,
		tc{"nil", nil},
		tc{"magic only", []byte("MSNAP\x01")},
		tc{"wrong magic", snapReseal(append([]byte("XSNAP\x01"), body[6:]...))},
		tc{"wrong version", snapReseal(append([]byte("MSNAP\x03"), body[6:]...))},
		tc{"trailing byte after checksum", append(bytes.Clone(data), 0)},
		tc{"trailing bytes after checksum", append(bytes.Clone(data), data...)},
		tc{"trailing bytes inside checksum", snapReseal(append(bytes.Clone(body), 1, 2, 3))},
		tc{"trailing zero inside checksum", snapReseal(append(bytes.Clone(body), 0))},
		tc{"two snapshots", append(bytes.Clone(data), data...)},
	)
	for _, tt := range tests {
		s, err := snapSafeRestore(tt.data)
		if err == nil {
			s.Close()
			t.Fatalf("%s: restored", tt.name)
		}
		if errors.Is(err, errSnapPanic) {
			t.Fatalf("%s: %v", tt.name, err)
		}
	}
	// The checksum-level failures are ErrBadSnapshot.
	for _, d := range [][]byte{nil, data[:len(data)-1], append(bytes.Clone(data), 0),
		snapReseal(append([]byte("XSNAP\x01"), body[6:]...)), snapReseal(append(bytes.Clone(body), 0))} {
		if _, err := Restore(bytes.NewReader(d), Config{}); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("error %v is not ErrBadSnapshot", err)
		}
	}
}

var errSnapPanic = errors.New("panic")

func snapSafeRestore(data []byte) (s *Store, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("%w in Restore: %v", errSnapPanic, p)
		}
	}()
	return Restore(bytes.NewReader(data), Config{Clock: clock.NewManual(snapEpoch)})
}

// TestSnapshotCorruptBodyResealed changes each byte of the body and fixes the checksum, so
// that the decoders see the damage: Restore must refuse the stream or produce a store that
// works, never panic.
func TestSnapshotCorruptBodyResealed(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	s := snapMust(New(Config{Clock: clk}))(t)
	defer s.Close()
	snapMust(s.LeaseGrant(&LeaseGrantRequest{ID: 7, TTL: 20}))(t)
	snapMust(s.Put(&PutRequest{Key: []byte("a"), Value: []byte("1")}))(t)
	snapMust(s.Put(&PutRequest{Key: []byte("b"), Value: []byte("2"), Lease: 7}))(t)
	snapMust(s.Put(&PutRequest{Key: []byte("a"), Value: []byte("3")}))(t)
	snapMust(s.DeleteRange(&DeleteRangeRequest{Key: []byte("a")}))(t)
	snapMust(s.Compact(&CompactionRequest{Revision: 3}))(t)
	snapMust(s.Put(&PutRequest{Key: []byte("c"), Value: []byte("4")}))(t)
	data := snapWrite(t, s)
	body := data[:len(data)-4]
	restored := 0
	for i := len(snapshotMagic); i < len(body); i++ {
		for _, v := range []byte{0, 1, 2, 't', 'p', 0x7f, 0x80, 0xff, body[i] ^ 1, body[i] + 1} {
			if v == body[i] {
				continue
			}
			d := bytes.Clone(body)
			d[i] = v
			name := fmt.Sprintf("byte %d = %#x", i, v)
			rs, err := snapSafeRestore(snapReseal(d))
			if errors.Is(err, errSnapPanic) {
				t.Fatalf("%s: %v", name, err)
			}
			if err != nil {
				continue
			}
			restored++
			if err := snapExercise(rs); err != nil {
				t.Errorf("%s: restored store: %v", name, err)
			}
			rs.Close()
		}
	}
	t.Logf("%d damaged snapshots restored and exercised", restored)
}

// snapExercise uses a restored store every way it can be used, reporting panics.
func snapExercise(s *Store) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	for at := s.CompactRev(); at <= s.Rev(); at++ {
		s.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: at})
		s.HashKV(at)
	}
	keys := map[string]bool{}
	r, err := s.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	if err != nil {
		return fmt.Errorf("range: %v", err)
	}
	for _, kv := range r.Kvs {
		keys[string(kv.Key)] = true
	}
	for k := range keys {
		if _, err := s.Put(&PutRequest{Key: []byte(k), Value: []byte("x"), PrevKv: true}); err != nil {
			return fmt.Errorf("put %q: %v", k, err)
		}
	}
	for _, id := range s.LeaseLeases().Leases {
		s.LeaseTimeToLive(id, true)
		s.LeaseKeepAlive(id)
		if _, err := s.LeaseRevoke(id); err != nil {
			return fmt.Errorf("revoke %d: %v", id, err)
		}
	}
	s.Compact(&CompactionRequest{Revision: s.Rev()})
	var buf bytes.Buffer
	if err := s.WriteSnapshot(&buf); err != nil {
		return fmt.Errorf("snapshot: %v", err)
	}
	rs, err := Restore(&buf, Config{Clock: clock.NewManual(snapEpoch)})
	if err != nil {
		return fmt.Errorf("restore of the re-snapshot: %v", err)
	}
	rs.Close()
	return nil
}

func TestSnapshotRestoreIntoNonEmptyBackend(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	orig, _ := snapBuild(t, clk)
	data := snapWrite(t, orig)

	b := backend.NewMemory()
	s := snapMust(New(Config{Backend: b, Clock: clk}))(t)
	snapMust(s.Put(&PutRequest{Key: []byte("mine"), Value: []byte("v")}))(t)
	s.Close()
	if rs, err := Restore(bytes.NewReader(data), Config{Backend: b, Clock: clk}); err == nil {
		rs.Close()
		t.Fatal("restored into a backend holding data")
	}
	if b.Len() != 1 {
		t.Fatalf("failed restore changed the backend: %d records", b.Len())
	}
	// Into an empty backend it works, and the backend then holds the history.
	b2 := backend.NewMemory()
	rs := snapRestore(t, data, Config{Backend: b2, Clock: clk})
	if b2.Len() == 0 || rs.Rev() != orig.Rev() {
		t.Fatalf("restored into b2: %d records, rev %d", b2.Len(), rs.Rev())
	}
}

// snapErrReader fails after handing out part of a snapshot.
type snapErrReader struct {
	data []byte
}

func (r *snapErrReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestSnapshotReadError(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	orig, _ := snapBuild(t, clk)
	data := snapWrite(t, orig)
	if s, err := Restore(&snapErrReader{data}, Config{}); err == nil {
		s.Close()
		t.Fatal("restored from a failing reader")
	}
}

// snapFailWriter fails once n bytes have been written.
type snapFailWriter struct{ n int }

func (w *snapFailWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestSnapshotWriteError(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	orig, _ := snapBuild(t, clk)
	size := len(snapWrite(t, orig))
	for _, n := range []int{0, 1, 10, size / 2, size - 4, size - 1} {
		if err := orig.WriteSnapshot(&snapFailWriter{n}); err == nil {
			t.Fatalf("writer failing after %d of %d bytes: no error", n, size)
		}
	}
	// The store still works and a later snapshot is fine.
	snapMust(orig.Put(&PutRequest{Key: []byte("after")}))(t)
	snapRestore(t, snapWrite(t, orig), Config{Clock: clk})
}

// TestSnapshotConsistentUnderWrites takes snapshots while another goroutine writes: each
// must be a state the store was in (here: rev r holds exactly the keys k2..kr).
func TestSnapshotConsistentUnderWrites(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	s := snapMust(New(Config{Clock: clk}))(t)
	defer s.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 300; i++ {
			s.Put(&PutRequest{Key: []byte(fmt.Sprintf("k%04d", i)), Value: []byte("v")})
		}
	}()
	var snaps [][]byte
	for i := 0; i < 10; i++ {
		snaps = append(snaps, snapWrite(t, s))
	}
	wg.Wait()
	for i, d := range snaps {
		rs := snapRestore(t, d, Config{Clock: clk})
		r := snapMust(rs.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, CountOnly: true}))(t)
		if r.Count != rs.Rev()-1 {
			t.Fatalf("snapshot %d: rev %d with %d keys", i, rs.Rev(), r.Count)
		}
	}
}

// A version 1 snapshot (before lease checkpoints and the auth store) still restores. Without
// leases the two versions differ in the version byte and the auth section at the end.
func TestSnapshotReadsVersion1(t *testing.T) {
	s := snapMust(New(Config{Clock: clock.NewManual(snapEpoch)}))(t)
	defer s.Close()
	snapMust(s.Put(&PutRequest{Key: []byte("a"), Value: []byte("1")}))(t)
	data := snapWrite(t, s)
	authJSON, _ := encodeAuth(s.auth)
	body := bytes.Clone(data[:len(data)-4-len(authJSON)-len(binary.AppendUvarint(nil, uint64(len(authJSON))))])
	body[5] = 0x01
	r, err := Restore(bytes.NewReader(snapReseal(body)), Config{Clock: clock.NewManual(snapEpoch)})
	if err != nil {
		t.Fatalf("version 1: %v", err)
	}
	defer r.Close()
	if got := snapRangeAt(r, "a", "", 0); got.err != nil || len(got.resp.Kvs) != 1 {
		t.Fatalf("version 1 restored %+v", got)
	}
}

// TestSnapshotRestoreStreams restores a snapshot larger than the reader's buffer through
// readers that return a few bytes at a time, half a request, or fail part-way: the store is
// the same whatever the reads, damage past the first buffer is caught by the checksum, and
// a read error is returned, not taken for the end.
func TestSnapshotRestoreStreams(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	s := snapMust(New(Config{Clock: clk}))(t)
	defer s.Close()
	for i := range 3000 {
		snapMust(s.Put(&PutRequest{Key: fmt.Appendf(nil, "key/%05d", i%1000), Value: bytes.Repeat([]byte{byte(i)}, 100)}))(t)
	}
	data := snapWrite(t, s)
	if len(data) < 4*len(newSumReader(nil).buf) {
		t.Fatalf("the snapshot (%d bytes) does not span several buffers", len(data))
	}
	want := snapMust(s.HashKV(s.Rev()))(t)
	for _, tt := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(data)},
		{"one byte at a time", iotest.OneByteReader(bytes.NewReader(data))},
		{"half of each read", iotest.HalfReader(bytes.NewReader(data))},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(data))},
	} {
		rs, err := Restore(tt.r, Config{Clock: clk})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := snapMust(rs.HashKV(rs.Rev()))(t)
		rs.Close()
		if got.Hash != want.Hash || got.HashRevision != want.HashRevision {
			t.Fatalf("%s: restored hash %d at %d, want %d at %d", tt.name, got.Hash, got.HashRevision, want.Hash, want.HashRevision)
		}
	}
	// A value's byte far into the stream: the records still decode, the checksum refuses.
	d := bytes.Clone(data)
	at := bytes.LastIndex(d, bytes.Repeat([]byte{byte(2999 % 256)}, 100)) + 50
	d[at] ^= 1
	if _, err := Restore(bytes.NewReader(d), Config{Clock: clk}); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("a changed value: %v, want ErrBadSnapshot", err)
	}
	errRead := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(errRead))
	if _, err := Restore(r, Config{Clock: clk}); err == nil {
		t.Fatal("restored from a stream that failed half-way")
	}
}
