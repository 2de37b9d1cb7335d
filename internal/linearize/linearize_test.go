package linearize

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

const end = 1000 // the return of unknown writes in the hand-written histories

func put(k, v string) Input           { return Input{Kind: Put, Key: k, Value: v} }
func get(k string) Input              { return Input{Kind: Get, Key: k} }
func cas(k, expected, v string) Input { return Input{Kind: CAS, Key: k, Value: v, Expected: expected} }
func ok() Output                      { return Output{} }
func val(v string) Output             { return Output{Value: v} }
func swapped() Output                 { return Output{Swapped: true} }
func unknown() Output                 { return Output{Unknown: true} }
func op(call, ret int64, in Input, out Output) porcupine.Operation {
	return porcupine.Operation{Input: in, Call: call, Output: out, Return: ret}
}

// TestModel has a legal and an illegal history (at least) for each kind of operation, so
// the checker is seen to fail.
func TestModel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		legal bool
		h     []porcupine.Operation
	}{
		// put
		{"put: a get after it sees it", true, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 30, get("x"), val("a"))}},
		{"put: concurrent puts in either order", true, []porcupine.Operation{
			op(0, 20, put("x", "a"), ok()), op(5, 25, put("x", "b"), ok()), op(30, 40, get("x"), val("a"))}},
		{"put: a get sees an overwritten value", false, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 30, put("x", "b"), ok()), op(40, 50, get("x"), val("a"))}},
		{"put: a get after it misses it", false, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 30, get("x"), val(""))}},

		// get
		{"get: a missing key is empty", true, []porcupine.Operation{
			op(0, 10, get("x"), val(""))}},
		{"get: old then new during a put", true, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 100, put("x", "b"), ok()),
			op(30, 40, get("x"), val("a")), op(50, 60, get("x"), val("b"))}},
		{"get: new then old during a put (stale read)", false, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 100, put("x", "b"), ok()),
			op(30, 40, get("x"), val("b")), op(50, 60, get("x"), val("a"))}},
		{"get: a value never written", false, []porcupine.Operation{
			op(0, 10, get("x"), val("z"))}},
		{"get: keys are independent", true, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 30, get("y"), val("")), op(20, 30, get("x"), val("a"))}},

		// cas
		{"cas: swaps on the value, fails on another", true, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 30, cas("x", "a", "b"), swapped()),
			op(40, 50, cas("x", "a", "c"), val("b")), op(60, 70, get("x"), val("b"))}},
		{"cas: two concurrent swaps from one value, one fails", true, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 40, cas("x", "a", "b"), swapped()),
			op(20, 40, cas("x", "a", "c"), val("b"))}},
		{"cas: two concurrent swaps from one value both succeed", false, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 40, cas("x", "a", "b"), swapped()),
			op(20, 40, cas("x", "a", "c"), swapped())}},
		{"cas: a missing key matches nothing, even empty", false, []porcupine.Operation{
			op(0, 10, cas("x", "", "b"), swapped())}},
		{"cas: failed, seeing a value not there", false, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 30, cas("x", "z", "b"), val(""))}},
		{"cas: failed though the value matched", false, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, 30, cas("x", "a", "b"), val("a"))}},

		// unknown
		{"unknown: a put seen later", true, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, end, put("x", "u"), unknown()),
			op(30, 40, get("x"), val("a")), op(50, 60, get("x"), val("u"))}},
		{"unknown: a put that never happened", true, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, end, put("x", "u"), unknown()),
			op(30, 40, get("x"), val("a")), op(50, 60, get("x"), val("a"))}},
		{"unknown: a cas that happened", true, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, end, cas("x", "a", "b"), unknown()),
			op(30, 40, get("x"), val("b"))}},
		{"unknown: a put seen, then undone", false, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, end, put("x", "u"), unknown()),
			op(30, 40, get("x"), val("u")), op(50, 60, get("x"), val("a"))}},
		{"unknown: a put seen before its call", false, []porcupine.Operation{
			op(0, 10, get("x"), val("u")), op(20, end, put("x", "u"), unknown())}},
		{"unknown: a cas that happened though its compare failed", false, []porcupine.Operation{
			op(0, 10, put("x", "a"), ok()), op(20, end, cas("x", "z", "b"), unknown()),
			op(30, 40, get("x"), val("b"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := porcupine.Illegal
			if tc.legal {
				want = porcupine.Ok
			}
			if got := porcupine.CheckOperationsTimeout(Model, tc.h, 10*time.Second); got != want {
				t.Fatalf("porcupine says %s, want %s", got, want)
			}
		})
	}
}

