package cluster

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/anishathalye/porcupine"

	"github.com/metastore/metastore/internal/linearize"
)

// History records the single-key reads and writes clients make through the members, for a
// linearizability check: did every read see the latest write that finished before it
// began, whichever member served it? It is the cluster tests' check (internal/linearize: a
// register per key, checked by porcupine, the checker etcd's robustness tests use), on a
// logical clock, so that a replayed run records the same history.
//
// Only what a linearizable store promises is recorded: linearizable gets, puts and deletes
// of one key. Serializable reads are left out: they may be stale by design (a cut-off
// member serves them). A write whose outcome the client did not learn (a timeout, the
// member stopped) may or may not have happened (linearize.Recorder).
type History struct {
	clock atomic.Int64
	rec   *linearize.Recorder
}

// NewHistory returns an empty history.
func NewHistory() *History {
	h := &History{}
	h.rec = linearize.NewRecorderOn(func() int64 { return h.clock.Add(1) })
	return h
}

// The model's values: "" is a missing key, so a present value (even an empty one) is kept
// with a prefix.
func present(v []byte) string { return "=" + string(v) }

// Get records a linearizable get of key; done records what it returned (found, and the
// value) or that it failed.
func (h *History) Get(key []byte) (done func(found bool, value []byte, err error)) {
	p := h.rec.Call(0, linearize.Input{Kind: linearize.Get, Key: string(key)})
	return func(found bool, value []byte, err error) {
		out := linearize.Output{}
		if found {
			out.Value = present(value)
		}
		p.Return(out, err)
	}
}

// Put records a put of value to key (a delete: value nil and del true); done records its outcome.
func (h *History) Put(key, value []byte, del bool) (done func(err error)) {
	v := present(value)
	if del {
		v = ""
	}
	p := h.rec.Call(0, linearize.Input{Kind: linearize.Put, Key: string(key), Value: v})
	return func(err error) { p.Return(linearize.Output{}, err) }
}

// Verdict is a check's result.
type Verdict struct {
	// Result is "ok" (linearizable), "illegal" (not) or "empty" (nothing recorded).
	Result string `json:"result"`
	// Operations is how many were checked; Unknown how many of them are writes whose
	// outcome the client never learnt; Keys how many keys they touched.
	Operations int `json:"operations"`
	Unknown    int `json:"unknown"`
	Keys       int `json:"keys"`
	// Why names, for an illegal history, the key whose operations admit no order.
	Why string `json:"why,omitempty"`
}

// Check checks the history recorded so far.
func (h *History) Check() Verdict {
	ops, st := h.rec.History()
	v := Verdict{Operations: st.Operations, Unknown: st.UnknownWrites - st.Unobserved}
	if len(ops) == 0 {
		v.Result = "empty"
		return v
	}
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range ops {
		k := op.Input.(linearize.Input).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	slices.Sort(keys)
	v.Keys, v.Result = len(keys), "ok"
	// Key by key (a history is linearizable if each key's is), so an illegal one is named.
	for _, k := range keys {
		if !porcupine.CheckOperations(linearize.Model, byKey[k]) {
			v.Result = "illegal"
			v.Why = fmt.Sprintf("the operations on key %q admit no order that agrees with when each was made and answered", k)
			break
		}
	}
	return v
}
