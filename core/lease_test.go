package core

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
)

// ltEnv is a store on a manual clock with its backend in reach, for the lease tests.
type ltEnv struct {
	s   *Store
	clk *clock.Manual
	b   *backend.Memory
}

func newLeaseEnv(t *testing.T, cfg Config) *ltEnv {
	t.Helper()
	e := &ltEnv{clk: clock.NewManual(time.Unix(1_700_000_000, 0)), b: backend.NewMemory()}
	cfg.Clock, cfg.Backend = e.clk, e.b
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	e.s = s
	return e
}

func (e *ltEnv) grant(t *testing.T, id, ttl int64) *LeaseGrantResponse {
	t.Helper()
	r, err := e.s.LeaseGrant(&LeaseGrantRequest{ID: id, TTL: ttl})
	if err != nil {
		t.Fatalf("grant %d ttl %d: %v", id, ttl, err)
	}
	return r
}

func (e *ltEnv) put(t *testing.T, key string, lease int64) int64 {
	t.Helper()
	r, err := e.s.Put(&PutRequest{Key: []byte(key), Value: []byte("v-" + key), Lease: lease})
	if err != nil {
		t.Fatalf("put %q lease %d: %v", key, lease, err)
	}
	return r.Header.Revision
}

func (e *ltEnv) revoke(t *testing.T, id int64) int64 {
	t.Helper()
	r, err := e.s.LeaseRevoke(id)
	if err != nil {
		t.Fatalf("revoke %d: %v", id, err)
	}
	return r.Header.Revision
}

// leaseKeys returns the keys a lease holds as strings.
func (e *ltEnv) leaseKeys(id int64) []string {
	r := e.s.LeaseTimeToLive(id, true)
	out := []string{}
	for _, k := range r.Keys {
		out = append(out, string(k))
	}
	return out
}

// liveKeys returns every live key with its lease.
func (e *ltEnv) liveKeys(t *testing.T) map[string]int64 {
	t.Helper()
	r, err := e.s.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, kv := range r.Kvs {
		out[string(kv.Key)] = kv.Lease
	}
	return out
}

// records returns what the backend holds at main revision rev, in sub-revision order.
func (e *ltEnv) records(rev int64) []backend.Record {
	var out []backend.Record
	e.b.Ascend(rev, rev+1, func(r *backend.Record) bool {
		out = append(out, *r)
		return true
	})
	return out
}

func ltWantStatus(t *testing.T, err error, code Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want (%d, %q)", code, msg)
	}
	if gc, gm := Status(err); gc != code || gm != msg {
		t.Fatalf("error %v: Status = (%d, %q), want (%d, %q)", err, gc, gm, code, msg)
	}
}

func TestLeaseGrantID(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	tests := []struct {
		id  int64
		wid int64 // 0: any positive ID
	}{
		{42, 42},
		{1, 1},
		{1 << 62, 1 << 62},
		{0, 0},
		{0, 0},
		{0, 0},
	}
	seen := map[int64]bool{}
	for _, tt := range tests {
		r := e.grant(t, tt.id, 10)
		if tt.wid != 0 && r.ID != tt.wid {
			t.Fatalf("grant ID %d: got ID %d", tt.id, r.ID)
		}
		if r.ID <= 0 || seen[r.ID] {
			t.Fatalf("grant ID %d: got ID %d (seen %v)", tt.id, r.ID, seen[r.ID])
		}
		seen[r.ID] = true
		if r.TTL != 10 || r.Header.Revision != 1 {
			t.Fatalf("grant ID %d: TTL %d, header revision %d", tt.id, r.TTL, r.Header.Revision)
		}
		if tl := e.s.LeaseTimeToLive(r.ID, false); tl.TTL != 10 || tl.GrantedTTL != 10 {
			t.Fatalf("lease %d: %+v", r.ID, tl)
		}
	}
}

// ltSeqIDs hands out fixed IDs, to check what LeaseGrant does with the generator's picks.
type ltSeqIDs struct {
	mu  sync.Mutex
	ids []int64
}

func (g *ltSeqIDs) Next() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := g.ids[0]
	g.ids = g.ids[1:]
	return id
}

func TestLeaseGrantIDFromGenerator(t *testing.T) {
	gen := &ltSeqIDs{ids: []int64{0, 77, 78}}
	e := newLeaseEnv(t, Config{IDs: gen})
	// A generated 0 is never used.
	if r := e.grant(t, 0, 5); r.ID != 77 {
		t.Fatalf("ID = %d, want 77", r.ID)
	}
	if r := e.grant(t, 0, 5); r.ID != 78 {
		t.Fatalf("ID = %d, want 78", r.ID)
	}
	// An explicit ID does not consume a generated one.
	e.grant(t, 5, 5)
	if len(gen.ids) != 0 {
		t.Fatalf("generator has %v left", gen.ids)
	}
}

