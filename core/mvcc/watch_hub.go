package mvcc

import (
	"sync"
	"time"

	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/kv"
)

// WatchConfig tunes the watch hub. Zero values take etcd's defaults.
type WatchConfig struct {
	// StreamBuffer is how many responses a stream buffers before its watchers fall behind;
	// default 128.
	StreamBuffer int
	// RetryInterval is how often watchers that fell behind are retried and caught up from
	// history; default 10ms. It paces delivery only, so it runs on the store's PaceClock.
	RetryInterval time.Duration
	// MaxWatchersPerSync caps the watchers caught up in one pass; default 512.
	MaxWatchersPerSync int
	// BatchRevs caps the revisions read from history for one catch-up response; default 1000.
	BatchRevs int64
	// ProgressNotifyInterval is the period of progress notifications for watchers that asked
	// for them, on the store's clock; default 10 minutes.
	ProgressNotifyInterval time.Duration
}

func (c WatchConfig) withDefaults() WatchConfig {
	if c.StreamBuffer <= 0 {
		c.StreamBuffer = 128
	}
	if c.RetryInterval <= 0 {
		c.RetryInterval = 10 * time.Millisecond
	}
	if c.MaxWatchersPerSync <= 0 {
		c.MaxWatchersPerSync = 512
	}
	if c.BatchRevs <= 0 {
		c.BatchRevs = 1000
	}
	if c.ProgressNotifyInterval <= 0 {
		c.ProgressNotifyInterval = 10 * time.Minute
	}
	return c
}

// hub routes changes to watchers, following etcd's design: synced watchers get each write's
// events as it commits, without blocking the writer; a watcher whose stream is full becomes a
// victim holding its one undelivered response; unsynced watchers (new ones starting in the
// past, and victims once delivered) catch up from the backend's history in bounded batches.
// Memory stays bounded however slow a reader is.
//
// It owns one goroutine (run), started by newHub and stopped by stop.
type hub struct {
	s   *Store
	cfg WatchConfig

	// mu guards the watcher sets and every watcher's mutable fields. Taken after Store.mu.
	mu sync.Mutex
	// synced watchers: single keys by key, ranges in a set.
	keyed   map[string]map[*watcher]struct{}
	ranged  map[*watcher]struct{}
	nsynced int
	// unsynced and victims are behind.
	unsynced map[*watcher]struct{}
	victims  map[*watcher]struct{}
	// streams are the open streams, so that MoveWatchStreams finds those with no watcher;
	// once they moved, movedTo is where streams opened later go.
	streams map[*WatchStream]struct{}
	movedTo *hub

	kickc    chan struct{}
	stopc    chan struct{}
	donec    chan struct{}
	progress clock.Ticker
	retry    clock.Ticker
}

func newHub(s *Store, clk, pace clock.Clock, cfg WatchConfig) *hub {
	cfg = cfg.withDefaults()
	h := &hub{
		s: s, cfg: cfg,
		keyed:    map[string]map[*watcher]struct{}{},
		ranged:   map[*watcher]struct{}{},
		unsynced: map[*watcher]struct{}{},
		victims:  map[*watcher]struct{}{},
		streams:  map[*WatchStream]struct{}{},
		kickc:    make(chan struct{}, 1),
		stopc:    make(chan struct{}),
		donec:    make(chan struct{}),
		progress: clk.NewTicker(cfg.ProgressNotifyInterval),
		retry:    pace.NewTicker(cfg.RetryInterval),
	}
	go h.run()
	return h
}

func (h *hub) stop() {
	select {
	case <-h.stopc:
		return
	default:
	}
	close(h.stopc)
	<-h.donec
	h.progress.Stop()
}

func (h *hub) kick() {
	select {
	case h.kickc <- struct{}{}:
	default:
	}
}

func (h *hub) run() {
	defer close(h.donec)
	defer h.retry.Stop()
	for {
		select {
		case <-h.stopc:
			return
		case <-h.kickc:
		case <-h.retry.C():
		case <-h.progress.C():
			h.progressTick()
			continue
		}
		h.catchUp()
	}
}

// add registers a new watcher: synced if it starts in the future, unsynced otherwise. A
// watcher already removed (cancelled while it moved) is not added.
func (h *hub) add(w *watcher) {
	if to := h.lockOrMoved(); to != nil {
		to.add(w)
		return
	}
	defer h.unlock()
	if w.done.Load() {
		return
	}
	if w.minRev > h.s.currentRev {
		h.addSynced(w)
		return
	}
	w.state = stateUnsynced
	h.unsynced[w] = struct{}{}
	h.kick()
}

func (h *hub) addSynced(w *watcher) {
	w.state = stateSynced
	h.nsynced++
	if w.end == nil {
		set := h.keyed[string(w.key)]
		if set == nil {
			set = map[*watcher]struct{}{}
			h.keyed[string(w.key)] = set
		}
		set[w] = struct{}{}
		return
	}
	h.ranged[w] = struct{}{}
}

