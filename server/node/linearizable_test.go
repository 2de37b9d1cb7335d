package node_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/node"
)

// The linearizability check: concurrent clients put, read (linearizably) and
// compare-and-swap a few keys through every member while the network loses and reorders
// messages, the leader is cut off and healed and a follower is stopped and restarted; the
// history of calls and returns is then checked against a register per key with porcupine.
// The seed (LIN_SEED to set it) fixes the network's faults and each client's choices of
// member, key and operation; goroutine scheduling still varies from run to run. On a
// violation the history's visualization is written to out/linearizable-<seed>.html.

type linKind int

const (
	linPut linKind = iota
	linGet
	linCAS
)

type linInput struct {
	kind     linKind
	key      string
	value    string // put: the value; cas: the new value
	expected string // cas: the value compared against ("" never matches: a missing key fails a value compare, as etcd)
}

type linOutput struct {
	unknown bool   // the write failed: it may or may not have happened
	swapped bool   // cas
	value   string // get: the value read ("" when absent); cas that did not swap: the value it saw
}

// linModel is a register per key; "" is a missing key (no value written is empty).
var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(linInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(linInput), output.(linOutput)
		switch in.kind {
		case linPut:
			return true, in.value
		case linGet:
			return out.value == s, s
		default:
			match := s != "" && s == in.expected
			if out.unknown {
				// Linearized here it took effect; one that never happened is linearized
				// after everything else (its return is after the run's end), where no
				// operation observes it.
				if match {
					return true, in.value
				}
				return true, s
			}
			if out.swapped {
				return match, in.value
			}
			return !match && out.value == s, s
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		res := ""
		switch {
		case out.unknown:
			res = " -> ?"
		case in.kind == linGet:
			res = fmt.Sprintf(" -> %q", out.value)
		case in.kind == linCAS && out.swapped:
			res = " -> ok"
		case in.kind == linCAS:
			res = fmt.Sprintf(" -> failed (%q)", out.value)
		}
		switch in.kind {
		case linPut:
			return fmt.Sprintf("put(%s, %s)%s", in.key, in.value, res)
		case linGet:
			return fmt.Sprintf("get(%s)%s", in.key, res)
		default:
			return fmt.Sprintf("cas(%s, %q -> %s)%s", in.key, in.expected, in.value, res)
		}
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
}

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

	base := time.Now()
	now := func() int64 { return int64(time.Since(base)) }
	prog := &linProgress{clients: clients}
	prog.cond = sync.NewCond(&prog.mu)
	histories := make([][]porcupine.Operation, clients)
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
				var in linInput
				switch r := rnd.Intn(10); {
				case r < 3:
					in = linInput{kind: linPut, key: key, value: value}
				case r < 7:
					in = linInput{kind: linGet, key: key}
				default:
					in = linInput{kind: linCAS, key: key, value: value, expected: seen[key]}
				}
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
				call := now()
				out, err := linDo(n, in, opTimeout)
				ret := now()
				g.RUnlock()
				prog.finished(err == nil)
				op := porcupine.Operation{ClientId: id, Input: in, Call: call, Output: out, Return: ret}
				if err != nil {
					// A failed read says nothing; a failed write may still be applied
					// later: its return is set after the run's end.
					if in.kind != linGet {
						op.Output = linOutput{unknown: true}
						op.Return = -1
						histories[id] = append(histories[id], op)
					}
					bound = c.names[rnd.Intn(len(c.names))]
					continue
				}
				histories[id] = append(histories[id], op)
				switch {
				case in.kind == linPut, in.kind == linCAS && out.swapped:
					seen[key] = in.value
				default:
					seen[key] = out.value
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
	end := now() + 1
	c.net.SetFaults(0, 0)
	c.waitLeader()
	c.converged()

	var history []porcupine.Operation
	counts := map[string]int{}
	for _, h := range histories {
		for _, op := range h {
			in, out := op.Input.(linInput), op.Output.(linOutput)
			switch {
			case out.unknown:
				op.Return = end
				counts["unknown"]++
			case in.kind == linPut:
				counts["put"]++
			case in.kind == linGet:
				counts["get"]++
			case out.swapped:
				counts["cas ok"]++
			default:
				counts["cas failed"]++
			}
			history = append(history, op)
		}
	}
	prog.mu.Lock()
	failed := prog.done - prog.ok
	prog.mu.Unlock()
	t.Logf("history of %d operations (%d failed, failed reads dropped): %v", len(history), failed, counts)
	for _, k := range []string{"put", "get", "cas ok", "cas failed"} {
		if counts[k] < 10 {
			t.Fatalf("only %d %s operations succeeded: the check would say little", counts[k], k)
		}
	}

	start := time.Now()
	res := porcupine.CheckOperationsTimeout(linModel, history, 60*time.Second)
	t.Logf("porcupine: %s in %v", res, time.Since(start).Round(time.Millisecond))
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		_, info := porcupine.CheckOperationsVerbose(linModel, history, 60*time.Second)
		dir := filepath.Join("..", "..", "out")
		path := filepath.Join(dir, fmt.Sprintf("linearizable-%d.html", seed))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			path = filepath.Join(t.TempDir(), filepath.Base(path))
		}
		if err := porcupine.VisualizePath(linModel, info, path); err != nil {
			t.Logf("visualization: %v", err)
		} else if abs, err := filepath.Abs(path); err == nil {
			t.Logf("visualization: %s", abs)
		}
		t.Fatalf("the history is not linearizable (seed %d)", seed)
	default:
		t.Fatalf("porcupine could not decide in 60s (seed %d): the history is too large to check", seed)
	}
}

func linDone(p *linProgress) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// linDo runs one client operation.
func linDo(n *node.Node, in linInput, timeout time.Duration) (linOutput, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	key := []byte(in.key)
	switch in.kind {
	case linPut:
		_, err := n.Put(ctx, &core.PutRequest{Key: key, Value: []byte(in.value)})
		return linOutput{}, err
	case linGet:
		resp, err := n.Range(ctx, &core.RangeRequest{Key: key})
		if err != nil {
			return linOutput{}, err
		}
		if len(resp.Kvs) == 0 {
			return linOutput{}, nil
		}
		return linOutput{value: string(resp.Kvs[0].Value)}, nil
	default:
		resp, err := n.Txn(ctx, &core.TxnRequest{
			Compare: []core.Compare{{Key: key, Target: core.CompareValue, Result: core.CompareEqual, Value: []byte(in.expected)}},
			Success: []core.RequestOp{{Put: &core.PutRequest{Key: key, Value: []byte(in.value)}}},
			Failure: []core.RequestOp{{Range: &core.RangeRequest{Key: key}}},
		})
		if err != nil {
			return linOutput{}, err
		}
		if resp.Succeeded {
			return linOutput{swapped: true}, nil
		}
		out := linOutput{}
		if rr := resp.Responses[0].Range; len(rr.Kvs) > 0 {
			out.value = string(rr.Kvs[0].Value)
		}
		return out, nil
	}
}