func TestLeaseGrantTTL(t *testing.T) {
	tests := []struct {
		minTTL int64 // Config.MinLeaseTTL; 0 = default 2
		ttl    int64
		wttl   int64
	}{
		{0, 1, 2},
		{0, -5, 2},
		{0, 0, 2},
		{0, 2, 2},
		{0, 3, 3},
		{0, 30, 30},
		{0, 9_000_000_000, 9_000_000_000},
		{-1, 1, 2}, // negative configured minimum means the default
		{5, 1, 5},
		{5, 4, 5},
		{5, 5, 5},
		{5, 6, 6},
		{1, 1, 1},
		{1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("min%d/ttl%d", tt.minTTL, tt.ttl), func(t *testing.T) {
			e := newLeaseEnv(t, Config{MinLeaseTTL: tt.minTTL})
			r := e.grant(t, 1, tt.ttl)
			if r.TTL != tt.wttl {
				t.Fatalf("granted TTL = %d, want %d", r.TTL, tt.wttl)
			}
			tl := e.s.LeaseTimeToLive(1, false)
			if tl.GrantedTTL != tt.wttl || tl.TTL != tt.wttl {
				t.Fatalf("TimeToLive = %+v, want TTL and GrantedTTL %d", tl, tt.wttl)
			}
			if tt.wttl > 1000 {
				// Advancing the manual clock that far would spin its tickers (the watch
				// hub's progress ticker fires every 10 minutes) for too long.
				return
			}
			// It expires after the adjusted TTL, not the requested one.
			e.clk.Advance(time.Duration(tt.wttl)*time.Second - time.Millisecond)
			if got := e.s.ExpiredLeases(0); got != nil {
				t.Fatalf("expired before the adjusted TTL: %v", got)
			}
			e.clk.Advance(time.Millisecond)
			if got := e.s.ExpiredLeases(0); !reflect.DeepEqual(got, []int64{1}) {
				t.Fatalf("ExpiredLeases = %v, want [1]", got)
			}
		})
	}
}

func TestLeaseGrantErrors(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 5, 10)
	e.put(t, "k", 0) // rev 2

	_, err := e.s.LeaseGrant(&LeaseGrantRequest{ID: 6, TTL: 9_000_000_001})
	if !errors.Is(err, ErrLeaseTTLTooLarge) {
		t.Fatalf("too large TTL: %v", err)
	}
	ltWantStatus(t, err, CodeOutOfRange, "etcdserver: too large lease TTL")
	if tl := e.s.LeaseTimeToLive(6, false); tl.TTL != -1 {
		t.Fatalf("lease with too large TTL was created: %+v", tl)
	}
	// Too large is checked with an ID of 0 too (no ID wasted on an existing lease check).
	_, err = e.s.LeaseGrant(&LeaseGrantRequest{TTL: 1 << 62})
	ltWantStatus(t, err, CodeOutOfRange, "etcdserver: too large lease TTL")

	_, err = e.s.LeaseGrant(&LeaseGrantRequest{ID: 5, TTL: 20})
	if !errors.Is(err, ErrLeaseExists) {
		t.Fatalf("duplicate: %v", err)
	}
	ltWantStatus(t, err, CodeFailedPrecondition, "etcdserver: lease already exists")
	if tl := e.s.LeaseTimeToLive(5, false); tl.GrantedTTL != 10 {
		t.Fatalf("duplicate grant changed the lease: %+v", tl)
	}
	if got := e.s.LeaseLeases().Leases; !reflect.DeepEqual(got, []int64{5}) {
		t.Fatalf("leases = %v", got)
	}
	if e.s.Rev() != 2 {
		t.Fatalf("failed grants changed the revision to %d", e.s.Rev())
	}
}

func TestLeaseGrantNoRevision(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	if r := e.grant(t, 1, 10); r.Header.Revision != 1 {
		t.Fatalf("header revision %d, want 1", r.Header.Revision)
	}
	e.put(t, "a", 0)
	e.put(t, "b", 1)
	for i := int64(2); i < 6; i++ {
		if r := e.grant(t, i, 10); r.Header.Revision != 3 {
			t.Fatalf("grant %d: header revision %d, want 3", i, r.Header.Revision)
		}
	}
	if e.s.Rev() != 3 || e.b.Len() != 2 {
		t.Fatalf("rev %d, %d records; want 3, 2", e.s.Rev(), e.b.Len())
	}
	h1, _ := e.s.HashKV(0)
	e.grant(t, 100, 10)
	if h2, _ := e.s.HashKV(0); *h1 != *h2 {
		t.Fatalf("grant changed HashKV: %+v → %+v", h1, h2)
	}
}

