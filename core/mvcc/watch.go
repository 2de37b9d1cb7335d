package mvcc

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/metastore/metastore/core/kv"
)

var (
	// ErrEmptyWatcherRange is returned for a watch whose end is not after its key.
	ErrEmptyWatcherRange = errors.New("mvcc: watcher range is empty")
	// ErrWatcherDuplicateID is returned for a watch ID already in use on the stream.
	ErrWatcherDuplicateID = errors.New("mvcc: duplicate watch ID provided on the WatchStream")
	// ErrStreamClosed is returned by Watch on a closed stream.
	ErrStreamClosed = errors.New("mvcc: watch stream closed")
)

// WatchID identifies a watcher within its stream.
type WatchID int64

const (
	// AutoWatchID asks the stream to pick the lowest free ID.
	AutoWatchID WatchID = 0
	// InvalidWatchID marks responses that belong to no single watcher: failed creates and
	// stream-wide progress notifications.
	InvalidWatchID WatchID = -1
)

// WatchRequest creates a watcher.
type WatchRequest struct {
	ID WatchID
	// Key and End select the keys: a nil End watches Key alone, an empty non-nil End every key
	// >= Key, otherwise [Key, End).
	Key, End []byte
	// StartRev is the first revision to deliver; 0 means the next one. A past revision replays
	// history from there; below the compact revision the watcher is cancelled by compaction.
	StartRev       int64
	PrevKV         bool
	NoPut          bool
	NoDelete       bool
	ProgressNotify bool
	Fragment       bool
}

// WatchResponse is one message on a stream, as etcd's WatchResponse.
type WatchResponse struct {
	WatchID WatchID
	// Revision is the header revision: the events' revision for live delivery, the revision
	// caught up to for history, the current revision for created/canceled/progress messages,
	// and 0 for a cancellation by compaction.
	Revision        int64
	Created         bool
	Canceled        bool
	CompactRevision int64
	// Err is why a create failed (Created and Canceled both set, WatchID -1).
	Err    error
	Events []kv.Event
	// Fragment says the watcher accepts this response split into fragments if it is too
	// large for the transport (the transport knows its limit and does the splitting).
	Fragment bool
}

// IsProgressNotify reports whether r is a progress notification.
func (r WatchResponse) IsProgressNotify() bool {
	return len(r.Events) == 0 && !r.Created && !r.Canceled && r.CompactRevision == 0 && r.Revision != 0
}

// WatchStream multiplexes watchers onto one channel of responses, like one gRPC Watch stream.
// Every response for a watcher comes after its Created response and before its Canceled one;
// the events of a watcher arrive in revision order, with no gaps and no duplicates.
type WatchStream struct {
	hub atomic.Pointer[hub] // MoveWatchStreams changes it
	ch  chan WatchResponse
	// donec is closed by Close; blocking sends give up when it is.
	donec  chan struct{}
	closed atomic.Bool

	// mu guards watchers and nextID, and serialises Watch/Cancel/RequestProgress so that
	// created and canceled responses keep their order. It is taken before Store.mu.
	mu       sync.Mutex
	watchers map[WatchID]*watcher
	nextID   WatchID
}

// NewWatchStream opens a stream on the store.
func (s *Store) NewWatchStream() *WatchStream {
	ws := &WatchStream{
		ch:       make(chan WatchResponse, s.hub.cfg.StreamBuffer),
		donec:    make(chan struct{}),
		watchers: map[WatchID]*watcher{},
	}
	s.hub.attach(ws)
	return ws
}

