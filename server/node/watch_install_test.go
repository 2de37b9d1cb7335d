package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/mvcc"
	"github.com/metastore/metastore/server/node"
)

// nextResponse waits for the stream's next response other than a Created one.
func nextResponse(t *testing.T, ws *core.WatchStream) mvcc.WatchResponse {
	t.Helper()
	for {
		select {
		case r := <-ws.Chan():
			if r.Created {
				continue
			}
			return r
		case <-time.After(time.Minute):
			t.Fatal("no watch response")
		}
	}
}

// TestWatchSurvivesSnapshotInstall: a member that catches up by installing the leader's
// snapshot keeps its watch streams, as etcd does (watchableStore.Restore): each watcher
// resumes from the first revision it was not sent, from the new store's history, and a
// watcher that the new store's compaction overtook is cancelled with the compact revision.
func TestWatchSurvivesSnapshotInstall(t *testing.T) {
	c := newCluster(t, 3, 5, func(cfg *node.Config) {
		cfg.SnapshotCount = 20
		cfg.SnapshotCatchupEntries = 5
	})
	lead := c.waitLeader()
	var f *node.Node
	for _, name := range c.names {
		if n := c.node(name); n != lead {
			f = n
			break
		}
	}
	c.put(lead, "w", "1")
	c.converged()
	ws := f.Store().NewWatchStream()
	defer ws.Close()
	put := func(k, v string) int64 { return c.put(lead, k, v).Header.Revision }
	future := f.Store().Rev() + 40
	ws.Create(&core.WatchCreateRequest{Key: []byte("w"), WatchID: 1})
	ws.Create(&core.WatchCreateRequest{Key: []byte("p/"), RangeEnd: []byte("p0"), PrevKv: true, WatchID: 2})
	ws.Create(&core.WatchCreateRequest{Key: []byte("future"), StartRevision: future, WatchID: 3})
	// isolate cuts the member off while the cluster goes on, until the leader's log has
	// moved past it, then lets it back and waits for its snapshot install.
	isolate := func(writes func()) {
		t.Helper()
		old := f.Store()
		c.net.Isolate(f.MemberID())
		writes()
		for i := range 60 {
			put(fmt.Sprintf("fill/%d", i), "x")
		}
		c.net.Heal()
		c.eventually("the isolated member installed a snapshot", func() bool { return f.Store() != old })
		c.converged()
	}
	receive := func(want map[int64]int) map[int64][]mvcc.WatchResponse {
		t.Helper()
		got := map[int64][]mvcc.WatchResponse{}
		for id, n := range want {
			for len(got[id]) < n {
				r := nextResponse(t, ws)
				got[int64(r.WatchID)] = append(got[int64(r.WatchID)], r)
			}
		}
		return got
	}
	event := func(r mvcc.WatchResponse, key, value string, rev int64) bool {
		return !r.Canceled && len(r.Events) == 1 && string(r.Events[0].Kv.Key) == key &&
			string(r.Events[0].Kv.Value) == value && r.Events[0].Kv.ModRevision == rev
	}

	// The watchers resume: what was written while the member was away comes from the
	// history the snapshot brought, then writes after the install arrive live.
	var wRev, pRev int64
	isolate(func() {
		pRev = put("p/a", "1")
		wRev = put("w", "2")
	})
	fRev := put("future", "1")
	if fRev < future {
		t.Fatalf("the future watcher's key written at %d, before its start %d", fRev, future)
	}
	last := put("w", "3")
	got := receive(map[int64]int{1: 2, 2: 1, 3: 1})
	if !event(got[1][0], "w", "2", wRev) || !event(got[1][1], "w", "3", last) {
		t.Fatalf("watcher 1 across the install: %+v", got[1])
	}
	if !event(got[2][0], "p/a", "1", pRev) || got[2][0].Events[0].PrevKv != nil {
		t.Fatalf("watcher 2 across the install: %+v", got[2])
	}
	if !event(got[3][0], "future", "1", fRev) {
		t.Fatalf("watcher 3 (from a future revision) across the install: %+v", got[3])
	}

	// A compaction past a watcher's next revision cancels it, with the compact revision.
	var compactAt int64
	isolate(func() {
		put("w", "4")
		compactAt = put("p/b", "1")
		if _, err := lead.Compact(context.Background(), &core.CompactionRequest{Revision: compactAt}); err != nil {
			t.Fatal(err)
		}
	})
	got = receive(map[int64]int{1: 1, 2: 1})
	for _, id := range []int64{1, 2} {
		if r := got[id][0]; !r.Canceled || r.CompactRevision != compactAt || len(r.Events) != 0 {
			t.Fatalf("watcher %d, behind the compaction: %+v", id, r)
		}
	}
}
