package clock

import (
	"testing"
	"time"
)

var epoch = time.Unix(1_700_000_000, 0)

// recvTick returns the tick waiting on c, if any, without blocking.
func recvTick(c <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-c:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestManualNowAdvanceSet(t *testing.T) {
	m := NewManual(epoch)
	tests := []struct {
		name string
		op   func()
		wnow time.Time
	}{
		{"start", func() {}, epoch},
		{"advance 1ms", func() { m.Advance(time.Millisecond) }, epoch.Add(time.Millisecond)},
		{"advance 0", func() { m.Advance(0) }, epoch.Add(time.Millisecond)},
		{"set later", func() { m.Set(epoch.Add(5 * time.Second)) }, epoch.Add(5 * time.Second)},
		{"set earlier is a no-op", func() { m.Set(epoch) }, epoch.Add(5 * time.Second)},
		{"set now is a no-op", func() { m.Set(epoch.Add(5 * time.Second)) }, epoch.Add(5 * time.Second)},
		{"advance 1.5s", func() { m.Advance(1500 * time.Millisecond) }, epoch.Add(6500 * time.Millisecond)},
	}
	for _, tt := range tests {
		tt.op()
		if got := m.Now(); !got.Equal(tt.wnow) {
			t.Fatalf("%s: Now() = %v, want %v", tt.name, got, tt.wnow)
		}
	}
}

func TestManualTicker(t *testing.T) {
	m := NewManual(epoch)
	tk := m.NewTicker(100 * time.Millisecond)
	defer tk.Stop()

	steps := []struct {
		advance time.Duration
		wfire   bool
		wtick   time.Time // the deadline delivered
	}{
		{99 * time.Millisecond, false, time.Time{}},
		{1 * time.Millisecond, true, epoch.Add(100 * time.Millisecond)},
		{50 * time.Millisecond, false, time.Time{}},
		{50 * time.Millisecond, true, epoch.Add(200 * time.Millisecond)},
		// Passing several deadlines at once delivers one tick (the first); the rest are
		// dropped because nobody read the channel, as time.Ticker does.
		{350 * time.Millisecond, true, epoch.Add(300 * time.Millisecond)},
		// The ticker keeps its phase: next deadline is 600ms.
		{49 * time.Millisecond, false, time.Time{}},
		{1 * time.Millisecond, true, epoch.Add(600 * time.Millisecond)},
	}
	for i, st := range steps {
		m.Advance(st.advance)
		got, fired := recvTick(tk.C())
		if fired != st.wfire {
			t.Fatalf("step %d (advance %v): fired = %v, want %v", i, st.advance, fired, st.wfire)
		}
		if fired && !got.Equal(st.wtick) {
			t.Fatalf("step %d: tick = %v, want %v", i, got, st.wtick)
		}
	}
}

func TestManualTickerUnreadTickIsKept(t *testing.T) {
	m := NewManual(epoch)
	tk := m.NewTicker(time.Second)
	defer tk.Stop()
	m.Advance(time.Second)
	m.Advance(time.Second) // dropped: the first tick is still unread
	got, ok := recvTick(tk.C())
	if !ok || !got.Equal(epoch.Add(time.Second)) {
		t.Fatalf("tick = %v, %v; want %v", got, ok, epoch.Add(time.Second))
	}
	if _, ok := recvTick(tk.C()); ok {
		t.Fatal("a second tick was buffered")
	}
}

func TestManualTickerStop(t *testing.T) {
	m := NewManual(epoch)
	a := m.NewTicker(time.Second)
	b := m.NewTicker(time.Second)
	defer b.Stop()
	a.Stop()
	a.Stop() // stopping twice is harmless
	m.Advance(5 * time.Second)
	if _, ok := recvTick(a.C()); ok {
		t.Fatal("stopped ticker fired")
	}
	if _, ok := recvTick(b.C()); !ok {
		t.Fatal("running ticker did not fire")
	}
}

func TestManualTickersInterleave(t *testing.T) {
	m := NewManual(epoch)
	fast := m.NewTicker(10 * time.Millisecond)
	slow := m.NewTicker(25 * time.Millisecond)
	defer fast.Stop()
	defer slow.Stop()
	var wfast, wslow int
	var gfast, gslow int
	for i := 1; i <= 100; i++ {
		m.Advance(time.Millisecond)
		if i%10 == 0 {
			wfast++
		}
		if i%25 == 0 {
			wslow++
		}
		if _, ok := recvTick(fast.C()); ok {
			gfast++
		}
		if _, ok := recvTick(slow.C()); ok {
			gslow++
		}
	}
	if gfast != wfast || gslow != wslow {
		t.Fatalf("ticks fast=%d slow=%d, want %d %d", gfast, gslow, wfast, wslow)
	}
}

func TestManualTickerBadInterval(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewTicker(%v) did not panic", d)
				}
			}()
			NewManual(epoch).NewTicker(d)
		}()
	}
}

func TestManualSetFiresTickers(t *testing.T) {
	m := NewManual(epoch)
	tk := m.NewTicker(time.Minute)
	defer tk.Stop()
	m.Set(epoch.Add(time.Minute))
	if _, ok := recvTick(tk.C()); !ok {
		t.Fatal("Set past the deadline did not fire the ticker")
	}
}

func TestRealClock(t *testing.T) {
	var c Clock = Real{}
	before := time.Now()
	now := c.Now()
	if now.Before(before) || now.Sub(before) > time.Minute {
		t.Fatalf("Real.Now() = %v, wall clock %v", now, before)
	}
	tk := c.NewTicker(time.Millisecond)
	defer tk.Stop()
	select {
	case <-tk.C():
	case <-time.After(30 * time.Second):
		t.Fatal("real ticker did not fire in 30s")
	}
}
