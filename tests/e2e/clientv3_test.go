//go:build !js

package e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// pollTimeout bounds every wait for an outcome: generous, since a loaded machine may take
// seconds for what usually takes milliseconds; only a failing test waits it out.
const pollTimeout = 30 * time.Second

// ctx is a test's context for its calls: longer than any one wait in the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 3*pollTimeout)
	t.Cleanup(cancel)
	return c
}

// pollUntil polls cond until it holds, failing the test with failure() after pollTimeout.
func pollUntil(t *testing.T, cond func() bool, failure func() string) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", pollTimeout, failure())
		}
		time.Sleep(50 * time.Millisecond) // the polling interval, not a wait for an outcome
	}
}

func TestClientV3KV(t *testing.T) {
	m := startMember(t)
	c := m.client(t)
	cx := ctx(t)

	p, err := c.Put(cx, "/a/1", "x")
	if err != nil || p.Header.Revision != 2 {
		t.Fatalf("put: %v %v", p, err)
	}
	c.Put(cx, "/a/2", "y")
	c.Put(cx, "/b", "z")
	g, err := c.Get(cx, "/a/", clientv3.WithPrefix())
	if err != nil || g.Count != 2 || string(g.Kvs[1].Value) != "y" {
		t.Fatalf("get prefix: %v %v", g, err)
	}
	g, err = c.Get(cx, "/a/1", clientv3.WithRev(2))
	if err != nil || len(g.Kvs) != 1 || g.Header.Revision != 4 {
		t.Fatalf("get at rev: %v %v", g, err)
	}
	// Compare-and-swap.
	tr, err := c.Txn(cx).If(clientv3.Compare(clientv3.Value("/b"), "=", "z")).
		Then(clientv3.OpPut("/b", "z2"), clientv3.OpGet("/b")).Else(clientv3.OpGet("/a/1")).Commit()
	if err != nil || !tr.Succeeded || string(tr.Responses[1].GetResponseRange().Kvs[0].Value) != "z2" {
		t.Fatalf("txn: %v %v", tr, err)
	}
	d, err := c.Delete(cx, "/a/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	if err != nil || d.Deleted != 2 || len(d.PrevKvs) != 2 {
		t.Fatalf("delete: %v %v", d, err)
	}
	if _, err := c.Compact(cx, 3); err != nil {
		t.Fatal(err)
	}
	// Errors arrive as etcd's typed errors.
	if _, err := c.Get(cx, "/a/1", clientv3.WithRev(2)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("read below compaction: %v, want ErrCompacted", err)
	}
	if _, err := c.Get(cx, "/a/1", clientv3.WithRev(100)); !errors.Is(err, rpctypes.ErrFutureRev) {
		t.Fatalf("future read: %v, want ErrFutureRev", err)
	}
	if _, err := c.Put(cx, "k", "v", clientv3.WithLease(12345)); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("put with unknown lease: %v", err)
	}
	ops := make([]clientv3.Op, 129)
	for i := range ops {
		ops[i] = clientv3.OpPut(fmt.Sprint("k", i), "v")
	}
	if _, err := c.Txn(cx).Then(ops...).Commit(); !errors.Is(err, rpctypes.ErrTooManyOps) {
		t.Fatalf("129 ops: %v", err)
	}
	big := make([]byte, 1600*1024)
	if _, err := c.Put(cx, "big", string(big)); !errors.Is(err, rpctypes.ErrRequestTooLarge) {
		t.Fatalf("1.6 MiB put: %v, want ErrRequestTooLarge", err)
	}
}

func TestClientV3Watch(t *testing.T) {
	m := startMember(t)
	c := m.client(t)
	cx := ctx(t)
	c.Put(cx, "w/1", "a") // 2
	wch := c.Watch(cx, "w/", clientv3.WithPrefix(), clientv3.WithRev(1), clientv3.WithPrevKV())
	c.Put(cx, "w/1", "b") // 3
	c.Delete(cx, "w/1")   // 4
	var evs []*clientv3.Event
	for len(evs) < 3 {
		select {
		case r := <-wch:
			if err := r.Err(); err != nil {
				t.Fatal(err)
			}
			evs = append(evs, r.Events...)
		case <-cx.Done():
			t.Fatalf("got %d events", len(evs))
		}
	}
	if !evs[0].IsCreate() || string(evs[1].PrevKv.Value) != "a" || evs[2].Type != clientv3.EventTypeDelete || evs[2].Kv.ModRevision != 4 {
		t.Fatalf("events: %v", evs)
	}
	// Compaction cancels a watch that starts below it, as ErrCompacted.
	c.Compact(cx, 4)
	r := <-c.Watch(cx, "w/", clientv3.WithPrefix(), clientv3.WithRev(2))
	if !errors.Is(r.Err(), rpctypes.ErrCompacted) || r.CompactRevision != 4 {
		t.Fatalf("watch below compaction: %v %d", r.Err(), r.CompactRevision)
	}
	// An on-demand progress notification.
	wch = c.Watch(cx, "p") // same context, same stream as the progress request
	if err := c.RequestProgress(cx); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-wch:
		if !r.IsProgressNotify() || r.Header.Revision != 4 {
			t.Fatalf("progress: %+v", r)
		}
	case <-cx.Done():
		t.Fatal("no progress notification")
	}
}

