package clock

import (
	"sync"
	"time"
)

// Page is the wall clock plus an offset, which the browser playground controls: it can pause
// time (leases stop counting down) and jump it forward (leases expire early), as a person
// trying etcd's leases would want. It never goes backwards. Tickers run on real time: they
// pace background work (watch progress), not deadlines.
type Page struct {
	mu     sync.Mutex // guards offset and paused
	now    func() time.Time
	offset time.Duration
	paused *time.Time // the reading when paused; nil while running
}

// NewPage returns a running page clock reading the wall clock.
func NewPage() *Page { return &Page{now: time.Now} }

func (p *Page) Now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.read()
}

func (p *Page) read() time.Time {
	if p.paused != nil {
		return *p.paused
	}
	return p.now().Add(p.offset)
}

func (p *Page) NewTicker(d time.Duration) Ticker { return Real{}.NewTicker(d) }

// Advance jumps the clock forward by d (ignored unless positive), paused or not.
func (p *Page) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused != nil {
		t := p.paused.Add(d)
		p.paused = &t
		return
	}
	p.offset += d
}

// Pause stops the clock at its current reading; Resume lets it run on from there.
func (p *Page) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused == nil {
		t := p.read()
		p.paused = &t
	}
}

func (p *Page) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused != nil {
		p.offset = p.paused.Sub(p.now())
		p.paused = nil
	}
}

// State reports whether the clock is paused, and how far it is ahead of the wall clock.
func (p *Page) State() (paused bool, ahead time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused != nil, p.read().Sub(p.now())
}
