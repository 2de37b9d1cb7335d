package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/internal/syncbuf"
	"github.com/metastore/metastore/server/disk"
	"github.com/metastore/metastore/server/memnet"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/raftreq"
)

// cluster is a set of members in one process over a memnet network, each with a real data
// dir (or, for newMemoryCluster, a storage in memory kept across its restarts, as the in-tab
// cluster runs). Ticks are fast (10ms) so elections take a fraction of a second; tests never
// sleep, they poll for the state they expect.
type cluster struct {
	t       *testing.T
	net     *memnet.Network
	dir     string
	memory  map[string]node.Storage // nil: data dirs
	initial string
	names   []string
	nodes   map[string]*node.Node
	mu      sync.Mutex
	extra   func(*node.Config)
}

func peerURL(name string) string { return "http://" + name + ":2380" }

func newCluster(t *testing.T, size int, seed int64, extra func(*node.Config)) *cluster {
	t.Helper()
	return startCluster(t, size, seed, extra, nil)
}

func newMemoryCluster(t *testing.T, size int, seed int64, extra func(*node.Config)) *cluster {
	t.Helper()
	return startCluster(t, size, seed, extra, map[string]node.Storage{})
}

func startCluster(t *testing.T, size int, seed int64, extra func(*node.Config), memory map[string]node.Storage) *cluster {
	t.Helper()
	c := &cluster{t: t, net: memnet.New(seed), dir: t.TempDir(), nodes: map[string]*node.Node{}, extra: extra, memory: memory}
	var parts []string
	for i := 1; i <= size; i++ {
		name := fmt.Sprintf("m%d", i)
		c.names = append(c.names, name)
		parts = append(parts, name+"="+peerURL(name))
	}
	c.initial = strings.Join(parts, ",")
	var wg sync.WaitGroup
	for _, name := range c.names {
		wg.Add(1)
		go func() { defer wg.Done(); c.start(name, "new") }()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, name := range c.names {
			c.stop(name)
		}
	})
	c.waitLeader()
	return c
}

func (c *cluster) config(name, state string) node.Config {
	cfg := node.Config{
		Name:                name,
		DataDir:             filepath.Join(c.dir, name),
		PeerURLs:            []string{peerURL(name)},
		ClientURLs:          []string{"http://" + name + ":2379"},
		InitialCluster:      c.initial,
		InitialClusterState: state,
		HeartbeatInterval:   10 * time.Millisecond,
		ElectionTimeout:     100 * time.Millisecond,
		StrictReconfigCheck: true,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() && os.Getenv("NODE_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("member", name)
	}
	if c.extra != nil {
		c.extra(&cfg)
	}
	return cfg
}

// start starts (or restarts) a member.
func (c *cluster) start(name, state string) *node.Node {
	c.t.Helper()
	cfg := c.config(name, state)
	id := node.MemberID(cfg.PeerURLs, "etcd-cluster")
	if state == "existing" {
		// The member's ID (given by MemberAdd) and the list it joins with both come from a
		// member that has applied its MemberAdd: the leader has once MemberAdd returns, a
		// follower only when it catches up. Asking one that had not (any member, or the
		// first by name, as this helper once did) gave the endpoint a token-derived ID
		// while the node took the added one: the leader's messages to the learner went to
		// an ID with no endpoint, so it never caught up (a 30s stall in
		// TestClusterMembershipChanges, seen once under load), or the join failed.
		var src *node.Node
		c.eventually(name+"'s MemberAdd applied on a running member", func() bool {
			for _, n := range c.running() {
				for _, m := range n.Members() {
					if slices.Contains(m.PeerURLs, peerURL(name)) {
						src, id = n, m.ID
						return true
					}
				}
			}
			return false
		})
		cfg.Join = func(ctx context.Context, _ []string) ([]node.Member, uint64, error) {
			return src.Members(), src.ClusterID(), nil
		}
	}
	cfg.Transport = c.net.Endpoint(id)
	cfg.Storage = c.storage(name)
	n, err := node.New(cfg)
	if err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	if n.MemberID() != id {
		// memnet routes by the endpoint's ID: a member under another would hear nothing.
		n.Stop()
		c.t.Fatalf("start %s: the member took ID %x but its endpoint is %x", name, n.MemberID(), id)
	}
	c.mu.Lock()
	c.nodes[name] = n
	c.mu.Unlock()
	return n
}

func (c *cluster) stop(name string) {
	c.mu.Lock()
	n := c.nodes[name]
	delete(c.nodes, name)
	c.mu.Unlock()
	if n != nil {
		n.Stop()
	}
}

// storage is the member's: its data dir, or the memory it had before a restart.
func (c *cluster) storage(name string) node.Storage {
	c.t.Helper()
	if c.memory != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.memory[name] == nil {
			c.memory[name] = node.NewMemoryStorage()
		}
		return c.memory[name]
	}
	st, err := disk.Open(filepath.Join(c.dir, name), disk.Options{})
	if err != nil {
		c.t.Fatalf("open %s's data dir: %v", name, err)
	}
	return st
}

