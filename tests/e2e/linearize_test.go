//go:build !js

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/internal/linearize"
)

// linLoad is the part of a cluster test's load whose history is checked for
// linearizability: clients put, read (linearizably) and compare-and-swap a few keys
// through a client of every endpoint while the test injects its faults. They run on a
// budget the test hands out as it goes (allow), so the history stays small enough for
// porcupine whatever the machine's speed, and its operations are spread over the faults.
type linLoad struct {
	t    *testing.T
	cl   *clientv3.Client
	rec  *linearize.Recorder
	keys []string
	// gate, if set, is held (read) for each operation: the test takes it to see the
	// members with no write in flight.
	gate *sync.RWMutex
	// requireLeader: even-numbered clients ask for a leader (clientv3.WithRequireLeader).
	requireLeader bool

	mu      sync.Mutex
	cond    *sync.Cond
	budget  int // operations the clients may still start
	stopped bool
	wg      sync.WaitGroup
}

const linOpTimeout = 3 * time.Second

// startLinLoad starts clients goroutines on cl, on keys lin/a .. lin/d, with no budget yet.
func startLinLoad(t *testing.T, cl *clientv3.Client, clients int, gate *sync.RWMutex, requireLeader bool) *linLoad {
	l := &linLoad{t: t, cl: cl, rec: linearize.NewRecorder(), keys: []string{"lin/a", "lin/b", "lin/c", "lin/d"},
		gate: gate, requireLeader: requireLeader}
	l.cond = sync.NewCond(&l.mu)
	for id := range clients {
		l.wg.Add(1)
		go l.client(id)
	}
	return l
}

// allow lets the clients start n more operations.
func (l *linLoad) allow(n int) {
	l.mu.Lock()
	l.budget += n
	l.mu.Unlock()
	l.cond.Broadcast()
}

// take waits for an operation of the budget; false once stopped.
func (l *linLoad) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.budget == 0 && !l.stopped {
		l.cond.Wait()
	}
	if l.stopped {
		return false
	}
	l.budget--
	if l.budget == 0 {
		l.cond.Broadcast() // finish waits for this
	}
	return true
}

// finish waits until the budget is spent, then stops the clients.
func (l *linLoad) finish() {
	l.mu.Lock()
	for l.budget > 0 && !l.stopped {
		l.cond.Wait()
	}
	l.mu.Unlock()
	l.stop()
}

// stop stops the clients (after their operation in flight) and waits for them; it may be
// called more than once.
func (l *linLoad) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
	l.cond.Broadcast()
	l.wg.Wait()
}

// check checks the recorded history with porcupine (stop first).
func (l *linLoad) check() {
	l.t.Helper()
	history, st := l.rec.History()
	l.t.Logf("linearizability: %v", st)
	counts := linearize.Counts(history)
	for _, k := range []string{"put", "get", "cas ok", "cas failed"} {
		if counts[k] < 10 {
			l.t.Errorf("only %d %s operations succeeded: the linearizability check would say little (%v)", counts[k], k, counts)
		}
	}
	linearize.Check(l.t, history, 60*time.Second)
}

func (l *linLoad) client(id int) {
	defer l.wg.Done()
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(id)))
	seen := map[string]string{} // the last value this client saw per key
	for i := 0; l.take(); i++ {
		key := l.keys[rnd.IntN(len(l.keys))]
		value := fmt.Sprintf("c%d.%d", id, i)
		in := linearize.Pick(rnd.IntN(10), key, value, seen)
		if l.gate != nil {
			l.gate.RLock()
		}
		ctx, cancel := context.WithTimeout(context.Background(), linOpTimeout)
		if l.requireLeader && id%2 == 0 {
			ctx = clientv3.WithRequireLeader(ctx)
		}
		p := l.rec.Call(id, in)
		out, err := linDo(ctx, l.cl, in)
		p.Return(out, err)
		cancel()
		if l.gate != nil {
			l.gate.RUnlock()
		}
		if err != nil {
			continue
		}
		switch {
		case in.Kind == linearize.Put, in.Kind == linearize.CAS && out.Swapped:
			seen[key] = in.Value
		default:
			seen[key] = out.Value
		}
	}
}

// linDo runs one operation: a put, a linearizable get, or a Txn comparing the value.
func linDo(ctx context.Context, cl *clientv3.Client, in linearize.Input) (linearize.Output, error) {
	switch in.Kind {
	case linearize.Put:
		_, err := cl.Put(ctx, in.Key, in.Value)
		return linearize.Output{}, err
	case linearize.Get:
		resp, err := cl.Get(ctx, in.Key)
		if err != nil || len(resp.Kvs) == 0 {
			return linearize.Output{}, err
		}
		return linearize.Output{Value: string(resp.Kvs[0].Value)}, nil
	default:
		resp, err := cl.Txn(ctx).
			If(clientv3.Compare(clientv3.Value(in.Key), "=", in.Expected)).
			Then(clientv3.OpPut(in.Key, in.Value)).
			Else(clientv3.OpGet(in.Key)).
			Commit()
		if err != nil {
			return linearize.Output{}, err
		}
		if resp.Succeeded {
			return linearize.Output{Swapped: true}, nil
		}
		out := linearize.Output{}
		if rr := resp.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) > 0 {
			out.Value = string(rr.Kvs[0].Value)
		}
		return out, nil
	}
}
