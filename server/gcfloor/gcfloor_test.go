package gcfloor

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{live: 4 * mib, floor: 32 * mib, want: 800}, // next cycle at 36 MiB
		{live: 16 * mib, floor: 32 * mib, want: 200},
		{live: 31 * mib, floor: 32 * mib, want: 103},
		{live: 32 * mib, floor: 32 * mib, want: 100}, // from here GOGC's default: twice the live heap
		{live: 1 << 30, floor: 32 * mib, want: 100},
		{live: 1024, floor: 32 * mib, want: maxPercent}, // bounded
		{live: 0, floor: 32 * mib, want: basePercent},   // no cycle yet
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.floor, got, c.want)
		}
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitGOGC collects until the tuner has set want: it tunes after a cycle, on the cleanup
// goroutine, so the first collection's result may come a moment later.
func waitGOGC(t *testing.T, want func(int) bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !want(gogc()) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d, want %s", gogc(), what)
		}
		runtime.GC()
		runtime.Gosched()
	}
}

var live [][]byte

func TestStartFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "") // an operator's GOGC would turn it off
	stop := Start(64 << 20)
	defer func() {
		stop()
		if got := gogc(); got != basePercent {
			t.Errorf("after stop GOGC is %d, want %d", got, basePercent)
		}
	}()
	// A test binary's live heap is a few megabytes: far below the floor.
	waitGOGC(t, func(p int) bool { return p > 300 }, "above 300 with a small heap")

	// A live heap above the floor brings back the default, after the next cycles.
	for range 80 {
		live = append(live, make([]byte, 1<<20))
	}
	waitGOGC(t, func(p int) bool { return p == basePercent }, "the default with 80 MiB live")
	live = nil
	waitGOGC(t, func(p int) bool { return p > 300 }, "above 300 again once the heap is freed")
}

func TestOperatorsGOGCWins(t *testing.T) {
	t.Setenv("GOGC", "100")
	before := gogc()
	stop := Start(256 << 20)
	defer stop()
	for range 3 {
		runtime.GC()
	}
	if got := gogc(); got != before {
		t.Errorf("GOGC moved from %d to %d with GOGC set by the operator", before, got)
	}
}