func (c *cluster) node(name string) *node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[name]
}

func (c *cluster) running() []*node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node.Node
	for _, name := range c.names {
		if n := c.nodes[name]; n != nil {
			out = append(out, n)
		}
	}
	return out
}

// eventually polls cond until it holds, failing the test after a generous timeout.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not a wait for an outcome
	}
}

// waitLeader waits until every running member agrees on one leader, and returns it.
func (c *cluster) waitLeader() *node.Node {
	c.t.Helper()
	var leader *node.Node
	c.eventually("a leader all running members agree on", func() bool {
		ns := c.running()
		var lead uint64
		for _, n := range ns {
			if n.Leader() == 0 || (lead != 0 && n.Leader() != lead) {
				return false
			}
			lead = n.Leader()
		}
		for _, n := range ns {
			if n.MemberID() == lead && n.IsLeader() {
				leader = n
				return true
			}
		}
		return false
	})
	return leader
}

func (c *cluster) leaderName() string {
	l := c.waitLeader()
	for _, name := range c.names {
		if c.node(name) == l {
			return name
		}
	}
	return ""
}

// put writes through n, retrying while a leader is being elected.
func (c *cluster) put(n *node.Node, key, val string) *core.PutResponse {
	c.t.Helper()
	var resp *core.PutResponse
	c.eventually("put "+key, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		var err error
		resp, err = n.Put(ctx, &core.PutRequest{Key: []byte(key), Value: []byte(val)})
		return err == nil
	})
	return resp
}

func get(t *testing.T, n *node.Node, key string, serializable bool) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := n.Range(ctx, &core.RangeRequest{Key: []byte(key), Serializable: serializable})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		return "", false
	}
	return string(resp.Kvs[0].Value), true
}

// converged waits until every running member has applied the same revision and holds the
// same history (HashKV).
func (c *cluster) converged() {
	c.t.Helper()
	c.eventually("every member at the same revision and hash", func() bool {
		var rev int64
		var hash uint32
		for i, n := range c.running() {
			h, err := n.Store().HashKV(0)
			if err != nil {
				return false
			}
			if i == 0 {
				rev, hash = n.Store().Rev(), h.Hash
				continue
			}
			if n.Store().Rev() != rev || h.Hash != hash {
				return false
			}
		}
		return true
	})
}

func TestClusterWritesOnAnyMemberReadLinearizably(t *testing.T) {
	c := newCluster(t, 3, 1, nil)
	ids := map[uint64]bool{}
	for _, n := range c.running() {
		ids[n.MemberID()] = true
		if n.ClusterID() != c.running()[0].ClusterID() {
			t.Fatalf("members disagree on the cluster ID")
		}
	}
	if len(ids) != 3 {
		t.Fatalf("member IDs not distinct: %v", ids)
	}
	for i, n := range c.running() {
		key := fmt.Sprintf("k%d", i)
		resp := c.put(n, key, "v")
		if h := n.Header(); h.RaftTerm == 0 || h.MemberID != n.MemberID() || h.ClusterID != n.ClusterID() || resp.Header.Revision == 0 {
			t.Fatalf("put header %+v at revision %d: every field must be set", h, resp.Header.Revision)
		}
		// Linearizable: every member sees the write at once, whoever served it.
		for _, other := range c.running() {
			if v, ok := get(t, other, key, false); !ok || v != "v" {
				t.Fatalf("member %x does not see %s right after it was acknowledged", other.MemberID(), key)
			}
		}
	}
	c.converged()
	for _, n := range c.running() {
		if got := len(n.Members()); got != 3 {
			t.Fatalf("member %x lists %d members, want 3", n.MemberID(), got)
		}
	}
	// Each member published its name and client URLs.
	c.eventually("names published", func() bool {
		for _, m := range c.running()[0].Members() {
			if m.Name == "" || len(m.ClientURLs) == 0 {
				return false
			}
		}
		return true
	})
}