func TestRecorder(t *testing.T) {
	r := NewRecorder()
	fail := errors.New("deadline exceeded")
	r.Call(0, put("x", "a")).Return(ok(), nil)

	// Concurrent clients: every call is recorded, its call before its return.
	var wg sync.WaitGroup
	for c := 1; c <= 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				r.Call(c, put(fmt.Sprintf("k%d", c), fmt.Sprintf("c%d.%d", c, i))).Return(ok(), nil)
			}
		}()
	}
	wg.Wait()

	r.Call(0, get("x")).Return(ok(), fail)                     // dropped
	r.Call(0, get("x"))                                        // never returns: dropped
	r.Call(0, put("x", "lost")).Return(ok(), fail)             // nobody saw "lost": dropped
	r.Call(0, cas("x", "a", "lost2")).Return(ok(), fail)       // nor "lost2": dropped
	r.Call(0, put("x", "seen")).Return(ok(), fail)             // read below: kept, unknown
	r.Call(0, put("x", "expected")).Return(ok(), fail)         // an unknown cas compared against it: kept
	r.Call(0, put("x", "hanging"))                             // never returns, seen: kept, unknown
	r.Call(0, cas("x", "expected", "c")).Return(ok(), fail)    // expected "expected" (kept); "c" unseen: dropped
	r.Call(0, get("x")).Return(val("seen"), nil)               // sees "seen"
	r.Call(0, cas("x", "zz", "d")).Return(val("hanging"), nil) // sees "hanging"

	h, st := r.History()
	want := Stats{Calls: 211, FailedReads: 2, UnknownWrites: 6, Unobserved: 3, Operations: 206}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	var last int64
	for _, o := range h {
		if o.Call > o.Return {
			t.Fatalf("%v: call after return", o)
		}
		last = max(last, o.Return)
	}
	unknowns := map[string]bool{}
	for _, o := range h {
		in, out := o.Input.(Input), o.Output.(Output)
		if out.Unknown {
			unknowns[in.Value] = true
			if o.Return != last {
				t.Fatalf("unknown %v returns at %d, before the end %d", in, o.Return, last)
			}
		}
	}
	if len(unknowns) != 3 || !unknowns["seen"] || !unknowns["expected"] || !unknowns["hanging"] {
		t.Fatalf("unknown writes kept: %v, want seen, expected and hanging", unknowns)
	}
	if res := porcupine.CheckOperationsTimeout(Model, h, 10*time.Second); res != porcupine.Ok {
		t.Fatalf("porcupine: %s", res)
	}
	if got := Counts(h); got["put"] != 201 || got["get"] != 1 || got["cas failed"] != 1 || got["unknown"] != 3 {
		t.Fatalf("counts %v", got)
	}
}

// fakeTB records failures instead of failing the test.
type fakeTB struct {
	testing.TB
	failed bool
	logs   []string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Logf(format string, a ...any)   { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }
func (f *fakeTB) Errorf(format string, a ...any) { f.failed = true; f.Logf(format, a...) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.failed = true; f.Logf(format, a...) }

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	saved := outDir
	outDir = func() string { return dir }
	t.Cleanup(func() { outDir = saved })

	legal := []porcupine.Operation{op(0, 10, put("x", "a"), ok()), op(20, 30, get("x"), val("a"))}
	f := &fakeTB{TB: t}
	if res := Check(f, legal, 10*time.Second); res != porcupine.Ok || f.failed {
		t.Fatalf("legal history: %s, failed %v: %s", res, f.failed, strings.Join(f.logs, "\n"))
	}

	illegal := []porcupine.Operation{op(0, 10, put("x", "a"), ok()), op(20, 30, get("x"), val("b"))}
	f = &fakeTB{TB: t}
	if res := Check(f, illegal, 10*time.Second); res != porcupine.Illegal || !f.failed {
		t.Fatalf("illegal history: %s, failed %v: %s", res, f.failed, strings.Join(f.logs, "\n"))
	}
	path := filepath.Join(dir, "linearize-TestCheck.html")
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("visualization %s: %v", path, err)
	}
}