func (h *hub) delSynced(w *watcher) {
	h.nsynced--
	if w.end == nil {
		set := h.keyed[string(w.key)]
		delete(set, w)
		if len(set) == 0 {
			delete(h.keyed, string(w.key))
		}
		return
	}
	delete(h.ranged, w)
}

// lockOrMoved takes the store's read lock and the hub's lock, in that order, and returns
// nil; once the hub's streams have moved it takes neither and returns where they went.
func (h *hub) lockOrMoved() *hub {
	h.s.mu.RLock()
	h.mu.Lock()
	if to := h.movedTo; to != nil {
		h.unlock()
		return to
	}
	return nil
}

// unlock releases what lockOrMoved took.
func (h *hub) unlock() {
	h.mu.Unlock()
	h.s.mu.RUnlock()
}

// attach registers a new stream (with the hub the streams moved to, if they did).
func (h *hub) attach(ws *WatchStream) {
	h.mu.Lock()
	if to := h.movedTo; to != nil {
		h.mu.Unlock()
		to.attach(ws)
		return
	}
	defer h.mu.Unlock()
	ws.hub.Store(h)
	h.streams[ws] = struct{}{}
}

// detach forgets a closed stream.
func (h *hub) detach(ws *WatchStream) {
	h.mu.Lock()
	delete(h.streams, ws)
	to := h.movedTo
	h.mu.Unlock()
	if to != nil {
		to.detach(ws)
	}
}

// detachLocked takes w out of the hub to move it to another: unlike removeLocked it stays
// live, and a victim's undelivered response is given up for the history it came from (its
// minRev goes back to the response's first event).
func (h *hub) detachLocked(w *watcher) {
	if w.state == stateVictim && len(w.pending.Events) > 0 {
		w.minRev = w.pending.Events[0].Kv.ModRevision
	}
	h.unlink(w)
	w.state = stateNew
}

// remove takes w out of the hub for good; nothing is sent for it afterwards.
func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	to := h.movedTo
	if to == nil {
		defer h.mu.Unlock()
		h.removeLocked(w)
		return
	}
	h.mu.Unlock()
	to.remove(w) // it may be on its way there: marked done, it is not added
}

func (h *hub) removeLocked(w *watcher) {
	if w.done.Swap(true) {
		return
	}
	h.unlink(w)
}

// unlink takes w out of the set its state puts it in.
func (h *hub) unlink(w *watcher) {
	switch w.state {
	case stateNew:
	case stateSynced:
		h.delSynced(w)
	case stateUnsynced:
		delete(h.unsynced, w)
	case stateVictim:
		delete(h.victims, w)
		w.pending = WatchResponse{}
	}
}

// notify delivers the changes of the write transaction that made revision rev to the synced
// watchers. The caller holds Store.mu exclusively, so prev versions can be read.
func (h *hub) notify(rev int64, recs []backend.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nsynced == 0 {
		return
	}
	evs := make([]kv.Event, len(recs))
	for i := range recs {
		evs[i] = recordEvent(&recs[i])
	}
	prevs := h.prevCache(evs, rev)
	if len(evs) == 1 {
		// The common case, and the fan-out case: one event, possibly many watchers.
		for w := range h.keyed[string(evs[0].Kv.Key)] {
			h.deliver(w, rev, evs, prevs)
		}
		for w := range h.ranged {
			if w.contains(evs[0].Kv.Key) {
				h.deliver(w, rev, evs, prevs)
			}
		}
		return
	}
	matched := map[*watcher][]kv.Event{}
	var order []*watcher
	for i := range evs {
		add := func(w *watcher) {
			if _, ok := matched[w]; !ok {
				order = append(order, w)
			}
			matched[w] = append(matched[w], evs[i])
		}
		for w := range h.keyed[string(evs[i].Kv.Key)] {
			add(w)
		}
		for w := range h.ranged {
			if w.contains(evs[i].Kv.Key) {
				add(w)
			}
		}
	}
	for _, w := range order {
		mine := matched[w]
		h.deliver(w, rev, mine, func(j int) *kv.KeyValue { return h.s.prevKV(mine[j].Kv.Key, rev) })
	}
}

// prevCache returns a lookup of each event's previous version, computed at most once.
func (h *hub) prevCache(evs []kv.Event, rev int64) func(int) *kv.KeyValue {
	var cache []*kv.KeyValue
	var have []bool
	return func(i int) *kv.KeyValue {
		if cache == nil {
			cache, have = make([]*kv.KeyValue, len(evs)), make([]bool, len(evs))
		}
		if !have[i] {
			cache[i], have[i] = h.s.prevKV(evs[i].Kv.Key, rev), true
		}
		return cache[i]
	}
}