func TestLeasePutUnknownLease(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 1, 10)
	e.put(t, "a", 1) // rev 2
	_, err := e.s.Put(&PutRequest{Key: []byte("b"), Value: []byte("x"), Lease: 2})
	if !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("put with unknown lease: %v", err)
	}
	ltWantStatus(t, err, CodeNotFound, "etcdserver: requested lease not found")
	// Also in a txn: nothing of the txn happens.
	_, err = e.s.Txn(&TxnRequest{Success: []RequestOp{
		{Put: &PutRequest{Key: []byte("c"), Value: []byte("x")}},
		{Put: &PutRequest{Key: []byte("d"), Value: []byte("x"), Lease: 3}},
	}})
	ltWantStatus(t, err, CodeNotFound, "etcdserver: requested lease not found")
	// A revoked lease is unknown.
	e.revoke(t, 1) // rev 3
	_, err = e.s.Put(&PutRequest{Key: []byte("a"), Value: []byte("x"), Lease: 1})
	ltWantStatus(t, err, CodeNotFound, "etcdserver: requested lease not found")
	if e.s.Rev() != 3 {
		t.Fatalf("rev = %d, want 3", e.s.Rev())
	}
	if got := e.liveKeys(t); len(got) != 0 {
		t.Fatalf("live keys %v, want none", got)
	}
}

func TestLeaseTimeToLive(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 9, 30)
	for _, k := range []string{"m", "c", "x", "a"} {
		e.put(t, k, 9)
	}
	e.put(t, "free", 0) // rev 6
	tests := []struct {
		advance time.Duration
		keys    bool
		wresp   LeaseTimeToLiveResponse
	}{
		{0, false, LeaseTimeToLiveResponse{Header: ResponseHeader{Revision: 6}, ID: 9, TTL: 30, GrantedTTL: 30}},
		{time.Millisecond, false, LeaseTimeToLiveResponse{Header: ResponseHeader{Revision: 6}, ID: 9, TTL: 29, GrantedTTL: 30}},
		{499 * time.Millisecond, true, LeaseTimeToLiveResponse{Header: ResponseHeader{Revision: 6}, ID: 9, TTL: 29, GrantedTTL: 30,
			Keys: [][]byte{[]byte("a"), []byte("c"), []byte("m"), []byte("x")}}},
		{500 * time.Millisecond, false, LeaseTimeToLiveResponse{Header: ResponseHeader{Revision: 6}, ID: 9, TTL: 29, GrantedTTL: 30}},
		{time.Millisecond, false, LeaseTimeToLiveResponse{Header: ResponseHeader{Revision: 6}, ID: 9, TTL: 28, GrantedTTL: 30}},
		{28 * time.Second, false, LeaseTimeToLiveResponse{Header: ResponseHeader{Revision: 6}, ID: 9, TTL: 0, GrantedTTL: 30}},
	}
	for i, tt := range tests {
		e.clk.Advance(tt.advance)
		if got := e.s.LeaseTimeToLive(9, tt.keys); !reflect.DeepEqual(*got, tt.wresp) {
			t.Fatalf("step %d: TimeToLive = %+v, want %+v", i, *got, tt.wresp)
		}
	}
	// Unknown lease: TTL -1, no error, header at the current revision.
	w := LeaseTimeToLiveResponse{Header: ResponseHeader{Revision: 6}, ID: 12345, TTL: -1}
	if got := e.s.LeaseTimeToLive(12345, true); !reflect.DeepEqual(*got, w) {
		t.Fatalf("unknown lease: %+v, want %+v", *got, w)
	}
	// A lease with no keys, asked for keys.
	e.grant(t, 10, 5)
	if got := e.s.LeaseTimeToLive(10, true); len(got.Keys) != 0 || got.TTL != 5 {
		t.Fatalf("empty lease: %+v", *got)
	}
}

