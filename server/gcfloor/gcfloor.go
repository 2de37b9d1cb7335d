// Package gcfloor keeps Go's garbage collector from running every few megabytes when the
// live heap is small.
//
// With GOGC=100 the collector runs each time the heap doubles, and never later than at 4 MiB.
// A member serving reads or keep-alives keeps a live heap of a few megabytes but allocates
// per request, so it collected every 30 ms: about a tenth of its CPU went to marking, to
// assists, and to growing again the goroutine stacks each cycle shrank (issue #13's
// profiles). After every cycle, gcfloor raises GOGC so that the next cycle starts no sooner
// than floor bytes above the live heap; once the live heap is large, GOGC is back at 100 and
// the collector behaves as it does by default. GOMEMLIMIT still bounds the heap.
//
// It adjusts the runtime's one global setting, so a process starts it once, from main; an
// operator's GOGC in the environment wins and leaves it off.
package gcfloor

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// basePercent is GOGC's default, which gcfloor never goes below.
const basePercent = 100

// maxPercent bounds the setting for a nearly empty heap, so one cycle's figure can never
// switch the collector practically off.
const maxPercent = 10000

// Percent is the GOGC that starts the next cycle no sooner than floor bytes above a live
// heap of live bytes, and never below GOGC's default. Before the first cycle the live heap
// is not known (0): the default, so that a process starting up does not fault in a heap of
// maxPercent times nothing.
func Percent(live, floor uint64) int {
	if live == 0 || live >= floor {
		return basePercent
	}
	p := floor * 100 / live
	switch {
	case p > maxPercent:
		return maxPercent
	case p < basePercent:
		return basePercent
	}
	return int(p)
}

// Start tunes GOGC after every collection until stop is called, unless GOGC is set in the
// environment (then it does nothing). stop restores GOGC's default.
func Start(floor uint64) (stop func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	t := &tuner{floor: floor, set: -1, sample: [1]metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.tune()
	t.arm()
	return func() {
		t.stopped.Store(true)
		debug.SetGCPercent(basePercent)
	}
}

type tuner struct {
	floor   uint64
	stopped atomic.Bool

	mu     sync.Mutex // cleanups may run on more than one goroutine
	set    int        // the last percent set, -1 before the first
	sample [1]metrics.Sample
}

// sentinel is what the collector frees each cycle to call tune. It holds a pointer so that
// it is not packed with other small objects by the tiny allocator, which would keep it
// alive past its cycle.
type sentinel struct{ _ *int }

// arm registers a cleanup on a fresh, unreachable object: it runs after the next cycle
// that frees it, which is the next cycle.
func (t *tuner) arm() {
	runtime.AddCleanup(new(sentinel), func(t *tuner) {
		if t.stopped.Load() {
			return
		}
		t.tune()
		t.arm()
	}, t)
}

func (t *tuner) tune() {
	t.mu.Lock()
	defer t.mu.Unlock()
	metrics.Read(t.sample[:])
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	p := Percent(t.sample[0].Value.Uint64(), t.floor)
	// Small moves are not worth the heap lock (t.set is -1 before the first).
	if p != t.set && (p == basePercent || p < t.set*9/10 || p > t.set*11/10) {
		debug.SetGCPercent(p)
		t.set = p
	}
}