// clusterStorages are the storages a member runs on: the server's data dir, and the memory
// the in-tab cluster gives it.
var clusterStorages = []struct {
	name  string
	start func(t *testing.T, size int, seed int64, extra func(*node.Config)) *cluster
}{{"disk", newCluster}, {"memory", newMemoryCluster}}

func TestClusterSurvivesLossReorderAndPartitions(t *testing.T) {
	for _, st := range clusterStorages {
		t.Run(st.name, func(t *testing.T) { testClusterSurvivesLossReorderAndPartitions(t, st.start) })
	}
}

func testClusterSurvivesLossReorderAndPartitions(t *testing.T, newCluster func(*testing.T, int, int64, func(*node.Config)) *cluster) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	c := newCluster(t, 3, seed, nil)
	c.net.SetFaults(0.05, 0.05)
	var wg sync.WaitGroup
	acked := make(chan string, 1000)
	for w, n := range c.running() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A member cut off from the leader blocks each write until its timeout (as
			// etcd's requests do); three in a row and this writer gives up.
			failures := 0
			for i := 0; i < 40 && failures < 3; i++ {
				key := fmt.Sprintf("w%d/%03d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_, err := n.Put(ctx, &core.PutRequest{Key: []byte(key), Value: []byte("x")})
				cancel()
				if err == nil {
					acked <- key
					failures = 0
				} else {
					failures++
				}
			}
		}()
	}
	// Cut the leader off mid-load; the others elect a new one and go on.
	old := c.leaderName()
	c.net.Isolate(c.node(old).MemberID())
	c.eventually("a new leader among the others", func() bool {
		for _, n := range c.running() {
			if n != c.node(old) && n.IsLeader() {
				return true
			}
		}
		return false
	})
	wg.Wait()
	c.net.Heal()
	c.net.SetFaults(0, 0)
	close(acked)
	c.waitLeader()
	c.converged()
	n := 0
	for key := range acked {
		n++
		for _, m := range c.running() {
			if _, ok := get(t, m, key, true); !ok {
				t.Fatalf("acknowledged write %s missing on member %x", key, m.MemberID())
			}
		}
	}
	if n == 0 {
		t.Fatal("no write was acknowledged")
	}
}