// deliver sends a synced watcher its events of revision rev, or makes it a victim.
func (h *hub) deliver(w *watcher, rev int64, evs []kv.Event, prev func(int) *kv.KeyValue) {
	if rev < w.minRev {
		return // starts in the future
	}
	w.minRev = rev + 1
	mine := w.filter(evs, prev)
	if len(mine) == 0 {
		return
	}
	resp := WatchResponse{WatchID: w.id, Revision: rev, Events: mine, Fragment: w.fragment}
	if w.ws.trySend(resp) {
		w.sent = true
		return
	}
	h.delSynced(w)
	w.state = stateVictim
	w.pending = resp
	h.victims[w] = struct{}{}
	h.kick()
}

func recordEvent(r *backend.Record) kv.Event {
	if r.Tombstone {
		return kv.Event{Type: kv.DELETE, Kv: kv.KeyValue{Key: r.KV.Key, ModRevision: r.Rev.Main}}
	}
	return kv.Event{Type: kv.PUT, Kv: r.KV}
}

// catchUp retries victims and moves unsynced watchers forward through history.
func (h *hub) catchUp() {
	h.s.mu.RLock()
	defer h.s.mu.RUnlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.s.currentRev
	for w := range h.victims {
		if !w.ws.trySend(w.pending) {
			continue
		}
		w.sent = true
		w.pending = WatchResponse{}
		delete(h.victims, w)
		h.place(w, cur)
	}
	if len(h.unsynced) > 0 {
		h.syncUnsynced(cur)
	}
}

// place puts a watcher that is not a victim where its minRev says it belongs.
func (h *hub) place(w *watcher, cur int64) {
	if w.minRev > cur {
		h.addSynced(w)
		return
	}
	w.state = stateUnsynced
	h.unsynced[w] = struct{}{}
}

// syncUnsynced sends up to MaxWatchersPerSync unsynced watchers the history they miss, at most
// BatchRevs revisions at a time, cancelling those that compaction overtook.
func (h *hub) syncUnsynced(cur int64) {
	compact := h.s.compactRev
	var ws []*watcher
	minRev := int64(-1)
	for w := range h.unsynced {
		if len(ws) >= h.cfg.MaxWatchersPerSync {
			break
		}
		if w.minRev < compact {
			resp := WatchResponse{WatchID: w.id, Canceled: true, CompactRevision: compact}
			if w.ws.trySend(resp) {
				h.removeLocked(w)
			}
			continue
		}
		ws = append(ws, w)
		if minRev < 0 || w.minRev < minRev {
			minRev = w.minRev
		}
	}
	if len(ws) == 0 {
		return
	}
	end := min(cur, minRev+h.cfg.BatchRevs-1)
	var evs []kv.Event
	h.s.b.Ascend(minRev, end+1, func(r *backend.Record) bool {
		evs = append(evs, recordEvent(r))
		return true
	})
	for _, w := range ws {
		var mine []kv.Event
		for i := range evs {
			if evs[i].Kv.ModRevision >= w.minRev && w.contains(evs[i].Kv.Key) {
				mine = append(mine, evs[i])
			}
		}
		if w.minRev <= end {
			w.minRev = end + 1
		}
		mine = w.filter(mine, func(j int) *kv.KeyValue { return h.s.prevKV(mine[j].Kv.Key, mine[j].Kv.ModRevision) })
		if len(mine) > 0 {
			resp := WatchResponse{WatchID: w.id, Revision: end, Events: mine, Fragment: w.fragment}
			if !w.ws.trySend(resp) {
				delete(h.unsynced, w)
				w.state = stateVictim
				w.pending = resp
				h.victims[w] = struct{}{}
				continue
			}
			w.sent = true
		}
		if w.minRev > cur {
			delete(h.unsynced, w)
			h.addSynced(w)
		}
	}
	if len(h.unsynced) > 0 {
		h.kick()
	}
}

// progressAll answers an explicit progress request for a stream.
func (h *hub) progressAll(ws *WatchStream) {
	if to := h.lockOrMoved(); to != nil {
		to.progressAll(ws)
		return
	}
	defer h.unlock()
	cur := h.s.currentRev
	n := 0
	for _, w := range ws.watchers {
		// A watcher cancelled by compaction (done, still on the stream) blocks the answer
		// until the client cancels it, as in etcd 3.6.
		if w.done.Load() || w.state != stateSynced || cur < w.startRev {
			return
		}
		n++
	}
	if n > 0 {
		ws.trySend(WatchResponse{WatchID: InvalidWatchID, Revision: cur})
	}
}

// progressTick sends periodic progress notifications to synced watchers that asked for them
// and received nothing since the previous tick.
func (h *hub) progressTick() {
	h.s.mu.RLock()
	defer h.s.mu.RUnlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.s.currentRev
	visit := func(w *watcher) {
		if w.progress && !w.sent && cur >= w.startRev {
			w.ws.trySend(WatchResponse{WatchID: w.id, Revision: cur})
		}
		w.sent = false
	}
	for _, set := range h.keyed {
		for w := range set {
			visit(w)
		}
	}
	for w := range h.ranged {
		visit(w)
	}
}

// count returns the number of watchers in the hub.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nsynced + len(h.unsynced) + len(h.victims)
}
