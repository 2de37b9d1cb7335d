package node

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/metastore/metastore/core/clock"
)

// readLoop answers linearizable reads as etcd's does: every read waiting at one moment
// shares one ReadIndex round (the leader confirms it still leads and returns its commit
// index), then waits until this member has applied that index.
type readLoop struct {
	n      *Node
	mu     sync.Mutex
	next   *readNotifier // the round the next reads join
	wakec  chan struct{}
	statec chan raft.ReadState
	leadc  chan struct{}
}

type readNotifier struct {
	c   chan struct{}
	err error
}

func newReadNotifier() *readNotifier { return &readNotifier{c: make(chan struct{})} }

func (nt *readNotifier) notify(err error) {
	nt.err = err
	close(nt.c)
}

func newReadLoop(n *Node) *readLoop {
	return &readLoop{n: n, next: newReadNotifier(), wakec: make(chan struct{}, 1),
		statec: make(chan raft.ReadState, 1), leadc: make(chan struct{}, 1)}
}

// readIndexRetry is how often a ReadIndex request that got no answer is sent again (it is
// dropped while there is no leader), as etcd.
const readIndexRetry = 500 * time.Millisecond

// requestTimeout bounds a read's wait for the leader, as etcd's (5s + 2 × election timeout).
func (n *Node) requestTimeout() time.Duration { return 5*time.Second + 2*n.cfg.ElectionTimeout }

// LinearizableRead returns once this member's state reflects every write acknowledged
// before the call.
func (n *Node) LinearizableRead(ctx context.Context) error {
	l := n.reads
	l.mu.Lock()
	nt := l.next
	l.mu.Unlock()
	select {
	case l.wakec <- struct{}{}:
	default:
	}
	select {
	case <-nt.c:
		return nt.err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return ErrStopped
	}
}

// readState hands a ReadIndex answer from the Raft loop to the read loop.
func (l *readLoop) readState(rs raft.ReadState) {
	select {
	case <-l.statec: // an older answer nobody took: this one supersedes it
	default:
	}
	l.statec <- rs
}

func (l *readLoop) leaderChanged() {
	select {
	case l.leadc <- struct{}{}:
	default:
	}
}

func (l *readLoop) run() {
	n := l.n
	for {
		select {
		case <-l.wakec:
		case <-n.stopc:
			return
		}
		l.mu.Lock()
		nt := l.next
		l.next = newReadNotifier()
		l.mu.Unlock()
		index, err := l.readIndex()
		if err != nil {
			nt.notify(err)
			continue
		}
		select {
		case <-n.w.appliedAt(index):
			nt.notify(nil)
		case <-n.stopc:
			nt.notify(ErrStopped)
			return
		}
	}
}

// readIndex asks the leader for the commit index, retrying until it answers.
func (l *readLoop) readIndex() (uint64, error) {
	n := l.n
	id := uint64(n.ids.Next())
	rctx := binary.BigEndian.AppendUint64(nil, id)
	// Drain a leader change that happened before this round.
	select {
	case <-l.leadc:
	default:
	}
	deadline := n.cfg.Clock.NewTicker(n.requestTimeout())
	defer deadline.Stop()
	retry := n.cfg.Clock.NewTicker(readIndexRetry)
	defer retry.Stop()
	send := func() error {
		ctx, cancel := clock.WithTimeout(context.Background(), n.cfg.Clock, n.requestTimeout())
		defer cancel()
		return n.r.node.ReadIndex(ctx, rctx)
	}
	if err := send(); err != nil {
		return 0, n.proposeError(err)
	}
	for {
		select {
		case rs := <-l.statec:
			if len(rs.RequestCtx) == 8 && binary.BigEndian.Uint64(rs.RequestCtx) == id {
				return rs.Index, nil
			}
			// An answer to an earlier round that gave up: ignore it.
			n.cfg.ObserveSlowReadIndex()
		case <-l.leadc:
			return 0, ErrLeaderChanged
		case <-retry.C():
			if err := send(); err != nil {
				return 0, n.proposeError(err)
			}
		case <-deadline.C():
			n.cfg.ObserveSlowReadIndex()
			return 0, ErrTimeout
		case <-n.stopc:
			return 0, ErrStopped
		}
	}
}
