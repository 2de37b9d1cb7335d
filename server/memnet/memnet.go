// Package memnet is an in-memory network of members for tests and for the playground's
// in-tab cluster: each member gets an Endpoint (a node.Transport), and faults are injected
// with a seeded random source — message loss and reordering, on every link or on one,
// delays, partitions — so a failing run can be replayed by its seed. Delays run on the
// network's clock, so a virtual clock drives them as it drives the members.
package memnet

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"math/rand"
	"slices"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/core/clock"
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
	links     map[[2]uint64]*link
	clk       clock.Clock
}

// Link is the faults of one direction of one link, on top of the network's.
type Link struct {
	// Drop is the probability of losing a message.
	Drop float64
	// Delay is how long a message takes, on the network's clock.
	Delay time.Duration
}

// link is a directed link's faults and what went over it.
type link struct {
	Link
	sent, delivered, lost uint64
}

// LinkStats is what went over one direction of a link.
type LinkStats struct {
	From, To uint64
	Link
	// Sent counts messages handed to the link; Delivered and Lost how they ended. The rest
	// are in flight (queued or delayed).
	Sent, Delivered, Lost uint64
	// Cut: a partition cuts it.
	Cut bool
}

// New returns a network on the wall clock whose faults follow seed.
func New(seed int64) *Network {
	return &Network{rnd: rand.New(rand.NewSource(seed)), endpoints: map[uint64]*Endpoint{}, cut: map[[2]uint64]bool{},
		links: map[[2]uint64]*link{}, clk: clock.Real{}}
}

// SetClock sets the clock delays run on; call it before the first message.
func (nw *Network) SetClock(c clock.Clock) {
	nw.mu.Lock()
	nw.clk = c
	nw.mu.Unlock()
}

// SetLink sets the faults of messages from one member to another (one direction).
func (nw *Network) SetLink(from, to uint64, l Link) {
	nw.mu.Lock()
	nw.link(from, to).Link = l
	nw.mu.Unlock()
}

// link returns the directed link's record, made on first use; nw.mu is held.
func (nw *Network) link(from, to uint64) *link {
	k := [2]uint64{from, to}
	l := nw.links[k]
	if l == nil {
		l = &link{}
		nw.links[k] = l
	}
	return l
}

// Links reports every directed link a message went over or a fault was set on, ordered by
// (from, to).
func (nw *Network) Links() []LinkStats {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	out := make([]LinkStats, 0, len(nw.links))
	for k, l := range nw.links {
		out = append(out, LinkStats{From: k[0], To: k[1], Link: l.Link, Sent: l.sent, Delivered: l.delivered, Lost: l.lost, Cut: nw.cut[k]})
	}
	slices.SortFunc(out, func(a, b LinkStats) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	return out
}

// Partition splits the members into groups that reach only their own group's members;
// members in no group keep every link they had.
func (nw *Network) Partition(groups ...[]uint64) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					nw.cut[[2]uint64{a, b}] = true
				}
			}
		}
	}
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

// lost decides, from the seeded source, whether a message from one member to another is
// lost on its way: the network's loss, then the link's.
func (nw *Network) lost(from, to uint64) bool {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	l := nw.link(from, to)
	return (nw.drop > 0 && nw.rnd.Float64() < nw.drop) || (l.Drop > 0 && nw.rnd.Float64() < l.Drop)
}

// ended counts how a message on a link ended: delivered, or lost.
func (nw *Network) ended(from, to uint64, delivered bool) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	if l := nw.link(from, to); delivered {
		l.delivered++
	} else {
		l.lost++
	}
}

// sent counts a message handed to a link and says when it is due (now plus the link's delay).
func (nw *Network) sent(from, to uint64) time.Time {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	l := nw.link(from, to)
	l.sent++
	return nw.clk.Now().Add(l.Delay)
}

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
	c chan envelope
}

// envelope is a message on its way, due at a time of the network's clock.
type envelope struct {
	m    raftpb.Message
	due  time.Time
	snap []byte // a snapshot message's state
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
		if !e.enqueue(envelope{m: m}) {
			return
		}
	}
}

// SendSnapshot reads the state whole (this network is memory) and sends it with m, in
// order with the messages sent before it.
func (e *Endpoint) SendSnapshot(m raftpb.Message, body io.ReadCloser) {
	data, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		if h := e.handler(); h != nil {
			h.ReportSnapshot(m.To, raft.SnapshotFailure)
		}
		return
	}
	e.enqueue(envelope{m: m, snap: data})
}

// enqueue puts env on its destination's queue; false once the endpoint stopped.
func (e *Endpoint) enqueue(env envelope) bool {
	m := env.m
	e.mu.Lock()
	select {
	case <-e.stopc: // stopped: no new deliverer may join the group Stop waits for
		e.mu.Unlock()
		return false
	default:
	}
	q := e.queues[m.To]
	if q == nil {
		q = &queue{c: make(chan envelope, queueLen)}
		e.queues[m.To] = q
		e.wg.Add(1)
		go e.deliver(m.To, q)
	}
	e.mu.Unlock()
	env.due = e.nw.sent(e.id, m.To)
	select {
	case q.c <- env:
	default:
		e.nw.ended(e.id, m.To, false)
		e.unreachable(m)
	}
	return true
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
		var env envelope
		select {
		case <-e.stopc:
			return
		case env = <-q.c:
		}
		if !e.await(env.due) {
			return
		}
		m := env.m
		if held == nil && m.Type != raftpb.MsgSnap && e.nw.roll(reorderP) {
			held = &m
			continue
		}
		e.one(to, m, env.snap)
		if held != nil {
			e.one(to, *held, nil)
			held = nil
		}
	}
}

// await waits until due on the network's clock; false if the endpoint stopped first.
func (e *Endpoint) await(due time.Time) bool {
	e.nw.mu.Lock()
	clk := e.nw.clk
	e.nw.mu.Unlock()
	d := due.Sub(clk.Now())
	if d <= 0 {
		return true
	}
	at, release := clock.After(clk, d)
	defer release()
	select {
	case <-at:
		return true
	case <-e.stopc:
		return false
	}
}

func (e *Endpoint) one(to uint64, m raftpb.Message, snap []byte) {
	dst, ok := e.nw.reachable(e.id, to)
	var h node.Handler
	if ok && !e.nw.lost(e.id, to) {
		h = dst.handler()
		select {
		case <-dst.stopc:
			h = nil
		default:
		}
	}
	e.nw.ended(e.id, to, h != nil)
	if h == nil {
		e.unreachable(m)
		return
	}
	if m.Type == raftpb.MsgProp {
		// A member without a leader holds a proposal until it learns one; what would tell
		// it comes behind on this queue (the peer transport does the same).
		go h.Process(context.Background(), m)
		return
	}
	if m.Type != raftpb.MsgSnap {
		h.Process(context.Background(), m)
		return
	}
	err := h.ReceiveSnapshot(context.Background(), m, bytes.NewReader(snap))
	if sh := e.handler(); sh != nil {
		status := raft.SnapshotFinish
		if err != nil {
			status = raft.SnapshotFailure
		}
		sh.ReportSnapshot(to, status)
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
