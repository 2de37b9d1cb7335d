//go:build !js

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// procCluster is a cluster of real metastore processes on 127.0.0.1.
type procCluster struct {
	t       *testing.T
	specs   []*spec
	members []*member
}

func startCluster(t *testing.T, size int, extra ...string) *procCluster {
	t.Helper()
	c := &procCluster{t: t}
	var parts []string
	base := t.TempDir()
	for i := 1; i <= size; i++ {
		sp := &spec{name: fmt.Sprintf("m%d", i), dir: filepath.Join(base, fmt.Sprintf("m%d.etcd", i)), client: freePort(t), peer: freePort(t), extra: extra}
		c.specs = append(c.specs, sp)
		parts = append(parts, sp.name+"=http://"+sp.peer)
	}
	for _, sp := range c.specs {
		sp.cluster = strings.Join(parts, ",")
		c.members = append(c.members, sp.launch(t))
	}
	for _, m := range c.members {
		m.waitReady(t)
	}
	return c
}

func (c *procCluster) endpoints() []string {
	var out []string
	for _, sp := range c.specs {
		out = append(out, sp.client)
	}
	return out
}

func (c *procCluster) client() *clientv3.Client {
	c.t.Helper()
	cl, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { cl.Close() })
	return cl
}

// etcdctl runs the real etcdctl against every endpoint (or the given ones).
func (c *procCluster) etcdctl(args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := runCtl(ctx, strings.Join(c.endpoints(), ","), args...)
	return out, err
}

type endpointStatus struct {
	Endpoint string `json:"Endpoint"`
	Status   struct {
		Header struct {
			MemberID uint64 `json:"member_id"`
			Revision int64  `json:"revision"`
			RaftTerm uint64 `json:"raft_term"`
		} `json:"header"`
		Leader           uint64 `json:"leader"`
		RaftIndex        uint64 `json:"raftIndex"`
		RaftAppliedIndex uint64 `json:"raftAppliedIndex"`
		IsLearner        bool   `json:"isLearner"`
	} `json:"Status"`
}

// status asks every running member (by etcdctl endpoint status --cluster) and returns
// what they said, by member ID.
func (c *procCluster) status() map[uint64]endpointStatus {
	c.t.Helper()
	out, err := c.etcdctl("endpoint", "status", "--cluster", "-w", "json")
	if err != nil {
		return nil
	}
	var sts []endpointStatus
	if json.Unmarshal([]byte(out), &sts) != nil {
		return nil
	}
	m := map[uint64]endpointStatus{}
	for _, s := range sts {
		m[s.Status.Header.MemberID] = s
	}
	return m
}

// leader waits until every member reachable agrees on a leader, and returns its index in
// c.members.
func (c *procCluster) leader(skip ...int) int {
	c.t.Helper()
	idx := -1
	eventually(c.t, "a leader every running member agrees on", func() bool {
		sts := c.status()
		var lead uint64
		for _, s := range sts {
			if s.Status.Leader == 0 || (lead != 0 && lead != s.Status.Leader) {
				return false
			}
			lead = s.Status.Leader
		}
		for i, m := range c.members {
			for id, s := range sts {
				if id == lead && s.Endpoint == "http://"+m.endpoint {
					idx = i
					return true
				}
			}
		}
		return false
	})
	return idx
}