func TestFileName(t *testing.T) {
	if got := fileName("TestX/a sub test:1"); got != "TestX_a_sub_test_1" {
		t.Fatalf("got %q", got)
	}
}

// TestDropUnobserved compares, on small random histories, porcupine's verdict with every
// unknown write kept and with those History drops (no operation saw their value): they
// must agree. The histories come from a register run with operations taking effect
// inside their intervals, unknown writes applied or not, and sometimes a read's value
// changed so that some are illegal.
func TestDropUnobserved(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	counts := map[porcupine.CheckResult]int{}
	for iter := range 3000 {
		n := 4 + rnd.IntN(10)
		type sim struct {
			rec   recorded
			at    int64 // when it takes effect
			apply bool  // an unknown write: whether it does
		}
		ops := make([]sim, n)
		for i := range ops {
			call := int64(rnd.IntN(100))
			ret := call + 1 + int64(rnd.IntN(30))
			in := get("x")
			switch rnd.IntN(3) {
			case 0:
				in = put("x", fmt.Sprintf("v%d", i))
			case 1:
				in = cas("x", fmt.Sprintf("v%d", rnd.IntN(n)), fmt.Sprintf("v%d", i))
			}
			s := sim{rec: recorded{client: i, in: in, call: call, ret: ret, returned: true}, at: call + int64(rnd.Int64N(ret-call+1))}
			if in.Kind != Get && rnd.IntN(3) == 0 {
				s.rec.err = errors.New("failed")
				s.apply = rnd.IntN(2) == 0
			}
			ops[i] = s
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ops[a].at, ops[b].at) })
		state := ""
		for _, i := range order {
			o := &ops[i]
			if o.rec.err != nil && !o.apply {
				continue
			}
			switch in := o.rec.in; in.Kind {
			case Put:
				state = in.Value
			case Get:
				o.rec.out = val(state)
			case CAS:
				if state != "" && state == in.Expected {
					state, o.rec.out = in.Value, swapped()
				} else {
					o.rec.out = val(state)
				}
			}
		}
		if rnd.IntN(3) == 0 { // a wrong answer somewhere
			i := rnd.IntN(n)
			if o := &ops[i]; o.rec.err == nil && !o.rec.out.Swapped && o.rec.in.Kind != Put {
				o.rec.out = val(fmt.Sprintf("v%d", rnd.IntN(n)))
			}
		}
		recs := make([]recorded, n)
		var all []porcupine.Operation
		for i, o := range ops {
			recs[i] = o.rec
			h := porcupine.Operation{ClientId: i, Input: o.rec.in, Call: o.rec.call, Output: o.rec.out, Return: o.rec.ret}
			if o.rec.err != nil {
				h.Output, h.Return = unknown(), 200
			}
			all = append(all, h)
		}
		pruned, _ := build(recs, 200)
		want := porcupine.CheckOperationsTimeout(Model, all, 10*time.Second)
		if got := porcupine.CheckOperationsTimeout(Model, pruned, 10*time.Second); got != want {
			t.Fatalf("history %d: %s with every unknown write, %s without the unobserved ones:\n%v\n%v", iter, want, got, all, pruned)
		}
		counts[want]++
	}
	t.Logf("verdicts: %v", counts)
	if counts[porcupine.Ok] < 100 || counts[porcupine.Illegal] < 100 {
		t.Fatalf("verdicts %v: too few of one kind to compare", counts)
	}
}
