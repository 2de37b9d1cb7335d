package mvcc

import (
	"fmt"
	"math/rand"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metastore/metastore/core/kv"
)

// These tests look inside the hub. Many of them stop the hub's goroutine (mwManualStore) and
// drive catchUp and progressTick by hand, so that "a watcher is behind" is a state the test
// controls rather than a race it hopes to win.

const (
	mwTimeout = 30 * time.Second
	mwQuiet   = 150 * time.Millisecond
)

func mwStore(t testing.TB, cfg WatchConfig) *Store {
	t.Helper()
	s, err := New(Config{Watch: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// mwManualStore returns a store whose hub goroutine is stopped: victims and unsynced
// watchers move only when the test calls s.hub.catchUp, and periodic progress only when it
// calls s.hub.progressTick.
func mwManualStore(t testing.TB, cfg WatchConfig) *Store {
	t.Helper()
	s := mwStore(t, cfg)
	s.hub.stop()
	return s
}

func mwStream(t testing.TB, s *Store) *WatchStream {
	t.Helper()
	ws := s.NewWatchStream()
	t.Cleanup(ws.Close)
	return ws
}

func mwPut(s *Store, key, val string) int64 {
	tx := s.Write()
	rev := tx.Put([]byte(key), []byte(val), 0)
	tx.End()
	return rev
}

func mwDelete(s *Store, key string, end []byte) int64 {
	tx := s.Write()
	_, rev := tx.DeleteRange([]byte(key), end)
	tx.End()
	return rev
}

func mwRecv(t testing.TB, ws *WatchStream) WatchResponse {
	t.Helper()
	timer := time.NewTimer(mwTimeout)
	defer timer.Stop()
	select {
	case r := <-ws.Chan():
		return r
	case <-timer.C:
		t.Fatalf("no watch response within %v", mwTimeout)
		panic("unreachable")
	}
}

// mwEmpty checks that nothing is queued on ws right now (for manual hubs, where nothing can
// arrive later by itself).
func mwEmpty(t testing.TB, ws *WatchStream) {
	t.Helper()
	if n := len(ws.Chan()); n != 0 {
		t.Fatalf("%d unexpected queued responses, first %s", n, mwFmt(<-ws.Chan()))
	}
}

func mwWatch(t testing.TB, ws *WatchStream, req WatchRequest) WatchID {
	t.Helper()
	id, err := ws.Watch(req)
	if err != nil {
		t.Fatalf("watch %+v: %v", req, err)
	}
	if r := mwRecv(t, ws); !r.Created || r.Canceled || r.WatchID != id {
		t.Fatalf("want created response for %d, got %s", id, mwFmt(r))
	}
	return id
}

func mwFmt(r WatchResponse) string {
	evs := make([]string, len(r.Events))
	for i, e := range r.Events {
		evs[i] = fmt.Sprintf("%s %s@%d", e.Type, e.Kv.Key, e.Kv.ModRevision)
	}
	return fmt.Sprintf("{id=%d rev=%d created=%v canceled=%v compact=%d err=%v events=[%s]}",
		r.WatchID, r.Revision, r.Created, r.Canceled, r.CompactRevision, r.Err, strings.Join(evs, ", "))
}

func mwRevs(evs []kv.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.Kv.ModRevision
	}
	return out
}

type mwHubState struct {
	synced, keyed, ranged, unsynced, victims int
}

func mwState(s *Store) mwHubState {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	st := mwHubState{synced: h.nsynced, ranged: len(h.ranged), unsynced: len(h.unsynced), victims: len(h.victims)}
	for _, set := range h.keyed {
		if len(set) == 0 {
			st.keyed = -1000 // an empty set left behind
		}
		st.keyed += len(set)
	}
	return st
}

// mwWatcherState returns the hub state of watcher id of ws.
func mwWatcherState(s *Store, ws *WatchStream, id WatchID) (watchState, *watcher) {
	ws.mu.Lock()
	w := ws.watchers[id]
	ws.mu.Unlock()
	if w == nil {
		return 0, nil
	}
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return w.state, w
}

func mwWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(mwTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// ---------------------------------------------------------------------------------------

// A synced watcher whose stream is full becomes a victim holding exactly one response (the
// writer does not wait); once there is room the victim delivers it and catches up from
// history, with no gap and no duplicate.
func TestHubVictimRecovers(t *testing.T) {
	s := mwManualStore(t, WatchConfig{StreamBuffer: 2})
	ws := mwStream(t, s)
	id := mwWatch(t, ws, WatchRequest{Key: []byte("k")})
	r2 := mwPut(s, "k", "2")
	r3 := mwPut(s, "k", "3") // the stream is full now
	if st, _ := mwWatcherState(s, ws, id); st != stateSynced {
		t.Fatalf("want synced while the stream has room, got %d", st)
	}
	r4 := mwPut(s, "k", "4") // no room: victim, synchronously, in the writer
	st, w := mwWatcherState(s, ws, id)
	if st != stateVictim {
		t.Fatalf("want victim, got state %d", st)
	}
	s.hub.mu.Lock()
	pending := w.pending
	s.hub.mu.Unlock()
	if pending.Revision != r4 || !reflect.DeepEqual(mwRevs(pending.Events), []int64{r4}) {
		t.Fatalf("victim should hold the response of %d, holds %s", r4, mwFmt(pending))
	}
	r5 := mwPut(s, "k", "5") // a victim is not sent anything more, and holds no more
	s.hub.mu.Lock()
	pending = w.pending
	s.hub.mu.Unlock()
	if len(pending.Events) != 1 {
		t.Fatalf("victim's pending response grew: %s", mwFmt(pending))
	}
	if got := mwState(s); got != (mwHubState{victims: 1}) {
		t.Fatalf("hub state %+v", got)
	}
	s.hub.catchUp() // still no room: nothing changes
	if st, _ := mwWatcherState(s, ws, id); st != stateVictim {
		t.Fatalf("want victim while the stream is full, got %d", st)
	}

	for _, want := range []int64{r2, r3} {
		if r := mwRecv(t, ws); r.Revision != want || !reflect.DeepEqual(mwRevs(r.Events), []int64{want}) {
			t.Fatalf("want event at %d, got %s", want, mwFmt(r))
		}
	}
	// One pass: the pending response goes out, then the rest comes from history.
	s.hub.catchUp()
	if r := mwRecv(t, ws); r.Revision != r4 || !reflect.DeepEqual(mwRevs(r.Events), []int64{r4}) {
		t.Fatalf("want the pending event at %d, got %s", r4, mwFmt(r))
	}
	if r := mwRecv(t, ws); r.Revision != r5 || !reflect.DeepEqual(mwRevs(r.Events), []int64{r5}) {
		t.Fatalf("want the replayed event at %d, got %s", r5, mwFmt(r))
	}
	if st, _ := mwWatcherState(s, ws, id); st != stateSynced {
		t.Fatalf("want synced after catching up, got %d", st)
	}
	r6 := mwPut(s, "k", "6")
	if r := mwRecv(t, ws); r.Revision != r6 {
		t.Fatalf("want live event at %d, got %s", r6, mwFmt(r))
	}
	mwEmpty(t, ws)
}

// RequestProgress is not answered while any watcher of the stream is behind (a victim, or
// replaying history), even if the stream has room; it is once all caught up, after the
// events it covers.
func TestHubProgressWhileBehind(t *testing.T) {
	t.Run("victim", func(t *testing.T) {
		s := mwManualStore(t, WatchConfig{StreamBuffer: 3})
		ws := mwStream(t, s)
		id := mwWatch(t, ws, WatchRequest{Key: []byte("k")})
		for i := range 4 {
			mwPut(s, "k", fmt.Sprint(i))
		}
		if st, _ := mwWatcherState(s, ws, id); st != stateVictim {
			t.Fatalf("want victim, got %d", st)
		}
		mwRecv(t, ws) // room for one more
		ws.RequestProgress()
		if n := len(ws.Chan()); n != 2 {
			t.Fatalf("progress answered while a watcher is a victim (%d queued)", n)
		}
		mwRecv(t, ws)
		mwRecv(t, ws)
		ws.RequestProgress()
		mwEmpty(t, ws)
		s.hub.catchUp()
		ws.RequestProgress()
		if r := mwRecv(t, ws); len(r.Events) != 1 || r.Events[0].Kv.ModRevision != s.Rev() {
			t.Fatalf("want the pending event first, got %s", mwFmt(r))
		}
		if r := mwRecv(t, ws); !r.IsProgressNotify() || r.WatchID != InvalidWatchID || r.Revision != s.Rev() {
			t.Fatalf("want progress at %d, got %s", s.Rev(), mwFmt(r))
		}
		mwEmpty(t, ws)
	})
	t.Run("replaying history", func(t *testing.T) {
		s := mwManualStore(t, WatchConfig{})
		for i := range 5 {
			mwPut(s, "h", fmt.Sprint(i))
		}
		ws := mwStream(t, s)
		mwWatch(t, ws, WatchRequest{Key: []byte("x")})
		id := mwWatch(t, ws, WatchRequest{Key: []byte("h"), StartRev: 2})
		if st, _ := mwWatcherState(s, ws, id); st != stateUnsynced {
			t.Fatalf("want unsynced, got %d", st)
		}
		ws.RequestProgress()
		mwEmpty(t, ws)
		s.hub.catchUp()
		ws.RequestProgress()
		if r := mwRecv(t, ws); r.WatchID != id || len(r.Events) != 5 {
			t.Fatalf("want the replay of 5 events, got %s", mwFmt(r))
		}
		if r := mwRecv(t, ws); !r.IsProgressNotify() || r.Revision != s.Rev() {
			t.Fatalf("want progress at %d, got %s", s.Rev(), mwFmt(r))
		}
	})
}

// Catch-up reads at most BatchRevs revisions per response, never splits a revision, and
// ends synced.
func TestHubBatchRevs(t *testing.T) {
	const batch = 3
	s := mwManualStore(t, WatchConfig{BatchRevs: batch})
	// Revisions 2..19: "a" in most, two-key txns in some, "b" (not watched) in others.
	for i := range 18 {
		tx := s.Write()
		switch i % 3 {
		case 0:
			tx.Put([]byte("a"), []byte(fmt.Sprint(i)), 0)
		case 1:
			tx.Put([]byte("a"), []byte(fmt.Sprint(i)), 0)
			tx.Put([]byte("a2"), []byte(fmt.Sprint(i)), 0)
		case 2:
			tx.Put([]byte("b"), []byte(fmt.Sprint(i)), 0)
		}
		tx.End()
	}
	cur := s.Rev()
	ws := mwStream(t, s)
	id := mwWatch(t, ws, WatchRequest{Key: []byte("a"), End: []byte("b"), StartRev: 2})
	var got []kv.Event
	last := int64(0)
	passes := 0
	for {
		if st, _ := mwWatcherState(s, ws, id); st == stateSynced {
			break
		}
		passes++
		if passes > 100 {
			t.Fatalf("still not synced after %d passes", passes)
		}
		s.hub.catchUp()
		for len(ws.Chan()) > 0 {
			r := <-ws.Chan()
			evs := r.Events
			first, end := evs[0].Kv.ModRevision, evs[len(evs)-1].Kv.ModRevision
			if end-first >= batch {
				t.Fatalf("response spans revisions %d..%d, more than %d", first, end, batch)
			}
			if first <= last {
				t.Fatalf("response starting at %d after one ending at %d: split or duplicate", first, last)
			}
			if r.Revision < end || r.Revision > cur {
				t.Fatalf("catch-up header revision %d outside [%d, %d]", r.Revision, end, cur)
			}
			last = end
			got = append(got, evs...)
		}
	}
	if want := (int(cur-1) + batch - 1) / batch; passes != want {
		t.Errorf("caught up in %d passes, want %d", passes, want)
	}
	var want []int64
	for r := int64(2); r <= cur; r++ {
		switch (r - 2) % 3 {
		case 0:
			want = append(want, r)
		case 1:
			want = append(want, r, r)
		}
	}
	if !reflect.DeepEqual(mwRevs(got), want) {
		t.Fatalf("want revisions %v, got %v", want, mwRevs(got))
	}
}

func TestHubMaxWatchersPerSync(t *testing.T) {
	const perSync, n = 2, 7
	s := mwManualStore(t, WatchConfig{MaxWatchersPerSync: perSync})
	for i := range 5 {
		mwPut(s, "k", fmt.Sprint(i))
	}
	ws := mwStream(t, s)
	ids := make([]WatchID, n)
	for i := range ids {
		ids[i] = mwWatch(t, ws, WatchRequest{Key: []byte("k"), StartRev: 1})
	}
	for pass := 1; ; pass++ {
		s.hub.catchUp()
		st := mwState(s)
		wantUnsynced := max(0, n-perSync*pass)
		if st.unsynced != wantUnsynced || st.synced != n-wantUnsynced {
			t.Fatalf("after pass %d: want %d unsynced, got %+v", pass, wantUnsynced, st)
		}
		if wantUnsynced == 0 {
			break
		}
	}
	got := map[WatchID]int{}
	for len(ws.Chan()) > 0 {
		r := <-ws.Chan()
		got[r.WatchID] += len(r.Events)
	}
	for _, id := range ids {
		if got[id] != 5 {
			t.Fatalf("watch %d got %d events, want 5 (%v)", id, got[id], got)
		}
	}
}

// A compaction cancel that does not fit in the stream is retried, and the watcher stays
// unsynced (and sends nothing else) until it goes out.
func TestHubCompactionCancelRetriedWhenStreamFull(t *testing.T) {
	s := mwManualStore(t, WatchConfig{StreamBuffer: 1})
	for i := range 10 {
		mwPut(s, "k", fmt.Sprint(i))
	}
	ws := mwStream(t, s)
	id, err := ws.Watch(WatchRequest{Key: []byte("k"), StartRev: 2}) // its Created fills the stream
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(6); err != nil {
		t.Fatal(err)
	}
	s.hub.catchUp()
	if st := mwState(s); st.unsynced != 1 {
		t.Fatalf("want the watcher still unsynced, got %+v", st)
	}
	if r := mwRecv(t, ws); !r.Created {
		t.Fatalf("want created, got %s", mwFmt(r))
	}
	s.hub.catchUp()
	want := WatchResponse{WatchID: id, Canceled: true, CompactRevision: 6}
	if r := mwRecv(t, ws); !reflect.DeepEqual(r, want) {
		t.Fatalf("want %s, got %s", mwFmt(want), mwFmt(r))
	}
	if st := mwState(s); st != (mwHubState{}) {
		t.Fatalf("hub still holds the cancelled watcher: %+v", st)
	}
	mwPut(s, "k", "after")
	s.hub.catchUp()
	mwEmpty(t, ws)
}

// Many stalled streams: writers never wait, every victim holds one response, and once the
// readers come back every watcher gets every revision exactly once, in order.
func TestHubWritersNeverBlock(t *testing.T) {
	const streams, writes = 50, 500
	s := mwStore(t, WatchConfig{StreamBuffer: 1, RetryInterval: time.Millisecond})
	mwPut(s, "k", "initial") // so that every watched event has a prev_kv
	var wss []*WatchStream
	var ids []WatchID
	for range streams {
		ws := mwStream(t, s)
		wss = append(wss, ws)
		ids = append(ids, mwWatch(t, ws, WatchRequest{Key: []byte("k"), PrevKV: true}))
	}
	first := s.Rev() + 1
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range writes {
			mwPut(s, "k", fmt.Sprint(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(mwTimeout):
		t.Fatalf("writes blocked by stalled watch streams")
	}
	last := s.Rev()
	// Every watcher has one response queued and one pending; nothing else is held.
	mwWaitFor(t, "every watcher to be a victim", func() bool { return mwState(s).victims == streams })
	s.hub.mu.Lock()
	for w := range s.hub.victims {
		if len(w.pending.Events) != 1 || w.pending.Events[0].Kv.ModRevision != first+1 {
			t.Errorf("victim %d holds %s, want the one event at %d", w.id, mwFmt(w.pending), first+1)
		}
	}
	s.hub.mu.Unlock()

	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i, ws := range wss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := first
			timeout := time.After(mwTimeout)
			for next <= last {
				select {
				case r := <-ws.Chan():
					for _, e := range r.Events {
						if r.WatchID != ids[i] || e.Kv.ModRevision != next {
							errs <- fmt.Errorf("stream %d: want event at %d, got %s", i, next, mwFmt(r))
							return
						}
						if e.PrevKv == nil || e.PrevKv.ModRevision != next-1 {
							errs <- fmt.Errorf("stream %d: event at %d has prev_kv %v", i, next, e.PrevKv)
							return
						}
						next++
					}
				case <-timeout:
					errs <- fmt.Errorf("stream %d: stuck before %d", i, next)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	mwWaitFor(t, "all watchers synced", func() bool { return mwState(s).synced == streams })
	for _, ws := range wss {
		mwEmpty(t, ws)
	}
}

// Close takes every watcher of the stream out of the hub, whatever its state, leaving no
// empty sets behind, and nothing is sent on the stream afterwards.
func TestHubCloseReleasesWatchers(t *testing.T) {
	s := mwManualStore(t, WatchConfig{StreamBuffer: 4})
	for i := range 3 {
		mwPut(s, "h", fmt.Sprint(i))
	}
	ws := mwStream(t, s)
	mwWatch(t, ws, WatchRequest{Key: []byte("k")})                       // synced, keyed
	mwWatch(t, ws, WatchRequest{Key: []byte("a"), End: []byte("m")})     // synced, ranged
	mwWatch(t, ws, WatchRequest{Key: []byte("zzz"), End: []byte{}})      // synced, from key
	mwWatch(t, ws, WatchRequest{Key: []byte("k"), StartRev: 100})        // waiting for the future
	mwWatch(t, ws, WatchRequest{Key: []byte("h"), StartRev: 2})          // unsynced
	v := mwWatch(t, ws, WatchRequest{Key: []byte("zz"), NoDelete: true}) // becomes a victim
	other := mwStream(t, s)
	o := mwWatch(t, other, WatchRequest{Key: []byte("k")})
	for i := range 5 {
		mwPut(s, "zz", fmt.Sprint(i))
	}
	if st, _ := mwWatcherState(s, ws, v); st != stateVictim {
		t.Fatalf("setup: want a victim, got %d", st)
	}
	if got, want := mwState(s), (mwHubState{synced: 5, keyed: 3, ranged: 2, unsynced: 1, victims: 1}); got != want {
		t.Fatalf("setup: hub state %+v, want %+v", got, want)
	}
	queued := len(ws.Chan())
	ws.Close()
	if got, want := mwState(s), (mwHubState{synced: 1, keyed: 1}); got != want {
		t.Fatalf("after Close: hub state %+v, want %+v (only the other stream's watcher)", got, want)
	}
	s.hub.catchUp()
	mwPut(s, "k", "x")
	mwPut(s, "zz", "x")
	s.hub.progressTick()
	if n := len(ws.Chan()); n != queued {
		t.Fatalf("responses sent on a closed stream: %d queued, was %d", n, queued)
	}
	if r := mwRecv(t, other); r.WatchID != o || len(r.Events) != 1 {
		t.Fatalf("other stream: want its event, got %s", mwFmt(r))
	}
	other.Close()
	if got := mwState(s); got != (mwHubState{}) {
		t.Fatalf("hub not empty after closing every stream: %+v", got)
	}
}

// A store's Close stops the hub's goroutine; closing streams leaves none behind.
func TestHubNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 5 {
		s, err := New(Config{Watch: WatchConfig{StreamBuffer: 1, RetryInterval: time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 10 {
			ws := s.NewWatchStream()
			if _, err := ws.Watch(WatchRequest{Key: []byte("k"), StartRev: int64(i % 3)}); err != nil {
				t.Fatal(err)
			}
			mwPut(s, "k", "v")
			mwPut(s, "k", "v")
			ws.Close()
		}
		s.Close()
		s.Close() // idempotent
	}
	mwWaitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

// Periodic progress goes to synced watchers that asked for it and got nothing since the last
// tick; not to watchers that are behind or waiting for their start revision.
func TestHubProgressTick(t *testing.T) {
	s := mwManualStore(t, WatchConfig{})
	for i := range 3 {
		mwPut(s, "h", fmt.Sprint(i))
	}
	ws := mwStream(t, s)
	quiet := mwWatch(t, ws, WatchRequest{Key: []byte("q"), ProgressNotify: true})
	busy := mwWatch(t, ws, WatchRequest{Key: []byte("b"), End: []byte("c"), ProgressNotify: true})
	mwWatch(t, ws, WatchRequest{Key: []byte("q")}) // did not ask
	future := mwWatch(t, ws, WatchRequest{Key: []byte("f"), ProgressNotify: true, StartRev: s.Rev() + 3})
	behind := mwWatch(t, ws, WatchRequest{Key: []byte("h"), ProgressNotify: true, StartRev: 2})

	tick := func(want ...WatchID) {
		t.Helper()
		s.hub.progressTick()
		cur := s.Rev()
		got := map[WatchID]bool{}
		for len(ws.Chan()) > 0 {
			r := <-ws.Chan()
			if !r.IsProgressNotify() || r.Revision != cur || got[r.WatchID] {
				t.Fatalf("want one progress notification per watcher at %d, got %s", cur, mwFmt(r))
			}
			got[r.WatchID] = true
		}
		wantSet := map[WatchID]bool{}
		for _, id := range want {
			wantSet[id] = true
		}
		if !reflect.DeepEqual(got, wantSet) {
			t.Fatalf("notified %v, want %v", got, wantSet)
		}
	}
	tick(quiet, busy) // behind is unsynced, future has not reached its start
	mwPut(s, "b1", "x")
	mwRecv(t, ws)
	tick(quiet)
	tick(quiet, busy)
	s.hub.catchUp() // behind replays its history: that counts as sent
	if r := mwRecv(t, ws); r.WatchID != behind || len(r.Events) != 3 {
		t.Fatalf("want the replay, got %s", mwFmt(r))
	}
	tick(quiet, busy)
	tick(quiet, busy, behind)
	mwPut(s, "x", "1")
	tick(quiet, busy, behind)
	mwPut(s, "x", "2") // future's start revision reached
	tick(quiet, busy, behind, future)
}

// Close must not hang while a Watch or Cancel of the same stream waits for room to queue its
// Created or Canceled response: the wait is documented to give up when the stream closes,
// as etcd's recvLoop gives up on closec.
func TestHubCloseWhileResponseBlocked(t *testing.T) {
	tests := []struct {
		name  string
		block func(t *testing.T, s *Store, ws *WatchStream) func()
	}{
		{"watch", func(t *testing.T, s *Store, ws *WatchStream) func() {
			if _, err := ws.Watch(WatchRequest{Key: []byte("a")}); err != nil { // fills the stream
				t.Fatal(err)
			}
			return func() { _, _ = ws.Watch(WatchRequest{Key: []byte("b")}) }
		}},
		{"cancel", func(t *testing.T, s *Store, ws *WatchStream) func() {
			id := mwWatch(t, ws, WatchRequest{Key: []byte("a")})
			mwPut(s, "a", "fills the stream")
			return func() { ws.Cancel(id) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mwStore(t, WatchConfig{StreamBuffer: 1})
			ws := s.NewWatchStream()
			op := tt.block(t, s, ws)
			opDone := make(chan struct{})
			go func() { op(); close(opDone) }()
			mwWaitFor(t, "the operation to block", func() bool {
				if ws.mu.TryLock() {
					ws.mu.Unlock()
					return false
				}
				return true
			})
			closeDone := make(chan struct{})
			go func() { ws.Close(); close(closeDone) }()
			select {
			case <-closeDone:
			case <-time.After(mwTimeout):
				t.Errorf("Close still blocked after %v behind a %s waiting for room", mwTimeout, tt.name)
			}
			// Unblock whatever is stuck, so the test leaves nothing behind.
			for {
				select {
				case <-ws.Chan():
					continue
				case <-time.After(10 * time.Millisecond):
				}
				select {
				case <-opDone:
				default:
					continue
				}
				select {
				case <-closeDone:
				default:
					continue
				}
				break
			}
		})
	}
}

// A randomized run: one writer, slow readers on small buffers, watchers created during the
// writes from the past and from now, and compactions. Every watcher must see exactly the
// matching history from its start, in order, atomically per revision, with correct prev_kv;
// one overtaken by compaction must see an unbroken prefix and then the compaction cancel.
func TestHubRandomized(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	s := mwStore(t, WatchConfig{StreamBuffer: 3, RetryInterval: time.Millisecond, BatchRevs: 25, MaxWatchersPerSync: 4})
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}

	type change struct {
		ev   kv.Event // with the expected PrevKv for non-creations
		prev *kv.KeyValue
	}
	var (
		histMu sync.Mutex
		hist   []change // in revision order
	)
	liveKV := map[string]kv.KeyValue{}
	write := func(i int) {
		key := keys[rng.Intn(len(keys))]
		prev, live := liveKV[key]
		var c change
		if live && rng.Intn(4) == 0 {
			rev := mwDelete(s, key, nil)
			c = change{ev: kv.Event{Type: kv.DELETE, Kv: kv.KeyValue{Key: []byte(key), ModRevision: rev}}}
			p := prev
			c.prev = &p
			delete(liveKV, key)
		} else {
			val := fmt.Sprintf("v%d", i)
			rev := mwPut(s, key, val)
			nkv := kv.KeyValue{Key: []byte(key), Value: []byte(val), ModRevision: rev, CreateRevision: rev, Version: 1}
			if live {
				nkv.CreateRevision, nkv.Version = prev.CreateRevision, prev.Version+1
				p := prev
				c.prev = &p
			}
			c.ev = kv.Event{Type: kv.PUT, Kv: nkv}
			liveKV[key] = nkv
		}
		histMu.Lock()
		hist = append(hist, c)
		histMu.Unlock()
	}

	type watchRec struct {
		req     WatchRequest
		created int64
		resps   []WatchResponse
	}
	type streamRec struct {
		ws   *WatchStream
		mu   sync.Mutex
		recs map[WatchID]*watchRec
		all  []WatchResponse
	}
	var streams []*streamRec
	stopReaders := make(chan struct{})
	var readers sync.WaitGroup
	for i := range 4 {
		sr := &streamRec{ws: mwStream(t, s), recs: map[WatchID]*watchRec{}}
		streams = append(streams, sr)
		readers.Add(1)
		slow := time.Duration(i) * 50 * time.Microsecond
		if i == 3 {
			slow = 2 * time.Millisecond // this one gets overtaken by compactions
		}
		go func() {
			defer readers.Done()
			for {
				select {
				case r := <-sr.ws.Chan():
					sr.mu.Lock()
					sr.all = append(sr.all, r)
					sr.mu.Unlock()
					if slow > 0 && rand.Intn(8) == 0 {
						time.Sleep(slow)
					}
				case <-stopReaders:
					return
				}
			}
		}()
	}
	newWatch := func() {
		sr := streams[rng.Intn(len(streams))]
		req := WatchRequest{PrevKV: rng.Intn(2) == 0, NoDelete: rng.Intn(5) == 0}
		switch rng.Intn(3) {
		case 0:
			req.Key = []byte(keys[rng.Intn(len(keys))])
		case 1:
			req.Key, req.End = []byte("k2"), []byte("k5")
		case 2:
			req.Key, req.End = []byte("k"), []byte{}
		}
		switch cur := s.Rev(); rng.Intn(3) {
		case 0: // from now
		case 1: // recent history
			req.StartRev = cur - int64(rng.Intn(int(min(cur, 60))))
		case 2: // anywhere, possibly compacted already
			req.StartRev = 1 + rng.Int63n(cur)
		}
		id, err := sr.ws.Watch(req)
		if err != nil {
			t.Errorf("watch: %v", err)
			return
		}
		sr.mu.Lock()
		sr.recs[id] = &watchRec{req: req}
		sr.mu.Unlock()
	}

	var maxCompact int64
	for i := range 3000 {
		write(i)
		if i%8 == 0 {
			time.Sleep(50 * time.Microsecond) // let the readers keep up, mostly
		}
		if i%40 == 0 {
			newWatch()
		}
		if i%500 == 499 {
			c := s.Rev() - 300 - int64(rng.Intn(300))
			if c > maxCompact {
				if err := s.Compact(c); err != nil {
					t.Fatal(err)
				}
				maxCompact = c
			}
		}
	}
	final := s.Rev()

	// expected returns the matching history of rec from its start.
	matches := func(req WatchRequest, key []byte) bool {
		w := &watcher{key: req.Key, end: req.End}
		return w.contains(key)
	}
	expected := func(rec *watchRec, start int64) []change {
		var out []change
		for _, c := range hist {
			if c.ev.Kv.ModRevision < start || !matches(rec.req, c.ev.Kv.Key) {
				continue
			}
			if rec.req.NoDelete && c.ev.Type == kv.DELETE {
				continue
			}
			out = append(out, c)
		}
		return out
	}
	// Sort responses to watchers, and wait until every watcher is done: it saw its last
	// expected event, or it was cancelled.
	split := func() bool {
		complete := true
		for _, sr := range streams {
			sr.mu.Lock()
			for _, rec := range sr.recs {
				rec.resps, rec.created = nil, 0
			}
			for _, r := range sr.all {
				if rec := sr.recs[r.WatchID]; rec != nil {
					rec.resps = append(rec.resps, r)
				}
			}
			for _, rec := range sr.recs {
				if len(rec.resps) == 0 {
					complete = false
					continue
				}
				rec.created = rec.resps[0].Revision
				lastResp := rec.resps[len(rec.resps)-1]
				if lastResp.Canceled {
					continue
				}
				start := rec.req.StartRev
				if start == 0 {
					start = rec.created + 1
				}
				exp := expected(rec, start)
				if len(exp) == 0 {
					continue
				}
				want := exp[len(exp)-1].ev.Kv.ModRevision
				if len(lastResp.Events) == 0 || lastResp.Events[len(lastResp.Events)-1].Kv.ModRevision < want {
					complete = false
				}
			}
			sr.mu.Unlock()
		}
		return complete
	}
	mwWaitFor(t, "every watcher to finish", split)
	time.Sleep(mwQuiet) // anything extra would arrive now
	split()
	close(stopReaders)
	readers.Wait()

	nw, ncancel := 0, 0
	for si, sr := range streams {
		for id, rec := range sr.recs {
			nw++
			name := fmt.Sprintf("stream %d watch %d %+v", si, id, rec.req)
			if !rec.resps[0].Created || rec.resps[0].Canceled {
				t.Fatalf("%s: first response %s", name, mwFmt(rec.resps[0]))
			}
			start := rec.req.StartRev
			if start == 0 {
				start = rec.created + 1
			}
			exp := expected(rec, start)
			var got []kv.Event
			cancelled := int64(0)
			lastRev := int64(0)
			for i, r := range rec.resps[1:] {
				if r.Created || cancelled != 0 {
					t.Fatalf("%s: unexpected response %d: %s", name, i+1, mwFmt(r))
				}
				if r.Canceled {
					if r.CompactRevision == 0 || r.Revision != 0 || len(r.Events) != 0 {
						t.Fatalf("%s: bad cancel %s", name, mwFmt(r))
					}
					cancelled = r.CompactRevision
					continue
				}
				if len(r.Events) == 0 || r.Events[0].Kv.ModRevision <= lastRev {
					t.Fatalf("%s: response %s after revision %d (empty, split or duplicate)", name, mwFmt(r), lastRev)
				}
				lastRev = r.Events[len(r.Events)-1].Kv.ModRevision
				got = append(got, r.Events...)
			}
			if cancelled != 0 {
				ncancel++
				if cancelled > maxCompact || (start >= cancelled && len(got) == 0) {
					t.Fatalf("%s: cancelled at compact revision %d (max %d) with start %d", name, cancelled, maxCompact, start)
				}
				if len(got) > 0 && lastRev+1 >= cancelled {
					t.Fatalf("%s: cancelled by compaction at %d although it had reached %d", name, cancelled, lastRev)
				}
				if len(got) > len(exp) {
					t.Fatalf("%s: more events than the history", name)
				}
				exp = exp[:len(got)]
			}
			if len(got) != len(exp) {
				t.Fatalf("%s: want %d events, got %d (final %d)", name, len(exp), len(got), final)
			}
			for i := range exp {
				g, w := got[i], exp[i]
				gp := g.PrevKv
				g.PrevKv = nil
				if !reflect.DeepEqual(g, w.ev) {
					t.Fatalf("%s: event %d: want %+v, got %+v", name, i, w.ev, g)
				}
				switch {
				case !rec.req.PrevKV || w.prev == nil:
					if gp != nil {
						t.Fatalf("%s: event %d: unexpected prev_kv %+v", name, i, gp)
					}
				case gp == nil:
					// Allowed only if compaction removed the previous version.
					if w.prev.ModRevision >= maxCompact {
						t.Fatalf("%s: event %d at %d: missing prev_kv (prev at %d, compacted up to %d)", name, i, w.ev.Kv.ModRevision, w.prev.ModRevision, maxCompact)
					}
				case !reflect.DeepEqual(*gp, *w.prev):
					t.Fatalf("%s: event %d: prev_kv %+v, want %+v", name, i, *gp, *w.prev)
				}
			}
		}
	}
	t.Logf("%d watchers, %d cancelled by compaction, %d revisions", nw, ncancel, final)
}