func runCtl(ctx context.Context, endpoints string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bins.etcdctl, append([]string{"--endpoints", endpoints}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

func memberIDOf(t *testing.T, m *member) uint64 {
	t.Helper()
	c := m.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.Status(ctx, m.endpoint)
	if err != nil {
		t.Fatalf("status of %s: %v", m.endpoint, err)
	}
	return st.Header.MemberId
}

// sameState waits until every running member has the same revision and HashKV.
func (c *procCluster) sameState(running []*member) {
	c.t.Helper()
	eventually(c.t, "every member at the same revision and hash", func() bool {
		var rev int64
		var hash uint32
		for i, m := range running {
			cl, err := clientv3.New(clientv3.Config{Endpoints: []string{m.endpoint}, DialTimeout: 5 * time.Second})
			if err != nil {
				return false
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			h, err := cl.HashKV(ctx, m.endpoint, 0)
			cancel()
			cl.Close()
			if err != nil {
				return false
			}
			if i == 0 {
				rev, hash = h.Header.Revision, h.Hash
			} else if h.Header.Revision != rev || h.Hash != hash {
				return false
			}
		}
		return true
	})
}

// TestClusterThreeProcesses runs 3 real members under concurrent clientv3 load with every
// endpoint: the leader is killed with SIGKILL and restarted, a follower is stopped
// (SIGSTOP) until it needs a snapshot, leadership is moved with etcdctl, a learner is
// added, promoted, and the old leader removed. No acknowledged write is lost, a watch sees
// every revision once and in order, all members end with the same state, and what other
// clients saw of a few keys they put, read and compared-and-swapped meanwhile is
// linearizable (checked with porcupine).
func TestClusterThreeProcesses(t *testing.T) {
	c := startCluster(t, 3, "--snapshot-count", "200", "--snapshot-catchup-entries", "20",
		"--heartbeat-interval", "50", "--election-timeout", "500")
	cl := c.client()

	// etcdctl sees the cluster as etcd's.
	out, err := c.etcdctl("member", "list", "-w", "json")
	if err != nil || strings.Count(out, `"name"`) != 3 {
		t.Fatalf("member list: %v\n%s", err, out)
	}
	if sts := c.status(); len(sts) != 3 {
		t.Fatalf("endpoint status --cluster: %d members answered", len(sts))
	}

	// A watch from the start, through a client of its own: it must survive members dying
	// (clientv3 moves it to another endpoint and resumes from the last revision it saw).
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	wcl := c.client()
	wch := wcl.Watch(clientv3.WithRequireLeader(wctx), "load/", clientv3.WithPrefix(), clientv3.WithRev(1))

	// Load: writers through the all-endpoints client, until told to stop.
	var mu sync.Mutex
	acked := map[string]int64{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("load/%d/%06d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				resp, err := cl.Put(ctx, key, "v")
				cancel()
				if err == nil {
					mu.Lock()
					acked[key] = resp.Header.Revision
					mu.Unlock()
				}
			}
		}()
	}
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitMore := func(n int) {
		t.Helper()
		target := ackedCount() + n
		eventually(t, fmt.Sprintf("%d more acknowledged writes", n), func() bool { return ackedCount() >= target })
	}
	// Linearizability: clients of every endpoint put, read and compare-and-swap a few keys
	// (lin/, outside the watch's prefix), on a budget handed out at each fault below; their
	// history is checked at the end.
	lin := startLinLoad(t, c.client(), 4, nil, false)
	defer lin.stop()
	lin.allow(300)
	waitMore(100)

	// Kill the leader; a new one takes over, writes go on.
	li := c.leader()
	lin.allow(300)
	c.members[li].kill()
	survivors := func(except int) []*member {
		var out []*member
		for i, m := range c.members {
			if i != except {
				out = append(out, m)
			}
		}
		return out
	}
	eventually(t, "a new leader after the old one was killed", func() bool {
		for _, m := range survivors(li) {
			cl := m.client(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := cl.Status(ctx, m.endpoint)
			cancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return true
			}
		}
		return false
	})
	waitMore(100)
	c.members[li] = c.specs[li].start(t)
	lin.allow(200)
	waitMore(50)

	// Stop a follower long enough that the leader's log moves past it (snapshot-count 200,
	// 20 entries kept), then let it go on: it catches up from a snapshot.
	li = c.leader()
	fi := (li + 1) % 3
	stopped := c.members[fi]
	// A watch served by the member that will install a snapshot: its stream must go on
	// across the install (etcd keeps watchers through a restore), with every event.
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	sch := stopped.client(t).Watch(sctx, "load/direct/", clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	r, ok := <-sch
	if !ok || !r.Created {
		t.Fatalf("watch on the member to be stopped: %v", r.Err())
	}
	startTerm := r.Header.RaftTerm
	stopped.cmd.Process.Signal(syscall.SIGSTOP)
	t.Cleanup(func() { stopped.cmd.Process.Signal(syscall.SIGCONT) })
	lin.allow(300)
	// The load's client keeps sending a third of its requests to the stopped member (its
	// connection looks alive), so these writes go straight to the leader.
	// Until the leader notices the stopped member (~3s, the peer keepalive), its entries may
	// still reach the member's socket and be read once it goes on. After that, 600 more
	// entries (three snapshots of 200) leave it behind the leader's log whatever the
	// machine's speed: counting from the stop was not enough on a slow machine.
	lc := c.members[li].client(t)
	logBefore := len(stopped.log.String())
	pausedAt := time.Now()
	afterNoticed := 0
	for i := 0; afterNoticed < 600; i++ {
		if time.Since(pausedAt) > 4*time.Second {
			afterNoticed++
		}
		key := fmt.Sprintf("load/direct/%06d", i)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := lc.Put(ctx, key, "v")
		cancel()
		if err != nil {
			t.Fatalf("write to the leader while a follower is stopped: %v", err)
		}
		mu.Lock()
		acked[key] = resp.Header.Revision
		mu.Unlock()
	}
	stopped.cmd.Process.Signal(syscall.SIGCONT)
	lin.allow(200)
	waitMore(50)
	eventually(t, "the stopped follower installed a snapshot", func() bool {
		return strings.Contains(stopped.log.String()[logBefore:], "installed the leader's snapshot")
	})
	mu.Lock()
	direct := map[string]int64{}
	for k, rev := range acked {
		if strings.HasPrefix(k, "load/direct/") {
			direct[k] = rev
		}
	}
	mu.Unlock()
	var lastRev int64
	for seen := 0; seen < len(direct); {
		select {
		case r, ok := <-sch:
			if !ok || r.Err() != nil {
				t.Fatalf("the watch on the member that installed a snapshot ended after %d of %d events: %v", seen, len(direct), r.Err())
			}
			for _, ev := range r.Events {
				k := string(ev.Kv.Key)
				if want, ok := direct[k]; !ok || ev.Kv.ModRevision != want || ev.Kv.ModRevision <= lastRev {
					t.Fatalf("watch event %s at %d: acknowledged at %d, previous event at %d", k, ev.Kv.ModRevision, want, lastRev)
				}
				lastRev = ev.Kv.ModRevision
				seen++
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("the watch on the member that installed a snapshot delivered %d of %d events", seen, len(direct))
		}
	}

	// Move leadership with etcdctl, as an operator would.
	li = c.leader()
	target := memberIDOf(t, c.members[(li+1)%3])
	lin.allow(200)
	out, err = c.etcdctl("move-leader", strconv.FormatUint(target, 16))
	if err != nil || !strings.Contains(out, "Leadership transferred from") {
		t.Fatalf("move-leader: %v\n%s", err, out)
	}
	li = c.leader()
	if got := memberIDOf(t, c.members[li]); got != target {
		t.Fatalf("leader is %x after move-leader to %x", got, target)
	}
	// A watch response's header has the member's term when it is sent, as etcd's does,
	// not the term the stream started in.
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	pr, err := c.members[li].client(t).Put(pctx, "load/direct/after-move", "v")
	pcancel()
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, ok := <-sch
		if !ok || r.Err() != nil {
			t.Fatalf("the watch on the member that installed a snapshot ended: %v", r.Err())
		}
		if n := len(r.Events); n == 0 || string(r.Events[n-1].Kv.Key) != "load/direct/after-move" {
			continue
		}
		if r.Header.RaftTerm != pr.Header.RaftTerm || r.Header.RaftTerm <= startTerm {
			t.Fatalf("a watch event after move-leader carries term %d: the put's is %d, the stream began in %d", r.Header.RaftTerm, pr.Header.RaftTerm, startTerm)
		}
		break
	}

	// Add a learner under load, start it, promote it once it caught up, then remove the
	// old leader (which stops itself).
	sp4 := &spec{name: "m4", dir: filepath.Join(t.TempDir(), "m4.etcd"), client: freePort(t), peer: freePort(t),
		extra: c.specs[0].extra, state: "existing"}
	// As etcd's, a leader refuses membership changes ("unhealthy cluster") until it has
	// heard from every voter, which takes a moment after the move.
	lin.allow(200)
	eventually(t, "member add accepted", func() bool {
		out, err = c.etcdctl("member", "add", "m4", "--learner", "--peer-urls", "http://"+sp4.peer)
		if err != nil && strings.Contains(out, "unhealthy cluster") {
			return false
		}
		if err != nil || !strings.Contains(out, " added ") {
			t.Fatalf("member add: %v\n%s", err, out)
		}
		return true
	})
	m := regexp.MustCompile(`ETCD_INITIAL_CLUSTER="([^"]*)"`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("member add printed no ETCD_INITIAL_CLUSTER:\n%s", out)
	}
	sp4.cluster = m[1]
	m4 := sp4.start(t)
	id4 := memberIDOf(t, m4)
	eventually(t, "the learner promoted", func() bool {
		out, err = c.etcdctl("member", "promote", strconv.FormatUint(id4, 16))
		return err == nil && strings.Contains(out, "promoted")
	})
	old := c.members[li]
	oldID := memberIDOf(t, old)
	lin.allow(200)
	eventually(t, "member remove accepted", func() bool {
		out, err = c.etcdctl("member", "remove", strconv.FormatUint(oldID, 16))
		if err != nil && strings.Contains(out, "unhealthy cluster") {
			return false
		}
		if err != nil || !strings.Contains(out, "removed from cluster") {
			t.Fatalf("member remove: %v\n%s", err, out)
		}
		return true
	})
	select {
	case <-old.exited:
		old.stopped = true
	case <-time.After(60 * time.Second):
		t.Fatalf("the removed member did not stop itself")
	}
	c.members = append(survivors(li), m4)
	c.specs = append(append(c.specs[:li:li], c.specs[li+1:]...), sp4)
	waitMore(50)
	lin.finish()
	close(stop)
	wg.Wait()
	lin.check()

	// Every acknowledged write is on every member, and they all hold the same state.
	c.sameState(c.members)
	final := c.client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := final.Get(ctx, "load/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]int64{}
	for _, kv := range got.Kvs {
		have[string(kv.Key)] = kv.ModRevision
	}
	for key, rev := range acked {
		if have[key] != rev {
			t.Fatalf("acknowledged write %s at revision %d: found at %d", key, rev, have[key])
		}
	}
	t.Logf("%d acknowledged writes, all present", len(acked))

	// The watch saw every write once, in revision order, without gaps.
	seen := map[string]bool{}
	var last int64
	deadline := time.After(60 * time.Second)
	for len(seen) < len(have) {
		select {
		case wr, ok := <-wch:
			if !ok || wr.Err() != nil {
				t.Fatalf("watch ended after %d events: %v", len(seen), wr.Err())
			}
			for _, ev := range wr.Events {
				if ev.Type != mvccpb.PUT || ev.Kv.ModRevision <= last || seen[string(ev.Kv.Key)] {
					t.Fatalf("watch event out of order or repeated: %s at %d after %d", ev.Kv.Key, ev.Kv.ModRevision, last)
				}
				last = ev.Kv.ModRevision
				seen[string(ev.Kv.Key)] = true
			}
		case <-deadline:
			t.Fatalf("the watch saw %d of %d writes", len(seen), len(have))
		}
	}
}