func TestLeaseKeepAlive(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 1, 10)
	e.grant(t, 2, 10)
	e.put(t, "k", 1) // rev 2

	e.clk.Advance(8 * time.Second)
	if tl := e.s.LeaseTimeToLive(1, false); tl.TTL != 2 {
		t.Fatalf("TTL before keepalive = %d", tl.TTL)
	}
	w := LeaseKeepAliveResponse{Header: ResponseHeader{Revision: 2}, ID: 1, TTL: 10}
	if got := e.s.LeaseKeepAlive(1); *got != w {
		t.Fatalf("keepalive = %+v, want %+v", *got, w)
	}
	if tl := e.s.LeaseTimeToLive(1, false); tl.TTL != 10 || tl.GrantedTTL != 10 {
		t.Fatalf("after keepalive: %+v", tl)
	}
	// Keep-alive is not a write.
	if e.s.Rev() != 2 {
		t.Fatalf("rev = %d", e.s.Rev())
	}

	// Unknown lease: TTL 0, no error.
	if got := e.s.LeaseKeepAlive(99); *got != (LeaseKeepAliveResponse{Header: ResponseHeader{Revision: 2}, ID: 99}) {
		t.Fatalf("unknown keepalive = %+v", *got)
	}

	// Lease 2 expired (clock past its expiry) but not yet revoked: TTL 0, and it stays expired.
	e.clk.Advance(2 * time.Second) // t = 10s: lease 2's exact expiry
	if got := e.s.LeaseKeepAlive(2); got.TTL != 0 || got.ID != 2 {
		t.Fatalf("expired keepalive = %+v", *got)
	}
	e.clk.Advance(time.Second)
	if got := e.s.LeaseKeepAlive(2); got.TTL != 0 {
		t.Fatalf("expired keepalive = %+v", *got)
	}
	if got := e.s.ExpiredLeases(0); !reflect.DeepEqual(got, []int64{2}) {
		t.Fatalf("ExpiredLeases = %v, want [2]", got)
	}
	// Lease 1, renewed at 8s, is still alive at 11s.
	if got := e.s.LeaseKeepAlive(1); got.TTL != 10 {
		t.Fatalf("keepalive of live lease = %+v", *got)
	}
	// Revoked: TTL 0.
	e.revoke(t, 1)
	if got := e.s.LeaseKeepAlive(1); got.TTL != 0 || got.Header.Revision != 3 {
		t.Fatalf("keepalive after revoke = %+v", *got)
	}
}

func TestLeaseExpiredLeases(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 1, 5)
	e.grant(t, 2, 10)
	e.grant(t, 3, 10)
	e.grant(t, 4, 60)
	steps := []struct {
		at     time.Duration // since the grants
		limit  int
		do     func()
		wids   []int64
		wcount int // if wids is nil: how many; -1 = don't check
	}{
		{at: 0, wids: nil},
		{at: 4999 * time.Millisecond, wids: nil},
		{at: 5 * time.Second, wids: []int64{1}},
		{at: 5 * time.Second, wids: nil},                            // reported: not again right away
		{at: 5 * time.Second, do: func() { e.s.LeaseKeepAlive(3) }}, // 3 now expires at 15s
		{at: 7999 * time.Millisecond, wids: nil},
		{at: 8 * time.Second, wids: []int64{1}}, // not revoked: reported again after 3s
		{at: 8 * time.Second, do: func() { e.revoke(t, 1) }},
		{at: 9999 * time.Millisecond, wids: nil},
		{at: 10 * time.Second, wids: []int64{2}},
		{at: 12999 * time.Millisecond, wids: nil},
		{at: 13 * time.Second, wids: []int64{2}},
		{at: 13 * time.Second, do: func() { e.revoke(t, 2) }},
		{at: 14999 * time.Millisecond, wids: nil},
		{at: 15 * time.Second, wids: []int64{3}},
		{at: 15 * time.Second, do: func() { e.revoke(t, 3) }},
		{at: 59 * time.Second, wids: nil},
		{at: 100 * time.Second, wids: []int64{4}},
	}
	start := e.clk.Now()
	for i, st := range steps {
		e.clk.Set(start.Add(st.at))
		if st.do != nil {
			st.do()
			continue
		}
		if got := e.s.ExpiredLeases(st.limit); !reflect.DeepEqual(got, st.wids) {
			t.Fatalf("step %d at %v: ExpiredLeases = %v, want %v", i, st.at, got, st.wids)
		}
	}
}

func TestLeaseExpiredLeasesLimit(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	// Expiring at 2s, 3s, ... 11s; all due at 20s, earliest first.
	for i := int64(1); i <= 10; i++ {
		e.grant(t, 100-i, i+1)
	}
	e.clk.Advance(20 * time.Second)
	var got []int64
	for {
		ids := e.s.ExpiredLeases(3)
		if len(ids) == 0 {
			break
		}
		if len(ids) > 3 {
			t.Fatalf("ExpiredLeases(3) returned %d", len(ids))
		}
		got = append(got, ids...)
	}
	if w := []int64{99, 98, 97, 96, 95, 94, 93, 92, 91, 90}; !reflect.DeepEqual(got, w) {
		t.Fatalf("expired = %v, want %v", got, w)
	}
}

