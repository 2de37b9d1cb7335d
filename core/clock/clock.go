// Package clock gives the core its sense of time through an interface, so leases and watch
// timers run on the wall clock in the server, on a manual clock in tests, and on a clock the
// page controls in the browser playground.
package clock

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Clock tells the time and makes tickers.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that fires every d of this clock's time.
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks on C until stopped.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time { return time.Now() }

func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Manual is a clock that moves only when told to. Tickers fire (without blocking, dropping
// ticks a slow reader has not taken, like time.Ticker) as Advance passes their deadlines.
type Manual struct {
	mu      sync.Mutex // guards now and tickers
	now     time.Time
	tickers []*manualTicker
}

// NewManual returns a manual clock set to start.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func (m *Manual) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTicker{m: m, d: d, next: m.now.Add(d), c: make(chan time.Time, 1)}
	m.tickers = append(m.tickers, t)
	return t
}

// Advance moves the clock forward by d, firing every ticker whose deadline it passes.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
	// Fire in deadline order so tickers of different periods interleave as in real time.
	sort.SliceStable(m.tickers, func(i, j int) bool { return m.tickers[i].next.Before(m.tickers[j].next) })
	for _, t := range m.tickers {
		if t.next.After(m.now) {
			continue
		}
		// One tick is delivered however many periods passed (the channel holds one, as a
		// time.Ticker's does); the next deadline skips the missed periods in one step.
		select {
		case t.c <- t.next:
		default:
		}
		missed := m.now.Sub(t.next) / t.d
		t.next = t.next.Add((missed + 1) * t.d)
	}
}

// Set moves the clock to t if t is later than now.
func (m *Manual) Set(t time.Time) {
	if d := t.Sub(m.Now()); d > 0 {
		m.Advance(d)
	}
}

type manualTicker struct {
	m    *Manual
	d    time.Duration
	next time.Time
	c    chan time.Time
}

func (t *manualTicker) C() <-chan time.Time { return t.c }

func (t *manualTicker) Stop() {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	for i, o := range t.m.tickers {
		if o == t {
			t.m.tickers = append(t.m.tickers[:i], t.m.tickers[i+1:]...)
			return
		}
	}
}

// After returns a channel that receives once d of c's time has passed, and a func that
// releases it (call it when done waiting). Code that waits this way runs on whichever
// clock it is given: the wall clock in the server, a virtual one in tests and in the tab.
func After(c Clock, d time.Duration) (<-chan time.Time, func()) {
	if _, ok := c.(Real); ok {
		t := time.NewTimer(d)
		return t.C, func() { t.Stop() }
	}
	if d <= 0 {
		ch := make(chan time.Time, 1)
		ch <- c.Now()
		return ch, func() {}
	}
	t := c.NewTicker(d)
	return t.C(), t.Stop
}

// WithTimeout is context.WithTimeout on c's time: the context ends once d of c's time has
// passed, and its Err is then context.DeadlineExceeded.
func WithTimeout(parent context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := c.(Real); ok {
		return context.WithTimeout(parent, d)
	}
	inner, cancel := context.WithCancel(parent)
	ctx := &timeoutCtx{Context: inner}
	ch, stop := After(c, d)
	go func() {
		defer stop()
		select {
		case <-ch:
			ctx.expired.Store(true)
			cancel()
		case <-inner.Done():
		}
	}()
	return ctx, cancel
}

type timeoutCtx struct {
	context.Context
	expired atomic.Bool
}

func (c *timeoutCtx) Err() error {
	if c.expired.Load() {
		return context.DeadlineExceeded
	}
	return c.Context.Err()
}
