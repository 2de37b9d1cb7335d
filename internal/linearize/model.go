// Package linearize checks that what clients saw of a key-value store was linearizable,
// with porcupine (github.com/anishathalye/porcupine). The cluster tests use it, and so does the
// playground's in-tab cluster (wasm/cluster), whose "check linearizability" is this check on
// what the page read and wrote.
//
// Tests that check acknowledged writes and equal states catch lost writes and diverging
// members, but not a stale read, a compare-and-swap that acted on an old value or a
// write that came back after a later one: those need the order clients observed, and the
// real-time order of their calls. So clients record every call and return (Recorder);
// the history is then checked against a register per key (Model): put, linearizable get,
// and a compare-and-swap on the value (an etcd Txn: If value = expected Then put Else
// get). A write whose call failed (timeout, lost connection, no leader) may or may not
// have happened: it gets an unknown outcome. A failed read is dropped.
//
// Values must be unique across a history (no value written twice) and non-empty: "" is a
// missing key.
package linearize

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Kind is an operation's kind.
type Kind uint8

const (
	// Put writes Value to Key.
	Put Kind = iota
	// Get reads Key linearizably.
	Get
	// CAS writes Value to Key if it holds Expected, else reads it (a Txn comparing the
	// value: a missing key never matches, as with etcd).
	CAS
)

func (k Kind) String() string {
	switch k {
	case Put:
		return "put"
	case Get:
		return "get"
	case CAS:
		return "cas"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Input is an operation as called.
type Input struct {
	Kind     Kind
	Key      string
	Value    string // Put: the value; CAS: the new value
	Expected string // CAS: the value compared against ("" never matches)
}

// Output is what an operation returned.
type Output struct {
	// Unknown: the write failed, it may or may not have happened.
	Unknown bool
	// Swapped: the CAS wrote its value.
	Swapped bool
	// Value: Get's value ("" when absent); a CAS that did not swap: the value it saw.
	Value string
}

// Model is a register per key, for porcupine: the state is the key's value, "" when missing.
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(Input).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(string), input.(Input), output.(Output)
		switch in.Kind {
		case Put:
			// Known or not: linearized here, it took effect. An unknown write that never
			// happened is linearized after everything else (its return is the history's
			// end), where no operation observes it.
			return true, in.Value
		case Get:
			return !out.Unknown && out.Value == s, s
		default:
			match := s != "" && s == in.Expected
			switch {
			case out.Unknown && match:
				return true, in.Value
			case out.Unknown:
				return true, s
			case out.Swapped:
				return match, in.Value
			default:
				return !match && out.Value == s, s
			}
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(Input), output.(Output)
		res := ""
		switch {
		case out.Unknown:
			res = " -> ?"
		case in.Kind == Get:
			res = fmt.Sprintf(" -> %q", out.Value)
		case in.Kind == CAS && out.Swapped:
			res = " -> ok"
		case in.Kind == CAS:
			res = fmt.Sprintf(" -> failed (%q)", out.Value)
		}
		switch in.Kind {
		case Put:
			return fmt.Sprintf("put(%s, %s)%s", in.Key, in.Value, res)
		case Get:
			return fmt.Sprintf("get(%s)%s", in.Key, res)
		default:
			return fmt.Sprintf("cas(%s, %q -> %s)%s", in.Key, in.Expected, in.Value, res)
		}
	},
	DescribeState: func(state any) string { return fmt.Sprintf("%q", state) },
}

// Counts counts a history's operations by outcome: "put", "get", "cas ok", "cas failed"
// and "unknown" (writes).
func Counts(history []porcupine.Operation) map[string]int {
	counts := map[string]int{}
	for _, op := range history {
		in, out := op.Input.(Input), op.Output.(Output)
		switch {
		case out.Unknown:
			counts["unknown"]++
		case in.Kind == Put:
			counts["put"]++
		case in.Kind == Get:
			counts["get"]++
		case out.Swapped:
			counts["cas ok"]++
		default:
			counts["cas failed"]++
		}
	}
	return counts
}

// Pick chooses a client's next operation on key from roll (0–9): 30% puts of value, 40%
// gets, 30% compare-and-swaps to value from the last value the client saw of key.
func Pick(roll int, key, value string, seen map[string]string) Input {
	switch {
	case roll < 3:
		return Input{Kind: Put, Key: key, Value: value}
	case roll < 7:
		return Input{Kind: Get, Key: key}
	}
	return Input{Kind: CAS, Key: key, Value: value, Expected: seen[key]}
}