func TestLeaseRevoke(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 1, 10)
	e.grant(t, 2, 10)
	// rev 2..6
	e.put(t, "c", 1)
	e.put(t, "a", 1)
	e.put(t, "z", 0)
	e.put(t, "b", 1)
	e.put(t, "y", 2)

	if got := e.revoke(t, 1); got != 7 {
		t.Fatalf("revoke header revision %d, want 7", got)
	}
	if e.s.Rev() != 7 {
		t.Fatalf("rev %d, want 7", e.s.Rev())
	}
	// One revision, one tombstone per key, sub-revisions in key order.
	var got []string
	for _, r := range e.records(7) {
		if !r.Tombstone || r.Rev.Main != 7 || r.KV.ModRevision != 7 {
			t.Fatalf("record %+v is not a tombstone at 7", r)
		}
		got = append(got, fmt.Sprintf("%d:%s", r.Rev.Sub, r.KV.Key))
	}
	if w := []string{"0:a", "1:b", "2:c"}; !reflect.DeepEqual(got, w) {
		t.Fatalf("revision 7 = %v, want %v", got, w)
	}
	if live := e.liveKeys(t); !reflect.DeepEqual(live, map[string]int64{"y": 2, "z": 0}) {
		t.Fatalf("live keys %v", live)
	}
	// History before the revoke still has them.
	r, err := e.s.Range(&RangeRequest{Key: []byte("a"), RangeEnd: []byte("d"), Revision: 6})
	if err != nil || len(r.Kvs) != 3 || r.Kvs[0].Lease != 1 {
		t.Fatalf("range at 6: %+v, %v", r, err)
	}
	if tl := e.s.LeaseTimeToLive(1, true); tl.TTL != -1 {
		t.Fatalf("revoked lease still there: %+v", tl)
	}
	if got := e.s.LeaseLeases().Leases; !reflect.DeepEqual(got, []int64{2}) {
		t.Fatalf("leases %v", got)
	}

	// Unknown, and revoking twice.
	_, err = e.s.LeaseRevoke(1)
	if !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	ltWantStatus(t, err, CodeNotFound, "etcdserver: requested lease not found")
	_, err = e.s.LeaseRevoke(12345)
	ltWantStatus(t, err, CodeNotFound, "etcdserver: requested lease not found")
	if e.s.Rev() != 7 {
		t.Fatalf("failed revokes changed the revision to %d", e.s.Rev())
	}
}

func TestLeaseRevokeNoKeys(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 1, 10)
	e.grant(t, 2, 10)
	e.put(t, "k", 0) // rev 2
	e.put(t, "l", 2) // rev 3
	e.put(t, "l", 0) // rev 4: detached again
	tests := []struct {
		id   int64
		wrev int64
	}{
		{1, 4}, // never had keys
		{2, 4}, // had a key, lost it
	}
	for _, tt := range tests {
		if got := e.revoke(t, tt.id); got != tt.wrev {
			t.Fatalf("revoke %d: header revision %d, want %d", tt.id, got, tt.wrev)
		}
	}
	if e.s.Rev() != 4 || e.b.Len() != 3 {
		t.Fatalf("rev %d, %d records; want 4, 3", e.s.Rev(), e.b.Len())
	}
	if len(e.s.LeaseLeases().Leases) != 0 {
		t.Fatal("leases left")
	}
}

func TestLeaseRevokeExpired(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 1, 5)
	e.put(t, "b", 1) // 2
	e.put(t, "a", 1) // 3
	e.clk.Advance(5 * time.Second)
	ids := e.s.ExpiredLeases(0)
	if !reflect.DeepEqual(ids, []int64{1}) {
		t.Fatalf("expired %v", ids)
	}
	// What the server does with them: revoke.
	if got := e.revoke(t, ids[0]); got != 4 {
		t.Fatalf("revoke header %d, want 4", got)
	}
	recs := e.records(4)
	if len(recs) != 2 || string(recs[0].KV.Key) != "a" || string(recs[1].KV.Key) != "b" || !recs[0].Tombstone || !recs[1].Tombstone {
		t.Fatalf("revision 4 = %+v", recs)
	}
	if len(e.liveKeys(t)) != 0 {
		t.Fatal("keys survived")
	}
	e.clk.Advance(10 * time.Second)
	if got := e.s.ExpiredLeases(0); got != nil {
		t.Fatalf("revoked lease reported: %v", got)
	}
}

