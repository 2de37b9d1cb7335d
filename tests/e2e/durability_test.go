//go:build !js

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// state is everything a client can see of the keyspace.
type state struct {
	rev  int64
	kvs  map[string]string
	hash uint32
}

func snapshotState(t *testing.T, m *member) state {
	t.Helper()
	c := m.client(t)
	g, err := c.Get(ctx(t), "", clientv3.WithFromKey())
	if err != nil {
		t.Fatal(err)
	}
	st := state{rev: g.Header.Revision, kvs: map[string]string{}}
	for _, kv := range g.Kvs {
		st.kvs[string(kv.Key)] = fmt.Sprintf("%s@%d/%d/%d/%d", kv.Value, kv.CreateRevision, kv.ModRevision, kv.Version, kv.Lease)
	}
	h, err := c.HashKV(ctx(t), m.endpoint, 0)
	if err != nil {
		t.Fatal(err)
	}
	st.hash = h.Hash
	return st
}

// TestRestartRecovers stops a member cleanly and restarts it on the same data dir: keys,
// history, revision, compaction and leases come back, through snapshots and log replay.
func TestRestartRecovers(t *testing.T) {
	sp := newSpec(t, "--snapshot-count", "40")
	m := sp.start(t)
	c := m.client(t)
	cx := ctx(t)
	for i := 0; i < 150; i++ {
		if _, err := c.Put(cx, fmt.Sprintf("k%03d", i%60), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Delete(cx, "k01", clientv3.WithRange("k05"))
	if _, err := c.Compact(cx, 100); err != nil {
		t.Fatal(err)
	}
	l, err := c.Grant(cx, 600)
	if err != nil {
		t.Fatal(err)
	}
	c.Put(cx, "leased", "v", clientv3.WithLease(l.ID))
	before := snapshotState(t, m)
	if err := m.stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	m = sp.start(t)
	after := snapshotState(t, m)
	if after.rev != before.rev || after.hash != before.hash || len(after.kvs) != len(before.kvs) {
		t.Fatalf("after restart: rev %d hash %x %d keys; before: rev %d hash %x %d keys", after.rev, after.hash, len(after.kvs), before.rev, before.hash, len(before.kvs))
	}
	for k, v := range before.kvs {
		if after.kvs[k] != v {
			t.Fatalf("key %s: %s after restart, %s before", k, after.kvs[k], v)
		}
	}
	c = m.client(t)
	if _, err := c.Get(ctx(t), "k10", clientv3.WithRev(99)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("read below the compact revision after restart: %v", err)
	}
	// A clean stop checkpoints the leases: the countdown goes on from where it was.
	ttl, err := c.TimeToLive(ctx(t), l.ID, clientv3.WithAttachedKeys())
	if err != nil || ttl.TTL >= 600 || ttl.TTL < 500 || len(ttl.Keys) != 1 {
		t.Fatalf("lease after restart: %+v %v (want its remaining time, under 600s)", ttl, err)
	}
	p, err := c.Put(ctx(t), "new", "v")
	if err != nil || p.Header.Revision != before.rev+1 {
		t.Fatalf("put after restart: %v %v (want revision %d)", p, err, before.rev+1)
	}
}

// TestCrashLosesNoAcknowledgedWrite kills the member with SIGKILL while clients write
// concurrently, several times over, and checks after each restart that every write the
// server acknowledged is there with its value. With values of 64 KiB the log moves through
// several segments and snapshots remove some of them, so crashes land around those too.
func TestCrashLosesNoAcknowledgedWrite(t *testing.T) {
	for _, c := range []struct {
		name    string
		padding int
	}{{"small values", 0}, {"64 KiB values", 64 << 10}} {
		t.Run(c.name, func(t *testing.T) { crashUnderWrites(t, c.padding) })
	}
}

func crashUnderWrites(t *testing.T, padding int) {
	const rounds, writers = 5, 8
	sp := newSpec(t, "--snapshot-count", "300")
	pad := strings.Repeat("v", padding)
	acked := map[string]string{}
	var maxRev int64
	for round := 0; round < rounds; round++ {
		m := sp.start(t)
		c := m.client(t)
		// Everything acknowledged so far survived the previous crash.
		g, err := c.Get(ctx(t), "", clientv3.WithFromKey())
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]string{}
		for _, kv := range g.Kvs {
			have[string(kv.Key)] = string(kv.Value)
		}
		for k, v := range acked {
			if have[k] != v {
				t.Fatalf("round %d: acknowledged write %s=%s lost after kill -9 (have %q)", round, k, v, have[k])
			}
		}
		if g.Header.Revision < maxRev {
			t.Fatalf("round %d: revision went back from %d to %d", round, maxRev, g.Header.Revision)
		}

		var mu sync.Mutex
		roundAcked := 0
		wctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel) // stops the writers if the test fails before the kill
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; wctx.Err() == nil; i++ {
					k, v := fmt.Sprintf("r%d/w%d/%05d", round, w, i), fmt.Sprint(i)+pad
					p, err := c.Put(wctx, k, v)
					if err != nil {
						// Not acknowledged (the server died under us, or the call failed): not
						// counted. Back off a little rather than spin until the kill.
						select {
						case <-wctx.Done():
						case <-time.After(10 * time.Millisecond):
						}
						continue
					}
					mu.Lock()
					acked[k] = v
					roundAcked++
					maxRev = max(maxRev, p.Header.Revision)
					mu.Unlock()
				}
			}(w)
		}
		// Kill once the round has acknowledged some writes, later in each round, so that
		// crashes land at different points of the log and snapshots; waiting on a count, not a
		// time, so a slow machine still writes something every round.
		target := 50 * (round + 1)
		pollUntil(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return roundAcked >= target
		}, func() string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("round %d: %d writes acknowledged, waiting for %d", round, roundAcked, target)
		})
		m.kill()
		cancel()
		wg.Wait()
		c.Close()
	}
	m := sp.start(t)
	g, err := m.client(t).Get(ctx(t), "", clientv3.WithFromKey(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if g.Count < int64(len(acked)) {
		t.Fatalf("%d keys after the last restart, %d acknowledged", g.Count, len(acked))
	}
	segs, _ := filepath.Glob(filepath.Join(sp.dir, "member", "wal", "*.wal"))
	for i := range segs {
		segs[i] = filepath.Base(segs[i])
	}
	last := ""
	if len(segs) > 0 {
		last = segs[len(segs)-1]
	}
	if padding > 0 && last < "0000000000000002.wal" {
		t.Fatalf("the log's last segment is %q: the values did not take it through several", last)
	}
	t.Logf("%d rounds of kill -9 under %d writers: %d acknowledged writes, all present; the log's segments now %v",
		rounds, writers, len(acked), segs)
}

// TestLostDataDirStopsTheMember removes a running member's data dir. Pebble can then write
// out no memtable: the member must stop with an error, as etcd stops when its backend cannot
// commit, rather than stall every write and never end on SIGTERM (which it did).
func TestLostDataDirStopsTheMember(t *testing.T) {
	sp := newSpec(t)
	m := sp.start(t)
	c := m.client(t)
	if err := os.RemoveAll(sp.dir); err != nil {
		t.Fatal(err)
	}
	// Values of 1 MiB fill pebble's 16 MiB memtable within a few puts; its flush then fails.
	val := strings.Repeat("x", 1<<20)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.Put(cx, fmt.Sprint("k", i%4), val) // fails once writes stall, and when the member is gone
			cancel()
		}
	}()
	select {
	case err := <-m.exited:
		m.stopped = true
		if err == nil {
			t.Fatalf("the member exited cleanly; want an error. Log:\n%s", m.log.String())
		}
		if !strings.Contains(m.log.String(), "cannot write the database") {
			t.Fatalf("the member exited (%v) without saying it could not write the database; log:\n%s", err, m.log.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the member still runs 2 minutes after its data dir was removed; log:\n%s", m.log.String())
	}
}
