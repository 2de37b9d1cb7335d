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