// MoveWatchStreams moves every watch stream open on s, and each one opened on it later, to
// to, which replaces s: a member installed its leader's snapshot. The streams stay open and
// keep their watchers and IDs, as etcd's watchableStore.Restore keeps them: each watcher
// resumes from the first revision it was not sent, caught up from to's history (it is
// cancelled with to's compact revision if that history starts after it). Revisions are the
// same on every member, so the events are the ones s would have delivered.
//
// It takes no stream's lock: a stream whose reader stopped reading holds its lock while it
// waits for room (Watch, Cancel), and must not hold up the member that moves it. Instead the
// old hub forwards whatever reaches it afterwards (add, remove, progress) to the new one.
func (s *Store) MoveWatchStreams(to *Store) {
	from := s.hub
	if to.hub == from {
		return
	}
	from.mu.Lock()
	from.movedTo = to.hub
	var moving []*watcher
	for _, set := range from.keyed {
		for w := range set {
			moving = append(moving, w)
		}
	}
	for _, set := range []map[*watcher]struct{}{from.ranged, from.unsynced, from.victims} {
		for w := range set {
			moving = append(moving, w)
		}
	}
	for _, w := range moving {
		from.detachLocked(w)
	}
	streams := from.streams
	from.streams = map[*WatchStream]struct{}{}
	from.mu.Unlock()

	to.hub.mu.Lock()
	for ws := range streams {
		ws.hub.Store(to.hub)
		// A stream closed meanwhile has detached itself (from to, through the forward) or
		// is about to; closed is set before it does.
		if !ws.closed.Load() {
			to.hub.streams[ws] = struct{}{}
		}
	}
	to.hub.mu.Unlock()
	for _, w := range moving {
		to.hub.add(w) // skips a watcher cancelled meanwhile
	}
}

// Chan delivers the stream's responses. Read it promptly: a stream whose buffer is full makes
// its watchers fall behind (they catch up from history later; nothing is lost).
func (ws *WatchStream) Chan() <-chan WatchResponse { return ws.ch }

// Done is closed when the stream is closed.
func (ws *WatchStream) Done() <-chan struct{} { return ws.donec }

// Watch creates a watcher and queues its Created response. A request that cannot be served
// gets a Created+Canceled response with Err set and WatchID -1, and the error is returned.
func (ws *WatchStream) Watch(req WatchRequest) (WatchID, error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.closed.Load() {
		return InvalidWatchID, ErrStreamClosed
	}
	cur := ws.hub.Load().s.Rev()
	var err error
	switch { // in etcd's order: the negative start is refused before the range is looked at
	case req.StartRev < 0:
		err = ErrCompacted
	case len(req.End) > 0 && bytes.Compare(req.Key, req.End) >= 0:
		err = ErrEmptyWatcherRange
	case req.ID != AutoWatchID && ws.live(req.ID) != nil:
		err = ErrWatcherDuplicateID
	}
	if err != nil {
		ws.sendBlocking(WatchResponse{WatchID: InvalidWatchID, Revision: cur, Created: true, Canceled: true, Err: err})
		return InvalidWatchID, err
	}
	id := req.ID
	if id == AutoWatchID {
		for ws.live(ws.nextID) != nil {
			ws.nextID++
		}
		id = ws.nextID
		ws.nextID++
	}
	// A watch "from now" starts after the revision its Created response reports. Its start
	// revision stays 0, as in etcd, so it never counts as waiting for a future revision.
	minRev := req.StartRev
	if minRev == 0 {
		minRev = cur + 1
	}
	w := &watcher{
		id: id, ws: ws,
		key: bytes.Clone(req.Key), end: cloneEnd(req.End),
		startRev: req.StartRev, minRev: minRev,
		prevKV: req.PrevKV, noPut: req.NoPut, noDelete: req.NoDelete,
		progress: req.ProgressNotify, fragment: req.Fragment,
	}
	// Created goes out before the watcher is registered, so no event can overtake it.
	if !ws.sendBlocking(WatchResponse{WatchID: id, Revision: cur, Created: true}) {
		return InvalidWatchID, ErrStreamClosed
	}
	ws.watchers[id] = w
	ws.hub.Load().add(w)
	return id, nil
}

func cloneEnd(end []byte) []byte {
	if end == nil {
		return nil
	}
	return append([]byte{}, end...)
}

