package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/metastore/metastore/core"
)

// TestClusterFaults runs the in-tab cluster through the faults the page offers, natively and
// (make test-wasm) compiled to WebAssembly under Node: a write through a follower is read
// linearizably through another member; the leader stopped, the others elect one and take
// writes; the old leader started again catches up from its kept log; a member cut off
// refuses a linearizable read while the others answer, and catches up once healed.
func TestClusterFaults(t *testing.T) {
	c, err := New(Config{Seed: 1, HeartbeatInterval: 10 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lead := waitLeader(t, c, "")
	var followers []string
	for _, st := range c.Status() {
		if st.Name != lead {
			followers = append(followers, st.Name)
		}
	}

	put(t, c, followers[0], "a", "1")
	if v, err := get(c, followers[1], "a", false); err != nil || v != "1" {
		t.Fatalf("linearizable read on %s after a write through %s: %q %v", followers[1], followers[0], v, err)
	}

	if err := c.Stop(lead); err != nil {
		t.Fatal(err)
	}
	next := waitLeader(t, c, lead)
	put(t, c, next, "b", "2")
	if err := c.Start(lead); err != nil {
		t.Fatal(err)
	}
	eventually(t, c, lead+" catches up after its restart", func() bool {
		v, err := get(c, lead, "b", true)
		return err == nil && v == "2"
	})

	cut := followers[0]
	if cut == next {
		cut = followers[1]
	}
	if err := c.Isolate(cut); err != nil {
		t.Fatal(err)
	}
	if _, err := get(c, cut, "a", false); err == nil {
		t.Fatalf("%s, cut off, served a linearizable read", cut)
	}
	put(t, c, waitLeader(t, c, cut), "c", "3")
	c.Heal()
	eventually(t, c, cut+" catches up once healed", func() bool {
		v, err := get(c, cut, "c", false)
		return err == nil && v == "3"
	})
	for _, st := range c.Status() {
		if !st.Running || st.Role == "" || st.Term == 0 || st.Applied == 0 {
			t.Errorf("status %+v", st)
		}
	}
}

// waitLeader waits for a running member other than not to lead, as every running member
// sees it, and returns its name.
func waitLeader(t *testing.T, c *Cluster, not string) string {
	t.Helper()
	var lead string
	eventually(t, c, "a leader", func() bool {
		lead = ""
		for _, st := range c.Status() {
			if st.Role == "leader" && st.Name != not {
				lead = st.Name
			}
		}
		if lead == "" {
			return false
		}
		for _, st := range c.Status() {
			if st.Running && st.Name != not && st.Leader != lead {
				return false
			}
		}
		return true
	})
	return lead
}

func eventually(t *testing.T, c *Cluster, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; members: %+v", what, c.Status())
		}
		time.Sleep(5 * time.Millisecond) // a poll interval: the condition decides
	}
}

