package node

import (
	"container/heap"
	"sync"
)

// waits is the wait registry: a proposal waits for its entry's result (by request ID),
// reads and readiness wait for "applied ≥ index". The applier fills both in.
type waits struct {
	mu       sync.Mutex
	results  map[uint64]chan result
	applied  uint64
	appliedQ indexQueue
}

type result struct {
	resp any
	err  error
}

func newWaits() *waits { return &waits{results: map[uint64]chan result{}} }

// register returns the channel request id's result will arrive on.
func (w *waits) register(id uint64) <-chan result {
	ch := make(chan result, 1)
	w.mu.Lock()
	w.results[id] = ch
	w.mu.Unlock()
	return ch
}

func (w *waits) cancel(id uint64) {
	w.mu.Lock()
	delete(w.results, id)
	w.mu.Unlock()
}

// trigger hands id's result to its waiter, if any is still waiting.
func (w *waits) trigger(id uint64, r result) {
	w.mu.Lock()
	ch := w.results[id]
	delete(w.results, id)
	w.mu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// appliedAt returns a channel closed once index is applied.
// Most callers (every keep-alive and linearizable read) find it applied already: they get
// one channel closed for good, not a new one each.
func (w *waits) appliedAt(index uint64) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if index <= w.applied {
		return alreadyApplied
	}
	ch := make(chan struct{})
	heap.Push(&w.appliedQ, indexWait{index, ch})
	return ch
}

var alreadyApplied = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// setApplied records that everything up to index is applied.
func (w *waits) setApplied(index uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if index <= w.applied {
		return
	}
	w.applied = index
	for len(w.appliedQ) > 0 && w.appliedQ[0].index <= index {
		close(heap.Pop(&w.appliedQ).(indexWait).ch)
	}
}

type indexWait struct {
	index uint64
	ch    chan struct{}
}

type indexQueue []indexWait

func (q indexQueue) Len() int           { return len(q) }
func (q indexQueue) Less(i, j int) bool { return q[i].index < q[j].index }
func (q indexQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *indexQueue) Push(x any)        { *q = append(*q, x.(indexWait)) }
func (q *indexQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
