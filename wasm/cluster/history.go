package cluster

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/anishathalye/porcupine"
)

// History records the single-key reads and writes clients make through the members, for a
// linearizability check (porcupine, the checker etcd's robustness tests use): did every
// read see the latest write that finished before it began, whichever member served it?
//
// Only what a linearizable store promises is recorded: linearizable gets, puts and deletes
// of one key. Serializable reads are left out: they may be stale by design (a cut-off
// member serves them). A write whose outcome the client did not learn (a timeout, the
// member stopped) may or may not have happened: it is recorded as never returning, which
// lets the checker place it anywhere after its call, or nowhere.
type History struct {
	mu    sync.Mutex
	clock int64 // a logical clock: calls and returns in the order they happened
	ops   []porcupine.Operation
	max   int
	// truncated: operations fell out of the window, so a key's value at its start is unknown.
	truncated bool
}

// KVInput is one recorded operation's request.
type KVInput struct {
	Op    string // "get", "put" or "delete"
	Key   string
	Value string // a put's
}

// KVOutput is what a get saw; a write's output says only whether its outcome is known.
type KVOutput struct {
	Found   bool
	Value   string
	Unknown bool
}

// NewHistory keeps the last max operations (the check is NP-hard; small windows stay fast).
func NewHistory(max int) *History { return &History{max: max} }

// Call stamps an operation's start; pass the stamp to Return.
func (h *History) Call() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock++
	return h.clock
}

// Return records an operation that began at call. A failed read is not recorded (it saw
// nothing); a failed write is recorded with an unknown outcome.
func (h *History) Return(call int64, in KVInput, out KVOutput, failed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.clock++
	ret := h.clock
	if failed {
		if in.Op == "get" {
			return
		}
		out, ret = KVOutput{Unknown: true}, math.MaxInt64
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: len(h.ops), Input: in, Call: call, Output: out, Return: ret})
	if len(h.ops) > h.max {
		h.ops = slices.Delete(h.ops, 0, len(h.ops)-h.max)
		h.truncated = true
	}
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

// Check checks the recorded history. The operations recorded first may have read or
// overwritten writes that fell out of the window: a window starting mid-history is checked
// from an unknown state per key (any first read is taken as the key's initial value).
func (h *History) Check() Verdict {
	h.mu.Lock()
	ops := slices.Clone(h.ops)
	dropped := h.truncated
	h.mu.Unlock()
	v := Verdict{Operations: len(ops)}
	if len(ops) == 0 {
		v.Result = "empty"
		return v
	}
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range ops {
		k := op.Input.(KVInput).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
		if op.Output.(KVOutput).Unknown {
			v.Unknown++
		}
	}
	slices.Sort(keys)
	v.Keys = len(keys)
	v.Result = "ok"
	// Key by key (a history is linearizable if each key's is), so an illegal one is named.
	for _, k := range keys {
		if !porcupine.CheckOperations(kvModel(dropped), byKey[k]) {
			v.Result = "illegal"
			v.Why = fmt.Sprintf("the operations on key %q admit no order that agrees with when each was made and answered", k)
			break
		}
	}
	return v
}

// kvState is a key's value as the model sees it; unset is "not known yet" (a window that
// starts mid-history: the first read fixes it).
type kvState struct {
	known, found bool
	value        string
}

func kvModel(partial bool) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return kvState{known: !partial} },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(kvState), input.(KVInput), output.(KVOutput)
			switch in.Op {
			case "get":
				if !s.known {
					return true, kvState{known: true, found: out.Found, value: out.Value}
				}
				return out.Found == s.found && (!out.Found || out.Value == s.value), s
			case "put":
				return true, kvState{known: true, found: true, value: in.Value}
			default: // delete
				return true, kvState{known: true}
			}
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(KVInput), output.(KVOutput)
			switch {
			case in.Op == "get" && out.Found:
				return fmt.Sprintf("get(%q) -> %q", in.Key, out.Value)
			case in.Op == "get":
				return fmt.Sprintf("get(%q) -> not found", in.Key)
			case in.Op == "put":
				return fmt.Sprintf("put(%q, %q)", in.Key, in.Value)
			}
			return fmt.Sprintf("delete(%q)", in.Key)
		},
	}
}
