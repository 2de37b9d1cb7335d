package pebblekv

import (
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// pacer is the database's compaction scheduler (pebble's CompactionScheduler): it grants
// compactions as pebble's default does (as many as the DB allows at once), and paces each:
// after every workSlice of running, a compaction rests for restSlice, unless the LSM has
// fallen behind (urgent). Pebble calls the grant's CumulativeStats every 128 keys a
// compaction writes and lets it block there for this.
//
// Why: MVCC compaction deletes most of a long history at once, and pebble then rewrites the
// data those tombstones cover. At full speed that rewrite takes a whole core; on a small
// machine it took half the server's CPU while a compaction ran, and the puts' p99 nearly
// doubled (docs/benchmarks.md). Paced, the same work spreads over more time, as etcd's
// compactor paces its own deletes, and flushes (never paced) keep writes from stalling; once
// L0 backs up, pacing stops so that writes do not stall behind it.
type pacer struct {
	workSlice, restSlice time.Duration
	urgent               func() bool         // the LSM is behind: do not pace
	sleep                func(time.Duration) // time.Sleep; tests count instead

	db      pebble.DBForCompaction
	mu      sync.Mutex
	running int
	closed  bool
	grantMu sync.Mutex // one grant loop at a time
	poke    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

var _ pebble.CompactionScheduler = (*pacer)(nil)

func newPacer(work, rest time.Duration, urgent func() bool) *pacer {
	return &pacer{workSlice: work, restSlice: rest, urgent: urgent, sleep: time.Sleep,
		poke: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
}

func (p *pacer) Register(_ int, db pebble.DBForCompaction) {
	p.db = db
	go p.loop()
}

// loop grants what the DB allows every 100 ms or when poked, as pebble's default scheduler
// does: a flush can raise what is allowed without anything else asking.
func (p *pacer) loop() {
	defer close(p.stopped)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		case <-p.poke:
		}
		p.grant()
	}
}

func (p *pacer) Unregister() {
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.grantMu.Lock() // a grant under way finishes first
	p.grantMu.Unlock()
}

// room reports whether another compaction may run.
func (p *pacer) room() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.roomLocked()
}

func (p *pacer) roomLocked() bool { return !p.closed && p.db.GetAllowedWithoutPermission() > p.running }

func (p *pacer) TrySchedule() (bool, pebble.CompactionGrantHandle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.roomLocked() {
		return false, nil
	}
	p.running++
	return true, &pacedGrant{p: p}
}

func (p *pacer) UpdateGetAllowedWithoutPermission() {
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

// grant hands waiting compactions the room there is. It holds no lock of its own while
// calling into the DB, which may call back (TrySchedule).
func (p *pacer) grant() {
	p.grantMu.Lock()
	defer p.grantMu.Unlock()
	for p.room() {
		if waiting, _ := p.db.GetWaitingCompaction(); !waiting {
			return
		}
		p.mu.Lock()
		p.running++
		p.mu.Unlock()
		if !p.db.Schedule(&pacedGrant{p: p}) {
			p.mu.Lock()
			p.running--
			p.mu.Unlock()
			return
		}
	}
}

// pacedGrant is one compaction's permission, and its pace.
type pacedGrant struct {
	p     *pacer
	since time.Time // when its current work slice began
}

func (g *pacedGrant) Started()                                  { g.since = time.Now() }
func (g *pacedGrant) MeasureCPU(pebble.CompactionGoroutineKind) {}

// CumulativeStats is called from the compaction's goroutine every 128 keys: the place to rest.
func (g *pacedGrant) CumulativeStats(pebble.CompactionGrantHandleStats) {
	if time.Since(g.since) < g.p.workSlice {
		return
	}
	if !g.p.urgent() {
		g.p.sleep(g.p.restSlice)
	}
	g.since = time.Now()
}

func (g *pacedGrant) Done() {
	g.p.mu.Lock()
	g.p.running--
	g.p.mu.Unlock()
	g.p.grant()
}