func TestLeaseAttachDetach(t *testing.T) {
	tests := []struct {
		name string
		// run gets leases 1 and 2 and returns after doing its writes.
		run    func(t *testing.T, e *ltEnv)
		wkeys1 []string // lease 1's keys
		wkeys2 []string // lease 2's keys
		// what is left live after revoking lease 1, then lease 2
		wafter1, wafter2 map[string]int64
	}{
		{
			name:    "put attaches",
			run:     func(t *testing.T, e *ltEnv) { e.put(t, "k", 1) },
			wkeys1:  []string{"k"},
			wkeys2:  []string{},
			wafter1: map[string]int64{},
			wafter2: map[string]int64{},
		},
		{
			name: "re-put without lease detaches",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "k", 1)
				e.put(t, "k", 0)
			},
			wkeys1:  []string{},
			wkeys2:  []string{},
			wafter1: map[string]int64{"k": 0},
			wafter2: map[string]int64{"k": 0},
		},
		{
			name: "put with another lease moves",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "k", 1)
				e.put(t, "j", 1)
				e.put(t, "k", 2)
			},
			wkeys1:  []string{"j"},
			wkeys2:  []string{"k"},
			wafter1: map[string]int64{"k": 2},
			wafter2: map[string]int64{},
		},
		{
			name: "re-put with the same lease keeps it",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "k", 1)
				e.put(t, "k", 1)
			},
			wkeys1:  []string{"k"},
			wkeys2:  []string{},
			wafter1: map[string]int64{},
			wafter2: map[string]int64{},
		},
		{
			name: "delete detaches",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "k", 1)
				e.put(t, "j", 1)
				if _, err := e.s.DeleteRange(&DeleteRangeRequest{Key: []byte("k")}); err != nil {
					t.Fatal(err)
				}
			},
			wkeys1:  []string{"j"},
			wkeys2:  []string{},
			wafter1: map[string]int64{},
			wafter2: map[string]int64{},
		},
		{
			name: "range delete detaches",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "a1", 1)
				e.put(t, "a2", 2)
				e.put(t, "b", 1)
				if _, err := e.s.DeleteRange(&DeleteRangeRequest{Key: []byte("a"), RangeEnd: []byte("b")}); err != nil {
					t.Fatal(err)
				}
			},
			wkeys1:  []string{"b"},
			wkeys2:  []string{},
			wafter1: map[string]int64{},
			wafter2: map[string]int64{},
		},
		{
			name: "deleted then re-put without lease",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "k", 1)
				if _, err := e.s.DeleteRange(&DeleteRangeRequest{Key: []byte("k")}); err != nil {
					t.Fatal(err)
				}
				e.put(t, "k", 0)
			},
			wkeys1:  []string{},
			wkeys2:  []string{},
			wafter1: map[string]int64{"k": 0},
			wafter2: map[string]int64{"k": 0},
		},
		{
			name: "ignore_lease keeps the lease",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "k", 1)
				if _, err := e.s.Put(&PutRequest{Key: []byte("k"), Value: []byte("new"), IgnoreLease: true}); err != nil {
					t.Fatal(err)
				}
				r, _ := e.s.Range(&RangeRequest{Key: []byte("k")})
				if r.Kvs[0].Lease != 1 || string(r.Kvs[0].Value) != "new" || r.Kvs[0].Version != 2 {
					t.Fatalf("after ignore_lease put: %+v", r.Kvs[0])
				}
			},
			wkeys1:  []string{"k"},
			wkeys2:  []string{},
			wafter1: map[string]int64{},
			wafter2: map[string]int64{},
		},
		{
			name: "ignore_value keeps the value, not the lease",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "k", 1)
				if _, err := e.s.Put(&PutRequest{Key: []byte("k"), IgnoreValue: true, Lease: 2}); err != nil {
					t.Fatal(err)
				}
			},
			wkeys1:  []string{},
			wkeys2:  []string{"k"},
			wafter1: map[string]int64{"k": 2},
			wafter2: map[string]int64{},
		},
		{
			name: "txn puts and deletes",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "d", 2)
				_, err := e.s.Txn(&TxnRequest{Success: []RequestOp{
					{Put: &PutRequest{Key: []byte("x"), Lease: 1}},
					{Put: &PutRequest{Key: []byte("y"), Lease: 2}},
					{DeleteRange: &DeleteRangeRequest{Key: []byte("d")}},
				}})
				if err != nil {
					t.Fatal(err)
				}
			},
			wkeys1:  []string{"x"},
			wkeys2:  []string{"y"},
			wafter1: map[string]int64{"y": 2},
			wafter2: map[string]int64{},
		},
		{
			name: "failed txn leaves attachments alone",
			run: func(t *testing.T, e *ltEnv) {
				e.put(t, "k", 1)
				e.put(t, "m", 2)
				// The from-key delete removes k (detaching it), then ignore_value on k finds
				// no key: the txn is undone as a whole.
				_, err := e.s.Txn(&TxnRequest{Success: []RequestOp{
					{Put: &PutRequest{Key: []byte("m"), Lease: 1}},
					{DeleteRange: &DeleteRangeRequest{Key: []byte("j"), RangeEnd: []byte{0}}},
					{Put: &PutRequest{Key: []byte("k"), IgnoreValue: true}},
				}})
				if err == nil {
					t.Fatal("the txn succeeded; it must fail as a whole")
				}
			},
			wkeys1:  []string{"k"},
			wkeys2:  []string{"m"},
			wafter1: map[string]int64{"m": 2},
			wafter2: map[string]int64{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newLeaseEnv(t, Config{})
			e.grant(t, 1, 100)
			e.grant(t, 2, 100)
			tt.run(t, e)
			if got := e.leaseKeys(1); !reflect.DeepEqual(got, tt.wkeys1) {
				t.Fatalf("lease 1 keys %q, want %q", got, tt.wkeys1)
			}
			if got := e.leaseKeys(2); !reflect.DeepEqual(got, tt.wkeys2) {
				t.Fatalf("lease 2 keys %q, want %q", got, tt.wkeys2)
			}
			// Every live key's Lease field agrees with the lessor.
			for k, l := range e.liveKeys(t) {
				if l != 0 && !slices.Contains(e.leaseKeys(l), k) {
					t.Fatalf("key %q says lease %d, which does not list it", k, l)
				}
			}
			e.revoke(t, 1)
			if got := e.liveKeys(t); !reflect.DeepEqual(got, tt.wafter1) {
				t.Fatalf("after revoking 1: %v, want %v", got, tt.wafter1)
			}
			e.revoke(t, 2)
			if got := e.liveKeys(t); !reflect.DeepEqual(got, tt.wafter2) {
				t.Fatalf("after revoking 2: %v, want %v", got, tt.wafter2)
			}
		})
	}
}

