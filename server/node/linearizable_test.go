package node_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/internal/linearize"
	"github.com/metastore/metastore/server/node"
)

// The linearizability check: concurrent clients put, read (linearizably) and
// compare-and-swap a few keys through every member while the network loses and reorders
// messages, the leader is cut off and healed and a follower is stopped and restarted; the
// history of calls and returns is then checked with internal/linearize (porcupine, a
// register per key). The seed (LIN_SEED to set it) fixes the network's faults and each
// client's choices of member, key and operation; goroutine scheduling still varies from
// run to run. On a violation the history's visualization is written to
// out/linearize-TestLinearizable.html at the module's root (linearize.Check).

// linProgress counts finished client operations so the fault schedule can follow the
// load rather than the clock.
type linProgress struct {
	mu      sync.Mutex
	cond    *sync.Cond
	done    int
	ok      int
	clients int // still running
}

func (p *linProgress) finished(ok bool) {
	p.mu.Lock()
	p.done++
	if ok {
		p.ok++
	}
	p.mu.Unlock()
	p.cond.Broadcast()
}

func (p *linProgress) exit() {
	p.mu.Lock()
	p.clients--
	p.mu.Unlock()
	p.cond.Broadcast()
}

// waitOK returns once n more operations succeeded than when called (or every client is done).
func (p *linProgress) waitOK(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	target := p.ok + n
	for p.ok < target && p.clients > 0 {
		p.cond.Wait()
	}
}

func TestLinearizable(t *testing.T) {
	seed := time.Now().UnixNano()
	if s := os.Getenv("LIN_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("LIN_SEED: %v", err)
		}
	}
	t.Logf("seed %d (replay with LIN_SEED=%d)", seed, seed)
	const (
		clients   = 6
		opsEach   = 150
		opTimeout = 2 * time.Second
	)
	keys := []string{"a", "b", "c"}

	c := newCluster(t, 3, seed, nil)
	c.net.SetFaults(0.05, 0.05)

	// A member being stopped is not used once stopping starts: clients hold its read lock
	// for the length of an operation.
	guards := map[string]*sync.RWMutex{}
	for _, name := range c.names {
		guards[name] = &sync.RWMutex{}
	}

	rec := linearize.NewRecorder()
	prog := &linProgress{clients: clients}
	prog.cond = sync.NewCond(&prog.mu)
	var wg sync.WaitGroup
	for id := 0; id < clients; id++ {
		rnd := rand.New(rand.NewSource(seed + int64(id) + 1))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer prog.exit()
			bound := c.names[rnd.Intn(len(c.names))]
			seen := map[string]string{} // the last value this client saw per key
			for i := 0; i < opsEach; i++ {
				key := keys[rnd.Intn(len(keys))]
				value := fmt.Sprintf("c%d.%d", id, i)
				in := linearize.Pick(rnd.Intn(10), key, value, seen)
				g := guards[bound]
				g.RLock()
				n := c.node(bound)
				if n == nil {
					// Stopped: go to another member.
					g.RUnlock()
					bound = c.names[rnd.Intn(len(c.names))]
					i--
					continue
				}
				// A failed read is dropped from the history; a failed write may still be
				// applied later: the recorder makes its outcome unknown.
				p := rec.Call(id, in)
				out, err := linDo(n, in, opTimeout)
				p.Return(out, err)
				g.RUnlock()
				prog.finished(err == nil)
				if err != nil {
					bound = c.names[rnd.Intn(len(c.names))]
					continue
				}
				switch {
				case in.Kind == linearize.Put, in.Kind == linearize.CAS && out.Swapped:
					seen[key] = in.Value
				default:
					seen[key] = out.Value
				}
			}
		}()
	}

	// The fault schedule, paced by the clients' successes.
	prog.waitOK(clients * opsEach / 6)
	old := c.leaderName()
	oldID := c.node(old).MemberID()
	t.Logf("isolating the leader %s after %d ops", old, linDone(prog))
	c.net.Isolate(oldID)
	c.eventually("a new leader among the others", func() bool {
		for _, name := range c.names {
			if n := c.node(name); n != nil && name != old && n.IsLeader() {
				return true
			}
		}
		return false
	})
	prog.waitOK(clients * opsEach / 6)
	t.Logf("healing after %d ops", linDone(prog))
	c.net.Heal()
	prog.waitOK(clients * opsEach / 10)
	lead := c.leaderName()
	follower := ""
	for _, name := range c.names {
		if name != lead {
			follower = name
			break
		}
	}
	t.Logf("stopping the follower %s after %d ops", follower, linDone(prog))
	guards[follower].Lock()
	c.stop(follower)
	guards[follower].Unlock()
	prog.waitOK(clients * opsEach / 6)
	t.Logf("restarting %s after %d ops", follower, linDone(prog))
	c.start(follower, "new")
	wg.Wait()
	c.net.SetFaults(0, 0)
	c.waitLeader()
	c.converged()

	history, st := rec.History()
	counts := linearize.Counts(history)
	t.Logf("history: %v: %v", st, counts)
	for _, k := range []string{"put", "get", "cas ok", "cas failed"} {
		if counts[k] < 10 {
			t.Fatalf("only %d %s operations succeeded: the check would say little", counts[k], k)
		}
	}
	// Check fails the test on a violation; a history too large to decide fails it here.
	switch linearize.Check(t, history, 60*time.Second) {
	case porcupine.Illegal:
		t.Logf("replay with LIN_SEED=%d", seed)
	case porcupine.Unknown:
		t.Fatalf("porcupine could not decide in 60s (seed %d): the history is too large to check", seed)
	}
}

func linDone(p *linProgress) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// linDo runs one client operation.
func linDo(n *node.Node, in linearize.Input, timeout time.Duration) (linearize.Output, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	key := []byte(in.Key)
	switch in.Kind {
	case linearize.Put:
		_, err := n.Put(ctx, &core.PutRequest{Key: key, Value: []byte(in.Value)})
		return linearize.Output{}, err
	case linearize.Get:
		resp, err := n.Range(ctx, &core.RangeRequest{Key: key})
		if err != nil || len(resp.Kvs) == 0 {
			return linearize.Output{}, err
		}
		return linearize.Output{Value: string(resp.Kvs[0].Value)}, nil
	default:
		resp, err := n.Txn(ctx, &core.TxnRequest{
			Compare: []core.Compare{{Key: key, Target: core.CompareValue, Result: core.CompareEqual, Value: []byte(in.Expected)}},
			Success: []core.RequestOp{{Put: &core.PutRequest{Key: key, Value: []byte(in.Value)}}},
			Failure: []core.RequestOp{{Range: &core.RangeRequest{Key: key}}},
		})
		if err != nil {
			return linearize.Output{}, err
		}
		if resp.Succeeded {
			return linearize.Output{Swapped: true}, nil
		}
		out := linearize.Output{}
		if rr := resp.Responses[0].Range; len(rr.Kvs) > 0 {
			out.Value = string(rr.Kvs[0].Value)
		}
		return out, nil
	}
}
