package lease

import (
	"errors"
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/metastore/metastore/core/clock"
)

var epoch = time.Unix(1_700_000_000, 0)

func newTestLessor(cfg Config) (*Lessor, *clock.Manual) {
	clk := clock.NewManual(epoch)
	cfg.Clock = clk
	return New(cfg), clk
}

// checkQueue verifies the heap invariants: every lease queued exactly once, with its index
// right, and the heap order by (due, id).
func checkQueue(t *testing.T, l *Lessor) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) != len(l.leases) {
		t.Fatalf("queue holds %d leases, map %d", len(l.queue), len(l.leases))
	}
	for i, le := range l.queue {
		if le.index != i {
			t.Fatalf("queue[%d] (lease %d) has index %d", i, le.id, le.index)
		}
		if l.leases[le.id] != le {
			t.Fatalf("queue[%d] lease %d not in map", i, le.id)
		}
		if i > 0 && l.queue.Less(i, (i-1)/2) {
			t.Fatalf("heap order broken at %d", i)
		}
	}
}

func TestGrantTTL(t *testing.T) {
	tests := []struct {
		min, ttl int64
		wttl     int64
		werr     error
	}{
		{0, 1, 2, nil},
		{0, -5, 2, nil},
		{0, 0, 2, nil},
		{0, 2, 2, nil},
		{0, 3, 3, nil},
		{5, 4, 5, nil},
		{5, 6, 6, nil},
		{1, 1, 1, nil},
		{0, MaxLeaseTTL, MaxLeaseTTL, nil},
		{0, MaxLeaseTTL + 1, 0, ErrLeaseTTLTooLarge},
	}
	for _, tt := range tests {
		l, _ := newTestLessor(Config{MinTTL: tt.min})
		ttl, err := l.Grant(1, tt.ttl)
		if !errors.Is(err, tt.werr) || ttl != tt.wttl {
			t.Errorf("min %d: Grant(ttl %d) = %d, %v; want %d, %v", tt.min, tt.ttl, ttl, err, tt.wttl, tt.werr)
		}
		if (err == nil) != l.Exists(1) {
			t.Errorf("min %d ttl %d: Exists = %v after err %v", tt.min, tt.ttl, l.Exists(1), err)
		}
	}
}

func TestGrantExists(t *testing.T) {
	l, _ := newTestLessor(Config{})
	if _, err := l.Grant(7, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Grant(7, 20); !errors.Is(err, ErrLeaseExists) {
		t.Fatalf("duplicate grant: %v", err)
	}
	if info, _ := l.TimeToLive(7, false); info.GrantedTTL != 10 {
		t.Fatalf("duplicate grant changed the TTL to %d", info.GrantedTTL)
	}
	checkQueue(t, l)
}

func TestExpiredOrder(t *testing.T) {
	l, clk := newTestLessor(Config{})
	// id → ttl; ties in expiry are reported by ID.
	grants := []struct{ id, ttl int64 }{{5, 3}, {3, 3}, {9, 2}, {1, 10}, {4, 3}, {2, 7}}
	for _, g := range grants {
		if _, err := l.Grant(g.id, g.ttl); err != nil {
			t.Fatal(err)
		}
	}
	checkQueue(t, l)
	clk.Advance(20 * time.Second)
	if got, w := l.Expired(0), []int64{9, 3, 4, 5, 2, 1}; !reflect.DeepEqual(got, w) {
		t.Fatalf("Expired = %v, want %v", got, w)
	}
	checkQueue(t, l)
}

func TestExpiredLimitAndRetry(t *testing.T) {
	l, clk := newTestLessor(Config{RetryAfter: time.Second})
	for id := int64(1); id <= 5; id++ {
		if _, err := l.Grant(id, 2); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2 * time.Second)
	steps := []struct {
		advance time.Duration
		limit   int
		wids    []int64
	}{
		{0, 2, []int64{1, 2}},
		{0, 2, []int64{3, 4}},
		{0, 0, []int64{5}},
		{0, 0, nil},
		{999 * time.Millisecond, 0, nil},
		// RetryAfter later, all are reported again (1..4 first reported at the same instant
		// as 5, so all come due together).
		{time.Millisecond, 3, []int64{1, 2, 3}},
		{0, 0, []int64{4, 5}},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		if got := l.Expired(st.limit); !reflect.DeepEqual(got, st.wids) {
			t.Fatalf("step %d: Expired(%d) = %v, want %v", i, st.limit, got, st.wids)
		}
		checkQueue(t, l)
	}
}

func TestRenew(t *testing.T) {
	l, clk := newTestLessor(Config{})
	if _, err := l.Grant(1, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Grant(2, 5); err != nil {
		t.Fatal(err)
	}
	clk.Advance(4 * time.Second)
	if ttl, err := l.Renew(2); err != nil || ttl != 5 {
		t.Fatalf("Renew(2) = %d, %v", ttl, err)
	}
	checkQueue(t, l)
	// 2 now expires at 9s, before 1 at 10s.
	clk.Advance(5 * time.Second)
	if got := l.Expired(0); !reflect.DeepEqual(got, []int64{2}) {
		t.Fatalf("Expired at 9s = %v", got)
	}
	// Expired and reported: renewing does not bring it back.
	if ttl, err := l.Renew(2); !errors.Is(err, ErrLeaseNotFound) || ttl != -1 {
		t.Fatalf("Renew(expired) = %d, %v", ttl, err)
	}
	if ttl, err := l.Renew(99); !errors.Is(err, ErrLeaseNotFound) || ttl != -1 {
		t.Fatalf("Renew(unknown) = %d, %v", ttl, err)
	}
	// Exactly at expiry a lease is expired.
	clk.Advance(time.Second)
	if _, err := l.Renew(1); !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("Renew at exact expiry: %v", err)
	}
}

func TestTimeToLiveAndKeys(t *testing.T) {
	l, clk := newTestLessor(Config{})
	if _, err := l.Grant(1, 30); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b", "a", "c", "a"} {
		l.Attach(1, []byte(k))
	}
	l.Attach(2, []byte("x")) // unknown lease: ignored
	l.Detach(1, []byte("c"))
	l.Detach(1, []byte("nope"))
	l.Detach(2, []byte("x"))
	clk.Advance(500 * time.Millisecond)
	info, ok := l.TimeToLive(1, true)
	w := Info{ID: 1, TTL: 29, GrantedTTL: 30, Keys: [][]byte{[]byte("a"), []byte("b")}}
	if !ok || !reflect.DeepEqual(info, w) {
		t.Fatalf("TimeToLive = %+v, %v; want %+v", info, ok, w)
	}
	if info, _ := l.TimeToLive(1, false); info.Keys != nil {
		t.Fatalf("keys returned without asking: %q", info.Keys)
	}
	if keys, err := l.Keys(1); err != nil || len(keys) != 2 {
		t.Fatalf("Keys = %q, %v", keys, err)
	}
	if _, ok := l.TimeToLive(2, true); ok {
		t.Fatal("unknown lease found")
	}
	if _, err := l.Keys(2); !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("Keys(unknown): %v", err)
	}
}