func TestLeaseLeases(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	if r := e.s.LeaseLeases(); len(r.Leases) != 0 || r.Header.Revision != 1 {
		t.Fatalf("empty: %+v", r)
	}
	ids := []int64{50, 3, 7, 1 << 40}
	for _, id := range ids {
		e.grant(t, id, 10)
	}
	gen := e.grant(t, 0, 10).ID
	e.put(t, "k", 3)
	e.revoke(t, 7)
	r := e.s.LeaseLeases()
	got := slices.Clone(r.Leases)
	slices.Sort(got)
	w := []int64{3, 50, gen, 1 << 40}
	slices.Sort(w)
	if !reflect.DeepEqual(got, w) || r.Header.Revision != 2 {
		t.Fatalf("leases %v at %d, want %v at 2", r.Leases, r.Header.Revision, w)
	}
	// Expired but not revoked leases are still listed.
	e.clk.Advance(time.Minute)
	if n := len(e.s.LeaseLeases().Leases); n != 4 {
		t.Fatalf("%d leases listed after expiry, want 4", n)
	}
}

func TestLeasePromote(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	e.grant(t, 1, 10)
	e.grant(t, 2, 3)
	e.clk.Advance(5 * time.Second)
	if got := e.s.ExpiredLeases(0); !reflect.DeepEqual(got, []int64{2}) {
		t.Fatalf("expired %v", got)
	}
	e.s.PromoteLeases(2)
	for _, w := range []struct{ id, ttl int64 }{{1, 12}, {2, 5}} {
		if tl := e.s.LeaseTimeToLive(w.id, false); tl.TTL != w.ttl || tl.GrantedTTL != map[int64]int64{1: 10, 2: 3}[w.id] {
			t.Fatalf("lease %d after promote: %+v, want TTL %d", w.id, tl, w.ttl)
		}
	}
	e.clk.Advance(5*time.Second - time.Millisecond)
	if got := e.s.ExpiredLeases(0); got != nil {
		t.Fatalf("expired early: %v", got)
	}
	e.clk.Advance(time.Millisecond)
	if got := e.s.ExpiredLeases(0); !reflect.DeepEqual(got, []int64{2}) {
		t.Fatalf("expired %v, want [2]", got)
	}
	e.clk.Advance(7 * time.Second)
	if got := e.s.ExpiredLeases(0); !slices.Contains(got, 1) {
		t.Fatalf("expired %v, want 1 in it", got)
	}
}

func TestLeaseConcurrent(t *testing.T) {
	e := newLeaseEnv(t, Config{})
	const n = 20
	for i := int64(1); i <= n; i++ {
		e.grant(t, i, 60)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			id := int64(i%n + 1)
			e.s.LeaseKeepAlive(id)
			e.s.LeaseTimeToLive(id, true)
			e.s.LeaseLeases()
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			e.s.Put(&PutRequest{Key: []byte(fmt.Sprintf("k%03d", i)), Lease: int64(i%n + 1)})
		}
	}()
	go func() {
		defer wg.Done()
		for i := int64(1); i <= n; i += 2 {
			e.s.LeaseRevoke(i)
			e.clk.Advance(10 * time.Millisecond)
			e.s.ExpiredLeases(0)
		}
	}()
	wg.Wait()
	// Every live key belongs to a live lease that lists it, and every listed key is live.
	live := e.liveKeys(t)
	attached := 0
	for _, id := range e.s.LeaseLeases().Leases {
		if id%2 == 1 {
			t.Fatalf("revoked lease %d still listed", id)
		}
		for _, k := range e.leaseKeys(id) {
			attached++
			if live[k] != id {
				t.Fatalf("lease %d lists %q, whose lease is %d", id, k, live[k])
			}
		}
	}
	if attached != len(live) {
		t.Fatalf("%d keys attached, %d live", attached, len(live))
	}
}

