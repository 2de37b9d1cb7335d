package linearize

import (
	"fmt"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Recorder records concurrent clients' calls and returns. Times are nanoseconds since
// the recorder was made, on the monotonic clock. It is safe for concurrent use.
type Recorder struct {
	start time.Time
	clock func() int64 // if set, the times instead

	mu  sync.Mutex
	ops []recorded
}

type recorded struct {
	client   int
	in       Input
	call     int64
	ret      int64
	out      Output
	err      error
	returned bool
}

// NewRecorder returns an empty recorder; its clock starts now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// NewRecorderOn returns an empty recorder whose times come from now, which must not go
// back: a logical clock keeps a replayed run's history the same.
func NewRecorderOn(now func() int64) *Recorder { return &Recorder{clock: now} }

func (r *Recorder) now() int64 {
	if r.clock != nil {
		return r.clock()
	}
	return int64(time.Since(r.start))
}

// Pending is a call not yet returned.
type Pending struct {
	r *Recorder
	i int
}

// Call records that client calls in, just before the request is sent.
func (r *Recorder) Call(client int, in Input) Pending {
	t := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, recorded{client: client, in: in, call: t})
	return Pending{r: r, i: len(r.ops) - 1}
}

// Return records the call's outcome, just after the answer came: out if err is nil, else
// a failure (a failed read is dropped from the history, a failed write is unknown).
func (p Pending) Return(out Output, err error) {
	t := p.r.now()
	p.r.mu.Lock()
	defer p.r.mu.Unlock()
	op := &p.r.ops[p.i]
	if op.returned {
		panic("linearize: Return called twice")
	}
	op.ret, op.out, op.err, op.returned = t, out, err, true
}

// Stats says how a recorder's calls became its history.
type Stats struct {
	Calls         int // recorded
	FailedReads   int // dropped
	UnknownWrites int // failed (or never returned) writes
	Unobserved    int // of those, dropped: no operation saw their value
	Operations    int // in the history
}

func (s Stats) String() string {
	return fmt.Sprintf("%d calls: %d failed reads dropped, %d writes of unknown outcome (%d never observed, dropped); %d operations in the history",
		s.Calls, s.FailedReads, s.UnknownWrites, s.Unobserved, s.Operations)
}

// History returns the history for Check. A failed read, or one that never returned, is
// dropped. A failed write (or one that never returned) may still take effect: its
// output is unknown and its return is after every other event.
//
// An unknown write whose value no operation depended on (no get or failed CAS returned
// it, no CAS expected it) is dropped, which keeps porcupine's search small: every unknown
// write stays open until the end, and the search tries them in every combination. The
// history is linearizable with it if and only if it is without it. Without it, put it
// last. With it, take it out of a linearization: until the next put to its key, only
// unknown CASes that compared against another value can follow it (any other operation
// there would have seen its value); those did nothing, and, their return being the end,
// they can move to the end too. This relies on values being unique.
func (r *Recorder) History() ([]porcupine.Operation, Stats) {
	r.mu.Lock()
	ops := append([]recorded(nil), r.ops...)
	r.mu.Unlock()
	return build(ops, r.now()+1)
}

// build makes the history of ops; end is after every event.
func build(ops []recorded, end int64) ([]porcupine.Operation, Stats) {
	type kv struct{ key, value string }
	observed := map[kv]bool{}
	for _, op := range ops {
		if op.in.Kind == CAS {
			// Even an unknown CAS: had it taken effect, it depended on the value.
			observed[kv{op.in.Key, op.in.Expected}] = true
		}
		if op.returned && op.err == nil && (op.in.Kind == Get || op.in.Kind == CAS && !op.out.Swapped) {
			observed[kv{op.in.Key, op.out.Value}] = true
		}
	}

	st := Stats{Calls: len(ops)}
	history := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		h := porcupine.Operation{ClientId: op.client, Input: op.in, Call: op.call, Output: op.out, Return: op.ret}
		if !op.returned || op.err != nil {
			if op.in.Kind == Get {
				st.FailedReads++
				continue
			}
			st.UnknownWrites++
			if !observed[kv{op.in.Key, op.in.Value}] {
				st.Unobserved++
				continue
			}
			h.Output, h.Return = Output{Unknown: true}, end
		}
		history = append(history, h)
	}
	st.Operations = len(history)
	return history, st
}