// live returns the watcher with id. A watcher cancelled by compaction stays on its stream,
// inert, until the client cancels it, as in etcd 3.6: its ID stays taken, a Cancel of it is
// answered, and progress requests are not answered meanwhile. The caller holds ws.mu.
func (ws *WatchStream) live(id WatchID) *watcher { return ws.watchers[id] }

// Cancel stops a watcher and queues its Canceled response. It reports false, sending nothing,
// for an unknown ID (as etcd does).
func (ws *WatchStream) Cancel(id WatchID) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.live(id)
	if w == nil {
		return false
	}
	delete(ws.watchers, id)
	ws.hub.Load().remove(w)
	ws.sendBlocking(WatchResponse{WatchID: id, Revision: ws.hub.Load().s.Rev(), Canceled: true})
	return true
}

// RequestProgress queues a progress notification (WatchID -1, the current revision) if every
// watcher on the stream is caught up; otherwise, and on a stream with no watchers, it sends
// nothing, as etcd does.
func (ws *WatchStream) RequestProgress() {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.hub.Load().progressAll(ws)
}

// Close cancels every watcher of the stream, without responses. It does not wait for a
// Watch or Cancel blocked on a full stream: closing donec first releases them.
func (ws *WatchStream) Close() {
	if ws.closed.Swap(true) {
		return
	}
	close(ws.donec)
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for id, w := range ws.watchers {
		ws.hub.Load().remove(w)
		delete(ws.watchers, id)
	}
	ws.hub.Load().detach(ws)
}

// sendBlocking queues r, waiting for room; it gives up if the stream closes.
func (ws *WatchStream) sendBlocking(r WatchResponse) bool {
	select {
	case ws.ch <- r:
		return true
	case <-ws.donec:
		return false
	}
}

// trySend queues r if there is room. A closed stream swallows it.
func (ws *WatchStream) trySend(r WatchResponse) bool {
	if ws.closed.Load() {
		return true
	}
	select {
	case ws.ch <- r:
		return true
	default:
		return false
	}
}

type watchState uint8

const (
	stateNew      watchState = iota // not registered with the hub yet
	stateSynced                     // receives events as they are written
	stateUnsynced                   // behind; catches up from history
	stateVictim                     // its stream was full; holds one pending response
)

// watcher is one watch. Fields below ws are guarded by hub.mu once the watcher is added.
type watcher struct {
	id       WatchID
	ws       *WatchStream
	key, end []byte
	startRev int64
	prevKV   bool
	noPut    bool
	noDelete bool
	progress bool
	fragment bool
	done     atomic.Bool // removed from the hub: cancelled, compacted, or stream closed

	state watchState
	// minRev is the next revision the watcher has not been sent.
	minRev int64
	// pending is the response a victim could not deliver.
	pending WatchResponse
	// sent records delivery since the last periodic progress tick.
	sent bool
}

func (w *watcher) contains(key []byte) bool {
	if w.end == nil {
		return bytes.Equal(w.key, key)
	}
	if bytes.Compare(key, w.key) < 0 {
		return false
	}
	return len(w.end) == 0 || bytes.Compare(key, w.end) < 0
}

// filter returns the events w should see, or nil. It reuses evs when nothing is dropped.
func (w *watcher) filter(evs []kv.Event, withPrev func(i int) *kv.KeyValue) []kv.Event {
	keepAll := !w.noPut && !w.noDelete && !w.prevKV
	if keepAll {
		return evs
	}
	var out []kv.Event
	for i := range evs {
		ev := evs[i]
		if (ev.Type == kv.PUT && w.noPut) || (ev.Type == kv.DELETE && w.noDelete) {
			continue
		}
		if w.prevKV && !ev.IsCreate() {
			// etcd attaches no previous version to a creation, even when the key was
			// deleted earlier in the same transaction.
			ev.PrevKv = withPrev(i)
		}
		out = append(out, ev)
	}
	return out
}