func TestRemove(t *testing.T) {
	l, clk := newTestLessor(Config{})
	for id := int64(1); id <= 6; id++ {
		if _, err := l.Grant(id, id+1); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int64{3, 1, 6} {
		if err := l.Remove(id); err != nil {
			t.Fatal(err)
		}
		checkQueue(t, l)
	}
	if err := l.Remove(3); !errors.Is(err, ErrLeaseNotFound) {
		t.Fatalf("Remove twice: %v", err)
	}
	if got, w := l.Leases(), []int64{2, 4, 5}; !reflect.DeepEqual(got, w) {
		t.Fatalf("Leases = %v, want %v", got, w)
	}
	clk.Advance(time.Hour)
	if got, w := l.Expired(0), []int64{2, 4, 5}; !reflect.DeepEqual(got, w) {
		t.Fatalf("Expired = %v, want %v", got, w)
	}
	// A removed ID can be granted again.
	if _, err := l.Grant(3, 5); err != nil {
		t.Fatal(err)
	}
	checkQueue(t, l)
}

func TestEntriesRestore(t *testing.T) {
	l, clk := newTestLessor(Config{})
	for _, g := range []struct{ id, ttl int64 }{{30, 100}, {10, 5}, {20, 60}} {
		if _, err := l.Grant(g.id, g.ttl); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(2500 * time.Millisecond)
	went := []Entry{
		{ID: 10, TTL: 5, Remaining: 2500 * time.Millisecond},
		{ID: 20, TTL: 60, Remaining: 57500 * time.Millisecond},
		{ID: 30, TTL: 100, Remaining: 97500 * time.Millisecond},
	}
	es := l.Entries()
	if !reflect.DeepEqual(es, went) {
		t.Fatalf("Entries = %+v, want %+v", es, went)
	}

	// Restore on another clock, at another time: the remaining time is kept.
	l2, clk2 := newTestLessor(Config{})
	clk2.Advance(time.Hour)
	for _, e := range es {
		if err := l2.Restore(e); err != nil {
			t.Fatal(err)
		}
	}
	checkQueue(t, l2)
	if err := l2.Restore(es[0]); !errors.Is(err, ErrLeaseExists) {
		t.Fatalf("Restore duplicate: %v", err)
	}
	if got := l2.Entries(); !reflect.DeepEqual(got, went) {
		t.Fatalf("restored Entries = %+v, want %+v", got, went)
	}
	if info, _ := l2.TimeToLive(20, false); info.TTL != 57 || info.GrantedTTL != 60 {
		t.Fatalf("restored TimeToLive = %+v", info)
	}
	clk2.Advance(2499 * time.Millisecond)
	if got := l2.Expired(0); got != nil {
		t.Fatalf("expired early: %v", got)
	}
	clk2.Advance(time.Millisecond)
	if got := l2.Expired(0); !reflect.DeepEqual(got, []int64{10}) {
		t.Fatalf("Expired = %v, want [10]", got)
	}
	// A restored lease renews to its full TTL.
	if ttl, err := l2.Renew(20); err != nil || ttl != 60 {
		t.Fatalf("Renew = %d, %v", ttl, err)
	}
	// An entry already out of time is due at once.
	if err := l2.Restore(Entry{ID: 40, TTL: 5, Remaining: -time.Second}); err != nil {
		t.Fatal(err)
	}
	if got := l2.Expired(0); !slices.Contains(got, 40) {
		t.Fatalf("Expired = %v, want 40 in it", got)
	}
}

func TestPromote(t *testing.T) {
	l, clk := newTestLessor(Config{})
	for _, g := range []struct{ id, ttl int64 }{{1, 10}, {2, 3}} {
		if _, err := l.Grant(g.id, g.ttl); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(5 * time.Second)
	if got := l.Expired(0); !reflect.DeepEqual(got, []int64{2}) {
		t.Fatalf("Expired = %v", got)
	}
	l.Promote(time.Second)
	checkQueue(t, l)
	for _, w := range []struct{ id, ttl int64 }{{1, 11}, {2, 4}} {
		if info, _ := l.TimeToLive(w.id, false); info.TTL != w.ttl {
			t.Fatalf("lease %d: TTL after promote = %d, want %d", w.id, info.TTL, w.ttl)
		}
	}
	// The expired lease is alive again and renewable.
	if _, err := l.Renew(2); err != nil {
		t.Fatalf("Renew after promote: %v", err)
	}
	// Renewed at 5s with TTL 3: due at 8s.
	clk.Advance(3*time.Second - time.Millisecond)
	if got := l.Expired(0); got != nil {
		t.Fatalf("Expired = %v, want none", got)
	}
	clk.Advance(time.Millisecond)
	if got := l.Expired(0); !reflect.DeepEqual(got, []int64{2}) {
		t.Fatalf("Expired = %v, want [2]", got)
	}
	// At 16s: 1 expires (5s + 10s + 1s), 2 is due again since 11s.
	clk.Advance(8 * time.Second)
	if got := l.Expired(0); !reflect.DeepEqual(got, []int64{2, 1}) {
		t.Fatalf("Expired = %v, want [2 1]", got)
	}
}

// TestQueueRandom drives the lessor with random grants, renewals, removals and clock moves,
// and checks Expired against a naive list of deadlines.
func TestQueueRandom(t *testing.T) {
	const retry = 3 * time.Second
	l, clk := newTestLessor(Config{RetryAfter: retry})
	type state struct {
		ttl    int64
		expiry time.Time
		due    time.Time
	}
	model := map[int64]*state{}
	rng := rand.New(rand.NewSource(1))
	for step := 0; step < 3000; step++ {
		now := clk.Now()
		id := int64(rng.Intn(40) + 1)
		switch op := rng.Intn(10); {
		case op < 3:
			ttl := int64(rng.Intn(8) - 1)
			_, err := l.Grant(id, ttl)
			if model[id] != nil {
				if !errors.Is(err, ErrLeaseExists) {
					t.Fatalf("step %d: grant existing %d: %v", step, id, err)
				}
				break
			}
			if err != nil {
				t.Fatalf("step %d: grant %d: %v", step, id, err)
			}
			ttl = max(ttl, 2)
			exp := now.Add(time.Duration(ttl) * time.Second)
			model[id] = &state{ttl: ttl, expiry: exp, due: exp}
		case op < 5:
			ttl, err := l.Renew(id)
			m := model[id]
			if m == nil || !now.Before(m.expiry) {
				if err == nil {
					t.Fatalf("step %d: renewed %d (model %+v)", step, id, m)
				}
				break
			}
			if err != nil || ttl != m.ttl {
				t.Fatalf("step %d: renew %d = %d, %v", step, id, ttl, err)
			}
			m.expiry = now.Add(time.Duration(m.ttl) * time.Second)
			m.due = m.expiry
		case op < 6:
			err := l.Remove(id)
			if (err == nil) != (model[id] != nil) {
				t.Fatalf("step %d: remove %d: %v", step, id, err)
			}
			delete(model, id)
		case op < 8:
			clk.Advance(time.Duration(rng.Intn(1500)) * time.Millisecond)
		default:
			limit := rng.Intn(4)
			type due struct {
				id int64
				at time.Time
			}
			var dues []due
			for id, m := range model {
				if !m.due.After(now) {
					dues = append(dues, due{id, m.due})
				}
			}
			slices.SortFunc(dues, func(a, b due) int {
				if c := a.at.Compare(b.at); c != 0 {
					return c
				}
				return int(a.id - b.id)
			})
			if limit > 0 && len(dues) > limit {
				dues = dues[:limit]
			}
			var want []int64
			for _, d := range dues {
				want = append(want, d.id)
				model[d.id].due = now.Add(retry)
			}
			if got := l.Expired(limit); !reflect.DeepEqual(got, want) {
				t.Fatalf("step %d: Expired(%d) = %v, want %v", step, limit, got, want)
			}
		}
		if step%100 == 0 {
			checkQueue(t, l)
		}
	}
	checkQueue(t, l)
}