// TestLeaseCheckpointAcrossReopen: leases come back from a persistent backend; after
// CheckpointLeases (a clean stop) with the time they had left, otherwise, and on the next
// reopen (the checkpoint is cleared on use), with a fresh TTL.
func TestLeaseCheckpointAcrossReopen(t *testing.T) {
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	b := backend.NewMemory()
	open := func() *Store { return openOn(t, b, clk) }
	s := open()
	if _, err := s.LeaseGrant(&LeaseGrantRequest{ID: 9, TTL: 100}); err != nil {
		t.Fatal(err)
	}
	s.Put(&PutRequest{Key: []byte("k"), Value: []byte("v"), Lease: 9})
	clk.Advance(30 * time.Second)
	if err := s.CheckpointLeases(); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = open()
	if ttl := s.LeaseTimeToLive(9, true); ttl.TTL != 70 || ttl.GrantedTTL != 100 || len(ttl.Keys) != 1 {
		t.Fatalf("after a checkpointed reopen: %+v", ttl)
	}
	s.Close()
	s = open() // no checkpoint this time: a fresh TTL
	defer s.Close()
	if ttl := s.LeaseTimeToLive(9, false); ttl.TTL != 100 {
		t.Fatalf("after a reopen without checkpoint: %+v", ttl)
	}
	if _, err := s.LeaseRevoke(9); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	if l := s.LeaseLeases().Leases; len(l) != 0 {
		t.Fatalf("revoked lease came back: %v", l)
	}
}

// Replicated checkpoints (etcd's LeaseCheckpoint): a promote counts down from the
// checkpointed remaining TTL, not a full one; the checkpoint survives a reopen and a
// snapshot, a zero clears it, a revoke removes it, and unknown leases are skipped.
func TestLeaseReplicatedCheckpoint(t *testing.T) {
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	b := backend.NewMemory()
	open := func() *Store { return openOn(t, b, clk) }
	s := open()
	for _, id := range []int64{1, 2, 3} {
		if _, err := s.LeaseGrant(&LeaseGrantRequest{ID: id, TTL: 100}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.LeaseCheckpoint([]LeaseCheckpoint{{ID: 1, RemainingTTL: 40}, {ID: 2, RemainingTTL: 30}, {ID: 99, RemainingTTL: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := s.LeaseCheckpoint([]LeaseCheckpoint{{ID: 2, RemainingTTL: 0}}); err != nil { // a renewal cleared it
		t.Fatal(err)
	}
	if !s.LeaseCheckpointed(1) || s.LeaseCheckpointed(2) || s.LeaseCheckpointed(3) || s.LeaseCheckpointed(99) {
		t.Fatalf("checkpointed: 1=%v 2=%v 3=%v 99=%v", s.LeaseCheckpointed(1), s.LeaseCheckpointed(2), s.LeaseCheckpointed(3), s.LeaseCheckpointed(99))
	}
	check := func(s *Store, when string) {
		t.Helper()
		s.PromoteLeases(2)
		for id, want := range map[int64]int64{1: 42, 2: 102, 3: 102} {
			if ttl := s.LeaseTimeToLive(id, false); ttl.TTL != want || ttl.GrantedTTL != 100 {
				t.Fatalf("%s: lease %d after promote: %+v, want TTL %d", when, id, ttl, want)
			}
		}
	}
	check(s, "in place")
	s.Close()
	s = open()
	check(s, "after a reopen")
	snap := snapWrite(t, s)
	r, err := Restore(bytes.NewReader(snap), Config{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	check(r, "after a snapshot")
	r.Close()
	if _, err := s.LeaseRevoke(1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaseGrant(&LeaseGrantRequest{ID: 1, TTL: 100}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open()
	defer s.Close()
	if s.LeaseCheckpointed(1) {
		t.Fatal("a revoked lease's checkpoint came back with a new lease of the same ID")
	}
}

// openOn opens a store on backend b (again, to test what survives a reopen).
func openOn(t *testing.T, b backend.Backend, clk clock.Clock) *Store {
	t.Helper()
	s, err := New(Config{Backend: b, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