func TestClientV3Lease(t *testing.T) {
	m := startMember(t)
	c := m.client(t)
	cx := ctx(t)
	// A lease left alone expires and takes its key with it.
	short, err := c.Grant(cx, 1) // raised to the 2 s minimum
	if err != nil || short.TTL != 2 {
		t.Fatalf("grant: %v %v", short, err)
	}
	if _, err := c.Put(cx, "gone", "v", clientv3.WithLease(short.ID)); err != nil {
		t.Fatal(err)
	}
	// A lease kept alive outlives its TTL. The TTL leaves the keep-alives (every TTL/3) seconds
	// of slack on a loaded machine.
	const ttl = 6
	l, err := c.Grant(cx, ttl)
	if err != nil || l.TTL != ttl {
		t.Fatalf("grant: %v %v", l, err)
	}
	if _, err := c.Put(cx, "eph", "v", clientv3.WithLease(l.ID)); err != nil {
		t.Fatal(err)
	}
	ka, err := c.KeepAlive(cx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	<-ka
	time.Sleep((ttl + 1) * time.Second) // past the TTL: the key must not expire meanwhile
	if g, _ := c.Get(cx, "eph"); len(g.Kvs) != 1 {
		t.Fatal("key expired although the lease was kept alive")
	}
	ttlr, err := c.TimeToLive(cx, l.ID, clientv3.WithAttachedKeys())
	if err != nil || ttlr.GrantedTTL != ttl || len(ttlr.Keys) != 1 {
		t.Fatalf("timetolive: %v %v", ttlr, err)
	}
	pollUntil(t, func() bool {
		g, err := c.Get(cx, "gone")
		return err == nil && len(g.Kvs) == 0
	}, func() string { return "key of an expired 2s lease still there" })
	if _, err := c.Revoke(cx, short.ID); !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		t.Fatalf("revoke expired lease: %v", err)
	}
	ls, err := c.Leases(cx)
	if err != nil || len(ls.Leases) != 1 || ls.Leases[0].ID != l.ID {
		t.Fatalf("leases: %v %v", ls, err)
	}
}

func TestClientV3Concurrency(t *testing.T) {
	m := startMember(t)
	c := m.client(t)
	cx := ctx(t)
	s1, err := concurrency.NewSession(c, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := concurrency.NewSession(c, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	m1, m2 := concurrency.NewMutex(s1, "/lock"), concurrency.NewMutex(s2, "/lock")
	if err := m1.Lock(cx); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- m2.Lock(cx) }()
	select {
	case err := <-got:
		t.Fatalf("second locker got the lock while it was held (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	m1.Unlock(cx)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	e := concurrency.NewElection(s1, "/elect")
	if err := e.Campaign(cx, "leader-1"); err != nil {
		t.Fatal(err)
	}
	l, err := e.Leader(cx)
	if err != nil || string(l.Kvs[0].Value) != "leader-1" {
		t.Fatalf("leader: %v %v", l, err)
	}
}

func TestClientV3Maintenance(t *testing.T) {
	m := startMember(t)
	c := m.client(t)
	cx := ctx(t)
	c.Put(cx, "k", "v")
	st, err := c.Status(cx, m.endpoint)
	if err != nil || st.Version != "3.6.16" || st.Leader != st.Header.MemberId || st.DbSize == 0 || st.Header.Revision != 2 {
		t.Fatalf("status: %+v %v", st, err)
	}
	ml, err := c.MemberList(cx)
	if err != nil || len(ml.Members) != 1 || ml.Members[0].ClientURLs[0] != "http://"+m.endpoint || ml.Header.Revision != 0 {
		t.Fatalf("member list: %+v %v", ml, err)
	}
	h, err := c.HashKV(cx, m.endpoint, 0)
	if err != nil || h.HashRevision != 2 || h.CompactRevision != -1 {
		t.Fatalf("hashkv: %+v %v", h, err)
	}
	if _, err := c.Defragment(cx, m.endpoint); err != nil {
		t.Fatal(err)
	}
}

// TestWatchFragment: a catch-up response larger than the message limit reaches a watcher
// that asked for fragments in several messages, which clientv3 joins; every event arrives.
func TestWatchFragment(t *testing.T) {
	m := startMember(t, "--max-request-bytes", "300000") // responses above ~0.8 MB are split
	c := m.client(t)
	cx := ctx(t)
	val := string(make([]byte, 250000))
	for i := 0; i < 10; i++ {
		if _, err := c.Put(cx, fmt.Sprintf("f/%d", i), val); err != nil {
			t.Fatal(err)
		}
	}
	for _, frag := range []bool{true, false} {
		opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(1)}
		if frag {
			opts = append(opts, clientv3.WithFragment())
		}
		wctx, cancel := context.WithCancel(cx)
		wch := c.Watch(wctx, "f/", opts...)
		n := 0
		for n < 10 {
			select {
			case r := <-wch:
				if err := r.Err(); err != nil {
					t.Fatalf("fragment=%v: %v", frag, err)
				}
				n += len(r.Events)
			case <-cx.Done():
				t.Fatalf("fragment=%v: %d of 10 events", frag, n)
			}
		}
		cancel()
	}
}
