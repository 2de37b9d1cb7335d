// Package memnet is an in-memory network of members for tests: each member gets an
// Endpoint (a node.Transport), and the test injects faults with a seeded random source —
// message loss, reordering, partitions — so a failing run can be replayed by its seed.
package memnet

import (
	"context"
	"errors"
	"math/rand"
	"sync"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/server/node"
)

// Network connects endpoints.
type Network struct {
	mu        sync.Mutex
	rnd       *rand.Rand
	endpoints map[uint64]*Endpoint
	cut       map[[2]uint64]bool
	drop      float64 // probability of losing a message
	reorder   float64 // probability of swapping a message with the next one
}

// New returns a network whose faults follow seed.
func New(seed int64) *Network {
	return &Network{rnd: rand.New(rand.NewSource(seed)), endpoints: map[uint64]*Endpoint{}, cut: map[[2]uint64]bool{}}
}

// SetFaults sets the probabilities of losing and of reordering a message.
func (nw *Network) SetFaults(drop, reorder float64) {
	nw.mu.Lock()
	nw.drop, nw.reorder = drop, reorder
	nw.mu.Unlock()
}

// Isolate cuts id off from every other member, both ways.
func (nw *Network) Isolate(id uint64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for other := range nw.endpoints {
		if other != id {
			nw.cut[[2]uint64{id, other}] = true
			nw.cut[[2]uint64{other, id}] = true
		}
	}
}

// Heal removes every partition.
func (nw *Network) Heal() {
	nw.mu.Lock()
	nw.cut = map[[2]uint64]bool{}
	nw.mu.Unlock()
}

// Endpoint returns member id's transport.
func (nw *Network) Endpoint(id uint64) *Endpoint {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	e := &Endpoint{nw: nw, id: id, queues: map[uint64]*queue{}, stopc: make(chan struct{})}
	nw.endpoints[id] = e
	return e
}

func (nw *Network) reachable(from, to uint64) (*Endpoint, bool) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	e, ok := nw.endpoints[to]
	if !ok || nw.cut[[2]uint64{from, to}] {
		return nil, false
	}
	return e, true
}

// roll decides, from the seeded source, whether a fault happens: p picks its probability.
func (nw *Network) roll(p func(*Network) float64) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	prob := p(nw)
	return prob > 0 && nw.rnd.Float64() < prob
}

func dropP(nw *Network) float64    { return nw.drop }
func reorderP(nw *Network) float64 { return nw.reorder }

// Endpoint is one member's transport.
type Endpoint struct {
	nw     *Network
	id     uint64
	mu     sync.Mutex
	h      node.Handler
	queues map[uint64]*queue
	stopc  chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// queue delivers one sender's messages to one receiver in order, on its own goroutine, so
// a slow receiver never blocks the sender or the other peers.
type queue struct {
	c chan raftpb.Message
}

const queueLen = 4096

var _ node.Transport = (*Endpoint)(nil)

func (e *Endpoint) Start(h node.Handler) error {
	e.mu.Lock()
	e.h = h
	e.mu.Unlock()
	return nil
}

func (e *Endpoint) handler() node.Handler {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.h
}

func (e *Endpoint) Send(msgs []raftpb.Message) {
	for _, m := range msgs {
		e.mu.Lock()
		select {
		case <-e.stopc: // stopped: no new deliverer may join the group Stop waits for
			e.mu.Unlock()
			return
		default:
		}
		q := e.queues[m.To]
		if q == nil {
			q = &queue{c: make(chan raftpb.Message, queueLen)}
			e.queues[m.To] = q
			e.wg.Add(1)
			go e.deliver(m.To, q)
		}
		e.mu.Unlock()
		select {
		case q.c <- m:
		default:
			e.unreachable(m)
		}
	}
}

func (e *Endpoint) unreachable(m raftpb.Message) {
	if h := e.handler(); h != nil {
		h.ReportUnreachable(m.To)
		if m.Type == raftpb.MsgSnap {
			h.ReportSnapshot(m.To, raft.SnapshotFailure)
		}
	}
}

func (e *Endpoint) deliver(to uint64, q *queue) {
	defer e.wg.Done()
	var held *raftpb.Message // a message being reordered behind the next one
	for {
		var m raftpb.Message
		select {
		case <-e.stopc:
			return
		case m = <-q.c:
		}
		if held == nil && m.Type != raftpb.MsgSnap && e.nw.roll(reorderP) {
			held = &m
			continue
		}
		e.one(to, m)
		if held != nil {
			e.one(to, *held)
			held = nil
		}
	}
}

func (e *Endpoint) one(to uint64, m raftpb.Message) {
	dst, ok := e.nw.reachable(e.id, to)
	if !ok || e.nw.roll(dropP) {
		e.unreachable(m)
		return
	}
	h := dst.handler()
	if h == nil {
		e.unreachable(m)
		return
	}
	select {
	case <-dst.stopc:
		e.unreachable(m)
		return
	default:
	}
	if m.Type == raftpb.MsgProp {
		// A member without a leader holds a proposal until it learns one; what would tell
		// it comes behind on this queue (the peer transport does the same).
		go h.Process(context.Background(), m)
		return
	}
	err := h.Process(context.Background(), m)
	if m.Type == raftpb.MsgSnap {
		if sh := e.handler(); sh != nil {
			status := raft.SnapshotFinish
			if err != nil {
				status = raft.SnapshotFailure
			}
			sh.ReportSnapshot(to, status)
		}
	}
}

func (e *Endpoint) AddPeer(uint64, []string)    {}
func (e *Endpoint) UpdatePeer(uint64, []string) {}
func (e *Endpoint) RemovePeer(uint64)           {}

// ErrUnreachable is what Forward returns across a cut link.
var ErrUnreachable = errors.New("memnet: member unreachable")

func (e *Endpoint) Forward(ctx context.Context, member uint64, req []byte) ([]byte, error) {
	dst, ok := e.nw.reachable(e.id, member)
	if !ok {
		return nil, ErrUnreachable
	}
	h := dst.handler()
	if h == nil {
		return nil, ErrUnreachable
	}
	return h.HandleForward(ctx, req)
}

// Stop stops delivering from this endpoint; a stopped endpoint receives nothing more.
func (e *Endpoint) Stop() {
	e.once.Do(func() {
		e.mu.Lock()
		close(e.stopc)
		e.mu.Unlock()
		e.wg.Wait()
		e.mu.Lock()
		e.h = nil
		e.mu.Unlock()
	})
}