func put(t *testing.T, c *Cluster, name, key, val string) {
	t.Helper()
	n := c.Node(name)
	if n == nil {
		t.Fatalf("%s is not running", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Put(ctx, &core.PutRequest{Key: []byte(key), Value: []byte(val)}); err != nil {
		t.Fatalf("put %s through %s: %v", key, name, err)
	}
}

func get(c *Cluster, name, key string, serializable bool) (string, error) {
	n := c.Node(name)
	if n == nil {
		return "", errors.New("not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	r, err := n.Range(ctx, &core.RangeRequest{Key: []byte(key), Serializable: serializable})
	if err != nil {
		return "", err
	}
	if len(r.Kvs) != 1 {
		return "", fmt.Errorf("%d keys", len(r.Kvs))
	}
	return string(r.Kvs[0].Value), nil
}

// TestClusterMembershipAndLinks covers the rest of what the page offers: a slow disk and a
// slow link (writes still commit, the link counts what went over it), a learner added
// through a follower once the log was truncated (started by Add, it catches up from a
// snapshot that must name it, and is promoted), a member removed (it stops), a split that
// leaves the leader alone (the others elect one), and requests the cluster refuses.
func TestClusterMembershipAndLinks(t *testing.T) {
	c, err := New(Config{Seed: 2, HeartbeatInterval: 10 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
		SnapshotCount: 20, SnapshotCatchupEntries: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lead := waitLeader(t, c, "")
	var follower string
	for _, st := range c.Status() {
		if st.Name != lead {
			follower = st.Name
		}
	}
	if err := c.SetDisk(follower, 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.SetLink(lead, follower, 0, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	put(t, c, follower, "slow", "1")
	var link Link
	for _, l := range c.Links() {
		if l.From == lead && l.To == follower {
			link = l
		}
	}
	if link.DelayMS != 30 || link.Sent == 0 || link.Delivered == 0 || link.Sent < link.Delivered+link.Lost {
		t.Errorf("link %s→%s: %+v", lead, follower, link)
	}
	for _, st := range c.Status() {
		if st.Name == follower && st.DiskDelayMS != 20 {
			t.Errorf("%s's disk delay: %+v", follower, st)
		}
	}
	if err := c.SetLink(lead, follower, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.SetDisk(follower, 0); err != nil {
		t.Fatal(err)
	}

	for i := range 50 {
		put(t, c, lead, fmt.Sprint("k", i%5), "v")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	added, _, err := c.Add(ctx, follower, []string{"http://m4:2380"}, true)
	if err != nil || !added.IsLearner {
		t.Fatalf("add a learner through %s: %+v %v", follower, added, err)
	}
	// Nothing else is written meanwhile: the snapshot it catches up from is the one its
	// conf change forced (an older one does not name it, and it would refuse it forever).
	eventually(t, c, "the learner caught up", func() bool {
		n4, l := c.Node("m4"), c.Node(lead)
		return n4 != nil && n4.AppliedIndex() >= l.AppliedIndex()
	})
	eventually(t, c, "the learner promoted", func() bool {
		_, err := c.Node(lead).MemberPromote(ctx, added.ID)
		return err == nil
	})
	eventually(t, c, "m4 a voter", func() bool {
		for _, st := range c.Status() {
			if st.Name == "m4" {
				return st.Running && st.Role == "follower" && st.Leader == lead
			}
		}
		return false
	})
	if _, err := c.Node(lead).MemberRemove(ctx, added.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, c, "m4 removed and stopped", func() bool {
		for _, st := range c.Status() {
			if st.Name == "m4" {
				return st.Removed && !st.Running
			}
		}
		return false
	})
	if err := c.Start("m4"); err == nil {
		t.Error("a removed member started again")
	}

	var others []string
	for _, st := range c.Status() {
		if st.Name != lead && st.Name != "m4" {
			others = append(others, st.Name)
		}
	}
	if err := c.Split([]string{lead}, others); err != nil {
		t.Fatal(err)
	}
	next := waitLeader(t, c, lead)
	put(t, c, next, "after-split", "1")
	c.Heal()

	for i, bad := range []func() error{
		func() error { _, _, err := c.Add(ctx, next, []string{peerURL("m1")}, false); return err },
		func() error { _, _, err := c.Add(ctx, next, []string{"http://127.0.0.1:2380"}, false); return err },
		func() error { return c.SetLink(lead, next, 2, 0) },
		func() error { return c.SetLink(lead, "m9", 0, 0) },
		func() error { return c.SetDisk(lead, -time.Second) },
		func() error { return c.Split([]string{"m9"}) },
	} {
		if bad() == nil {
			t.Errorf("bad request %d was taken", i)
		}
	}
}

// TestHistoryCheck: the linearizability check on histories whose verdict is known (the model
// itself is internal/linearize's, tested there): what the tab records makes the verdict.
func TestHistoryCheck(t *testing.T) {
	type step struct {
		get       bool
		key, val  string
		del, fail bool
		found     bool
	}
	put := func(k, v string) step { return step{key: k, val: v} }
	get := func(k, v string) step { return step{get: true, key: k, val: v, found: v != "-"} }
	for _, tc := range []struct {
		name  string
		steps []step
		want  string
	}{
		{"empty", nil, "empty"},
		{"a read after a write sees it", []step{put("a", "1"), get("a", "1")}, "ok"},
		{"a stale read after a write", []step{put("a", "1"), put("a", "2"), get("a", "1")}, "illegal"},
		{"a read of a value never written", []step{get("a", "x")}, "illegal"},
		{"a missing key", []step{get("a", "-")}, "ok"},
		{"an empty value is not a missing key", []step{put("a", ""), get("a", "-")}, "illegal"},
		{"a failed write may have happened", []step{{key: "a", val: "1", fail: true}, get("a", "1")}, "ok"},
		{"a delete", []step{put("a", "1"), {key: "a", del: true}, get("a", "-")}, "ok"},
		{"a read missing a delete", []step{put("a", "1"), {key: "a", del: true}, get("a", "1")}, "illegal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistory()
			for _, s := range tc.steps {
				var err error
				if s.fail {
					err = errors.New("timed out")
				}
				if s.get {
					h.Get([]byte(s.key))(s.found, []byte(s.val), err)
				} else {
					h.Put([]byte(s.key), []byte(s.val), s.del)(err)
				}
			}
			if v := h.Check(); v.Result != tc.want {
				t.Fatalf("verdict %+v, want %s", v, tc.want)
			}
		})
	}
	// Concurrent calls may be ordered either way.
	h := NewHistory()
	w := h.Put([]byte("a"), []byte("1"), false)
	r := h.Get([]byte("a"))
	r(true, []byte("1"), nil)
	w(nil)
	if v := h.Check(); v.Result != "ok" || v.Operations != 2 || v.Keys != 1 {
		t.Fatalf("a read concurrent with the write it saw: %+v", v)
	}
}