// TestClusterWriteTimesOut: a write that cannot commit (its member lost the others) ends, as
// etcd's, after the request timeout (5s + 2 × election timeout) with etcd's error and code,
// though the client set no deadline: "request timed out" if Raft took it (the member still
// led), the context's deadline if Raft never did (it had stepped down already).
func TestClusterWriteTimesOut(t *testing.T) {
	c := newMemoryCluster(t, 3, 1, nil)
	lead := c.leaderName()
	for _, name := range c.names {
		if name != lead {
			c.stop(name)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.node(lead).Put(context.Background(), &core.PutRequest{Key: []byte("k"), Value: []byte("v")})
		done <- err
	}()
	select {
	case err := <-done:
		code, msg := node.Status(err)
		if (code != core.CodeUnavailable || msg != "etcdserver: request timed out") &&
			(code != core.CodeDeadlineExceeded || msg != "context deadline exceeded") {
			t.Fatalf("got %v (%v, %q), want etcd's request timeout", err, code, msg)
		}
	case <-time.After(30 * time.Second): // a guard against a hang, far beyond the timeout
		t.Fatal("the write has not ended after 30s")
	}
}

func TestClusterMemberRestartsAndCatchesUpBySnapshot(t *testing.T) {
	for _, st := range clusterStorages {
		t.Run(st.name, func(t *testing.T) { testClusterMemberRestartsAndCatchesUpBySnapshot(t, st.start) })
	}
}

func testClusterMemberRestartsAndCatchesUpBySnapshot(t *testing.T, newCluster func(*testing.T, int, int64, func(*node.Config)) *cluster) {
	c := newCluster(t, 3, 2, func(cfg *node.Config) {
		cfg.SnapshotCount = 20
		cfg.SnapshotCatchupEntries = 5
	})
	follower := ""
	lead := c.leaderName()
	for _, name := range c.names {
		if name != lead {
			follower = name
			break
		}
	}
	c.put(c.node(lead), "before", "1")
	c.stop(follower)
	for i := 0; i < 100; i++ {
		c.put(c.node(lead), fmt.Sprintf("k%03d", i), "v")
	}
	n := c.start(follower, "new")
	c.converged()
	if v, ok := get(t, n, "k099", true); !ok || v != "v" {
		t.Fatalf("restarted follower lacks the writes made while it was down")
	}
	// Its watchers, leases and membership came with the snapshot.
	if got := len(n.Members()); got != 3 {
		t.Fatalf("restarted follower lists %d members", got)
	}
	// And it restarts again from the installed state.
	c.stop(follower)
	n = c.start(follower, "new")
	c.converged()
	if v, ok := get(t, n, "before", true); !ok || v != "1" {
		t.Fatalf("state lost across a restart after a snapshot install")
	}
}

func TestClusterLeasesAcrossLeaderChanges(t *testing.T) {
	c := newCluster(t, 3, 3, nil)
	ctx := context.Background()
	lead := c.leaderName()
	var follower *node.Node
	for _, name := range c.names {
		if name != lead {
			follower = c.node(name)
			break
		}
	}
	// Granted and kept alive through a follower: keep-alives reach the leader.
	var kept, dying *core.LeaseGrantResponse
	c.eventually("leases granted", func() bool {
		var err error
		kept, err = follower.LeaseGrant(ctx, &core.LeaseGrantRequest{TTL: 60})
		if err != nil {
			return false
		}
		dying, err = follower.LeaseGrant(ctx, &core.LeaseGrantRequest{TTL: 1})
		return err == nil
	})
	if _, err := follower.Put(ctx, &core.PutRequest{Key: []byte("dies"), Lease: dying.ID}); err != nil {
		t.Fatal(err)
	}
	ka, err := follower.LeaseRenew(ctx, kept.ID)
	if err != nil || ka.TTL != 60 {
		t.Fatalf("keep-alive through a follower: %+v %v", ka, err)
	}
	// The leader dies: the new one extends every lease, so none expires early.
	c.stop(lead)
	c.waitLeader()
	for _, n := range c.running() {
		ttl, err := n.LeaseTimeToLive(ctx, kept.ID, false)
		if err != nil || ttl.TTL < 50 {
			t.Fatalf("lease after the leader died, asked on %x: %+v %v (want most of its 60s)", n.MemberID(), ttl, err)
		}
	}
	// A lease nobody keeps alive is expired by the new leader, on every member.
	c.eventually("the unrenewed lease expired and its key deleted everywhere", func() bool {
		for _, n := range c.running() {
			if _, ok := get(t, n, "dies", true); ok {
				return false
			}
		}
		return true
	})
	c.start(lead, "new")
	c.waitLeader()
	c.converged()
	if _, ok := get(t, c.node(lead), "dies", true); ok {
		t.Fatal("the restarted member still has the expired lease's key")
	}
}

func TestClusterMembershipChanges(t *testing.T) {
	c := newCluster(t, 3, 4, nil)
	ctx := context.Background()
	l := c.waitLeader()
	// As etcd's, the leader refuses changes ("unhealthy cluster") until it hears from every
	// voter, which takes a moment after an election.
	c.eventually("the leader hears from every voter", func() bool {
		_, _, err := l.MemberAdd(ctx, []string{peerURL("m1")}, true)
		return err != nil && err.Error() != "etcdserver: unhealthy cluster"
	})
	// Errors as etcd's, before anything is proposed or at apply time.
	if _, _, err := l.MemberAdd(ctx, []string{"not a url"}, false); err == nil || err.Error() != "etcdserver: given member URLs are invalid" {
		t.Fatalf("add with a bad URL: %v", err)
	}
	if _, _, err := l.MemberAdd(ctx, []string{peerURL("m1")}, true); err == nil || err.Error() != "etcdserver: Peer URLs already exists" {
		t.Fatalf("add with a used URL: %v", err)
	}
	if _, err := l.MemberRemove(ctx, 12345); err == nil || err.Error() != "etcdserver: member not found" {
		t.Fatalf("remove unknown: %v", err)
	}
	if _, err := l.MemberPromote(ctx, l.MemberID()); err == nil || err.Error() != "etcdserver: can only promote a learner member" {
		t.Fatalf("promote a voter: %v", err)
	}
	// A learner: added, started with --initial-cluster-state existing, promoted once it
	// caught up (on a follower, the request is forwarded to the leader).
	c.initial += ",m4=" + peerURL("m4")
	c.names = append(c.names, "m4")
	m, ms, err := l.MemberAdd(ctx, []string{peerURL("m4")}, true)
	if err != nil || !m.IsLearner || len(ms) != 4 {
		t.Fatalf("add learner: %+v %v", m, err)
	}
	if _, _, err := l.MemberAdd(ctx, []string{"http://m5:2380"}, true); err == nil || err.Error() != "etcdserver: too many learner members in cluster" {
		t.Fatalf("second learner: %v", err)
	}
	n4 := c.start("m4", "existing")
	if n4.MemberID() != m.ID {
		t.Fatalf("the new member took ID %x, want the added %x", n4.MemberID(), m.ID)
	}
	var lastErr error
	defer func() {
		if t.Failed() {
			// A stall seen once under load (the learner never caught up): what the leader
			// and the learner knew, for the next time.
			t.Logf("last promote error: %v", lastErr)
			for _, n := range c.running() {
				st := n.RaftStatus()
				t.Logf("member %x: %s, term %d, commit %d, applied %d, leader %x, progress %v",
					n.MemberID(), st.RaftState, st.Term, st.Commit, st.Applied, st.Lead, st.Progress)
			}
		}
	}()
	c.eventually("the learner caught up and promoted", func() bool {
		var follower *node.Node
		for _, n := range c.running() {
			if !n.IsLeader() && n != n4 {
				follower = n
			}
		}
		_, lastErr = follower.MemberPromote(ctx, m.ID)
		return lastErr == nil
	})
	c.converged()
	c.eventually("every member sees m4 as a voter", func() bool {
		for _, n := range c.running() {
			mm, ok := memberByID(n.Members(), m.ID)
			if !ok || mm.IsLearner || mm.Name != "m4" {
				return false
			}
		}
		return true
	})
	// Remove the leader: it learns it was removed, the others go on.
	l = c.waitLeader()
	if _, err := l.MemberRemove(ctx, l.MemberID()); err != nil {
		t.Fatalf("remove the leader: %v", err)
	}
	select {
	case <-l.RemovedNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("the removed leader was not told")
	}
	for _, name := range c.names {
		if c.node(name) == l {
			c.stop(name)
		}
	}
	nl := c.waitLeader()
	c.put(nl, "after-remove", "v")
	c.converged()
	if got := len(nl.Members()); got != 3 {
		t.Fatalf("%d members after removing the leader, want 3", got)
	}
	if _, err := nl.MemberRemove(ctx, l.MemberID()); err == nil || err.Error() != "etcdserver: member not found" {
		t.Fatalf("remove twice: %v", err)
	}
}

// A learner joins while a follower has not yet applied its MemberAdd (as under load, when a
// follower lags the leader): the joining member must take the ID MemberAdd gave it, reach the
// leader under that ID, catch up and be promoted. Here the lagging follower is m1, cut off
// until the learner has started.
func TestClusterJoinWhileAFollowerLags(t *testing.T) {
	c := newCluster(t, 3, 7, func(cfg *node.Config) {
		cfg.StrictReconfigCheck = false // m1 is cut off on purpose while the learner is added
	})
	ctx := context.Background()
	var l *node.Node
	c.eventually("m1 is a follower", func() bool {
		l = c.waitLeader()
		if l != c.node("m1") {
			return true
		}
		tctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		l.MoveLeader(tctx, c.node("m2").MemberID())
		return false
	})
	lagging := c.node("m1")
	c.net.Isolate(lagging.MemberID())
	c.initial += ",m4=" + peerURL("m4")
	c.names = append(c.names, "m4")
	m, _, err := l.MemberAdd(ctx, []string{peerURL("m4")}, true)
	if err != nil {
		t.Fatalf("add learner: %v", err)
	}
	if _, ok := memberByID(lagging.Members(), m.ID); ok {
		t.Fatal("the cut-off follower applied the MemberAdd")
	}
	n4 := c.start("m4", "existing")
	if n4.MemberID() != m.ID {
		t.Fatalf("the new member took ID %x, want the added %x", n4.MemberID(), m.ID)
	}
	c.net.Heal()
	var lastErr error
	c.eventually("the learner caught up and promoted", func() bool {
		_, lastErr = c.waitLeader().MemberPromote(ctx, m.ID)
		return lastErr == nil
	})
	c.eventually("every member sees m4 as a voter", func() bool {
		for _, n := range c.running() {
			if mm, ok := memberByID(n.Members(), m.ID); !ok || mm.IsLearner || mm.Name != "m4" {
				return false
			}
		}
		return true
	})
	c.converged()
}

func memberByID(ms []node.Member, id uint64) (node.Member, bool) {
	for _, m := range ms {
		if m.ID == id {
			return m, true
		}
	}
	return node.Member{}, false
}

// Lease checkpoints (etcd's LeaseCheckpoint): the leader replicates remaining TTLs, a new
// leader counts down from them instead of a full TTL, and a renewal clears them through the
// log so that a renewed lease gets its full TTL from the next leader.
func TestClusterLeaseCheckpoints(t *testing.T) {
	c := newCluster(t, 3, 5, func(cfg *node.Config) { cfg.LeaseCheckpointInterval = 200 * time.Millisecond })
	ctx := context.Background()
	var lease *core.LeaseGrantResponse
	c.eventually("lease granted", func() bool {
		var err error
		lease, err = c.node(c.leaderName()).LeaseGrant(ctx, &core.LeaseGrantRequest{TTL: 60})
		return err == nil
	})
	checkpoint := func(n *node.Node) int64 {
		for _, e := range n.Store().Lessor().Entries() {
			if e.ID == lease.ID {
				return e.Checkpoint
			}
		}
		return -1
	}
	c.eventually("every member holds a checkpoint of at most 57s", func() bool {
		for _, n := range c.running() {
			if cp := checkpoint(n); cp <= 0 || cp > 57 {
				return false
			}
		}
		return true
	})
	ttlAfterLeaderDies := func() int64 {
		t.Helper()
		lead := c.leaderName()
		c.stop(lead)
		c.waitLeader()
		var ttl *core.LeaseTimeToLiveResponse
		c.eventually("time-to-live from the new leader", func() bool {
			var err error
			ttl, err = c.node(c.leaderName()).LeaseTimeToLive(ctx, lease.ID, false)
			return err == nil
		})
		c.start(lead, "new")
		c.waitLeader()
		return ttl.TTL
	}
	// Without the checkpoint the new leader would give 60s + 1s of election grace.
	if ttl := ttlAfterLeaderDies(); ttl <= 0 || ttl > 58 {
		t.Fatalf("after a leader change the lease has %ds; want its checkpointed remaining TTL (at most 58s)", ttl)
	}
	var follower *node.Node
	var renewed time.Time
	c.eventually("a follower renews the lease", func() bool {
		for _, n := range c.running() {
			if !n.IsLeader() {
				follower = n
			}
		}
		renewed = time.Now()
		ka, err := follower.LeaseRenew(ctx, lease.ID)
		return err == nil && ka.TTL == 60
	})
	// The old checkpoint (at most 57s) must not come back: the next leader counts down from
	// the renewal. The bound allows for the time the test took since (long on a busy machine).
	ttl := ttlAfterLeaderDies()
	if want := 60 - int64(time.Since(renewed)/time.Second) - 2; ttl < want {
		t.Fatalf("after a renewal and a leader change the lease has %ds; want at least %ds", ttl, want)
	}
}

// An alarm of a type etcd does not name is kept as sent, across a restart (its type once
// came back as NOSPACE, truncated to a byte).
func TestAlarmTypeSurvivesRestart(t *testing.T) {
	c := newCluster(t, 1, 6, nil)
	ctx := context.Background()
	n := c.node("m1")
	odd := raftreq.AlarmType(257)
	c.eventually("the alarm raised", func() bool {
		_, err := n.Alarm(ctx, &raftreq.Alarm{Action: raftreq.AlarmActivate, MemberID: n.MemberID(), Alarm: odd})
		return err == nil
	})
	c.stop("m1")
	n = c.start("m1", "new")
	c.waitLeader()
	if got := n.Alarms(raftreq.AlarmNone); len(got) != 1 || got[0].Alarm != odd {
		t.Fatalf("alarms after a restart: %+v, want one of type %d", got, odd)
	}
	if n.Alarms(raftreq.AlarmNoSpace) != nil {
		t.Fatal("the odd alarm came back as NOSPACE")
	}
}

// TestClusterCompactionPhysical: a compaction through the log compacts every member; with
// physical the answer comes once the proposer's backend holds only what compaction keeps,
// and the members' hashes agree however far each one's background deletes have got.
func TestClusterCompactionPhysical(t *testing.T) {
	c := newCluster(t, 3, 7, func(cfg *node.Config) { cfg.CompactionBatchLimit = 2 })
	n := c.waitLeader()
	var rev int64
	for i := 0; i < 10; i++ {
		rev = c.put(n, "k", fmt.Sprint(i)).Header.Revision
	}
	c.put(n, "other", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := n.Compact(ctx, &core.CompactionRequest{Revision: rev, Physical: true}); err != nil {
		t.Fatal(err)
	}
	// k's last version and "other" (Len counts the records the backend holds).
	if got := n.DB().Len(); got != 2 {
		t.Fatalf("%d records in the proposer's backend after a physical compaction, want 2", got)
	}
	c.converged()
	for _, m := range c.running() {
		c.eventually("the compaction reaches every member", func() bool { return m.Store().CompactRev() == rev })
	}
}

// TestRestartWithStoreAheadOfLogCommit: the store may hold entries applied past the commit
// index the log last wrote (the applier runs during the log's sync, and a commit-only hard
// state is not synced at once), and a flush of the store can make that durable before a
// crash. The member must restart from it, skipping those entries when Raft commits them
// again rather than applying them twice.
func TestRestartWithStoreAheadOfLogCommit(t *testing.T) {
	var logs syncbuf.Buffer
	c := newCluster(t, 1, 8, func(cfg *node.Config) { cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	n := c.waitLeader()
	var last *core.PutResponse
	for i := range 5 {
		last = c.put(n, fmt.Sprintf("k%d", i), fmt.Sprint(i))
	}
	c.stop("m1")

	// Wind the log's commit index back below what the store has applied.
	st := c.storage("m1")
	lg, state, err := st.OpenLog()
	if err != nil {
		t.Fatal(err)
	}
	hs := state.HardState
	hs.Commit -= 3
	if err := lg.Save(hs, nil, true); err != nil {
		t.Fatal(err)
	}
	lg.Close()
	st.Release()

	logs.Reset()
	n = c.start("m1", "new")
	c.waitLeader()
	var rec struct {
		Applied uint64 `json:"store-applied"`
		Commit  uint64 `json:"commit"`
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"recovered"`) {
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rec.Applied <= rec.Commit {
		t.Fatalf("restarted with the store applied to %d and the log's commit at %d: the case is not set up", rec.Applied, rec.Commit)
	}
	for i := range 5 {
		if v, ok := get(t, n, fmt.Sprintf("k%d", i), false); !ok || v != fmt.Sprint(i) {
			t.Fatalf("k%d after the restart: %q, %v", i, v, ok)
		}
	}
	// Applied twice, the replayed puts would have taken revisions of their own.
	if p := c.put(n, "next", "x"); p.Header.Revision != last.Header.Revision+1 {
		t.Fatalf("the next put took revision %d after %d", p.Header.Revision, last.Header.Revision)
	}
}

// TestClusterHeaderTermIsTheAppliedEntrysTerm: a response header's raft_term is the term of
// the entry applied last, as etcd's (EtcdServer.Term), not Raft's current term. An isolated
// follower without pre-vote campaigns again and again, raising its term, but applies
// nothing new: its headers keep the term its last entry was applied in. Once it is back
// and has applied the leader's entries, the two agree again.
func TestClusterHeaderTermIsTheAppliedEntrysTerm(t *testing.T) {
	c := newMemoryCluster(t, 3, 1, func(cfg *node.Config) { cfg.DisablePreVote = true })
	lead := c.leaderName()
	c.put(c.node(lead), "k", "v")
	var name string
	for _, n := range c.names {
		if n != lead {
			name = n
			break
		}
	}
	f := c.node(name)
	c.eventually("the follower applies the put", func() bool { return f.Store().Rev() >= 2 })
	applied := f.Header().RaftTerm
	if applied == 0 || applied != f.Term() {
		t.Fatalf("before: header term %d, Raft term %d", applied, f.Term())
	}
	c.net.Isolate(f.MemberID())
	c.eventually("the isolated follower campaigns", func() bool { return f.Term() > applied+1 })
	if got := f.Header().RaftTerm; got != applied {
		t.Fatalf("isolated at Raft term %d: header term %d, want the applied entry's %d", f.Term(), got, applied)
	}
	c.net.Heal()
	c.eventually("the member applies a leader's entry of the current term", func() bool {
		c.put(c.waitLeader(), "k2", "v")
		return f.Header().RaftTerm == f.Term() && f.Term() > applied
	})
}

// TestClusterCompactHashCheck: with CompactHashCheck on, the leader compares the hash each
// member took at a compaction. Members holding the same history agree (the leader logs it);
// a member whose history differs (a record written into its backend behind the log's back,
// above the last compaction) is named by the CORRUPT alarm after the next compaction, and
// writes stop, as in etcd.
func TestClusterCompactHashCheck(t *testing.T) {
	var logs syncbuf.Buffer
	c := newCluster(t, 3, 11, func(cfg *node.Config) {
		cfg.CompactHashCheck = 20 * time.Millisecond
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	n := c.waitLeader()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	compact := func(rev int64) {
		t.Helper()
		if _, err := n.Compact(ctx, &core.CompactionRequest{Revision: rev, Physical: true}); err != nil {
			t.Fatal(err)
		}
		c.converged()
		for _, m := range c.running() {
			select {
			case <-m.Store().MVCC().PhysicalDone(rev): // each member's hash is taken by then
			case <-ctx.Done():
				t.Fatalf("member %x has not finished compacting at %d", m.MemberID(), rev)
			}
		}
	}
	var rev int64
	for i := range 5 {
		rev = c.put(n, "k", fmt.Sprint(i)).Header.Revision
	}
	compact(rev)
	agreed := fmt.Sprintf("every member agrees\" revision=%d", rev)
	c.eventually("the leader finds every member's compaction hash alike", func() bool { return strings.Contains(logs.String(), agreed) })

	var victim *node.Node
	for _, m := range c.running() {
		if m.MemberID() != n.MemberID() {
			victim = m
			break
		}
	}
	first := c.put(n, "k", "next").Header.Revision
	bogus := backend.Record{Rev: kv.Revision{Main: first, Sub: 9}, KV: kv.KeyValue{Key: []byte("k"), Value: []byte("not in the log"),
		CreateRevision: first, ModRevision: first, Version: 1}}
	if err := victim.DB().Commit(&backend.Batch{Puts: []backend.Record{bogus}}); err != nil {
		t.Fatal(err)
	}
	rev = c.put(n, "k", "last").Header.Revision
	compact(rev)
	c.eventually("the CORRUPT alarm names the member whose history differs", func() bool {
		as := n.Alarms(raftreq.AlarmCorrupt)
		return len(as) == 1 && as[0].MemberID == victim.MemberID()
	})
	if _, err := n.Put(ctx, &core.PutRequest{Key: []byte("k"), Value: []byte("v")}); err != node.ErrCorrupt {
		t.Fatalf("a put with the CORRUPT alarm raised: %v, want %v", err, node.ErrCorrupt)
	}
}
