package mvcc

import (
	"bytes"
	"math/rand"
	"reflect"
	"sync"
	"testing"

	"github.com/metastore/metastore/core/backend"
)

// mwClone returns a store holding s's history, restored from its snapshot stream: what a
// member installs from its leader.
func mwClone(t *testing.T, s *Store) *Store {
	t.Helper()
	var buf bytes.Buffer
	if err := s.View().Encode(&buf); err != nil {
		t.Fatal(err)
	}
	b := backend.NewMemory()
	if err := RestoreSnapshot(&buf, b); err != nil {
		t.Fatal(err)
	}
	to, err := New(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(to.Close)
	return to
}

func mwStreams(s *Store) int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.streams)
}

// TestMoveWatchStreams moves streams from a store to one that replaces it and is ahead of
// it: a synced watcher, a victim (its undelivered response is replayed from the new
// store's history, after what its stream already holds: no gap, no duplicate), a stream with
// no watcher yet, and a stream opened on the old store after the move all go on with the
// new store's events.
func TestMoveWatchStreams(t *testing.T) {
	from := mwManualStore(t, WatchConfig{StreamBuffer: 2, BatchRevs: 1})
	r2, r3, r4 := mwPut(from, "k", "1"), mwPut(from, "k", "2"), mwPut(from, "k", "3")

	synced := mwStream(t, from)
	a := mwWatch(t, synced, WatchRequest{Key: []byte("k")})
	behind := mwStream(t, from)
	v := mwWatch(t, behind, WatchRequest{Key: []byte("k"), StartRev: r2})
	for range 3 {
		from.hub.catchUp() // one revision a pass: r2 and r3 fill the stream, r4 is held
	}
	if st, _ := mwWatcherState(from, behind, v); st != stateVictim {
		t.Fatalf("the watcher behind is in state %d, want a victim", st)
	}
	empty := mwStream(t, from)

	to := mwClone(t, from)
	r5, r6 := mwPut(to, "k", "4"), mwPut(to, "j", "1")
	from.MoveWatchStreams(to)
	if got := mwState(from); got != (mwHubState{}) || mwStreams(from) != 0 {
		t.Fatalf("the old store still holds watchers %+v or %d streams", got, mwStreams(from))
	}
	late := mwStream(t, from) // opened on the old store after the move
	l := mwWatch(t, late, WatchRequest{Key: []byte("k")})
	j := mwWatch(t, empty, WatchRequest{Key: []byte("j"), StartRev: r6})
	if n := mwStreams(to); n != 4 {
		t.Fatalf("the new store holds %d streams, want 4", n)
	}

	r7 := mwPut(to, "k", "5")
	// History comes in batches: compare each watcher's revisions, not its responses.
	want := map[*WatchStream][]int64{
		synced: {r5, r7},
		behind: {r2, r3, r4, r5, r7},
		empty:  {r6},
		late:   {r7},
	}
	ids := map[*WatchStream]WatchID{synced: a, behind: v, empty: j, late: l}
	for ws, revs := range want {
		var got []int64
		for len(got) < len(revs) {
			r := mwRecv(t, ws)
			if r.WatchID != ids[ws] || len(r.Events) == 0 {
				t.Fatalf("watcher %d: got %s", ids[ws], mwFmt(r))
			}
			got = append(got, mwRevs(r.Events)...)
		}
		if !reflect.DeepEqual(got, revs) {
			t.Fatalf("watcher %d: events at %v, want %v", ids[ws], got, revs)
		}
	}
	for ws := range want {
		ws.Close()
	}
	if n := mwStreams(to); n != 0 {
		t.Fatalf("closed streams still registered: %d", n)
	}
	if got := mwState(to); got != (mwHubState{}) {
		t.Fatalf("closed streams left watchers: %+v", got)
	}
}

// TestMoveWatchStreamsNotHeldByReaders: a stream whose reader stopped reading holds its lock
// while a Watch waits for room; moving it must not wait for that reader (the member's
// applier moves streams). The waiting Watch's watcher then lands on the new store.
func TestMoveWatchStreamsNotHeldByReaders(t *testing.T) {
	from := mwStore(t, WatchConfig{StreamBuffer: 1})
	ws := mwStream(t, from)
	if _, err := ws.Watch(WatchRequest{Key: []byte("a")}); err != nil { // its Created fills the buffer
		t.Fatal(err)
	}
	created := make(chan WatchID, 1)
	go func() { id, _ := ws.Watch(WatchRequest{Key: []byte("b")}); created <- id }() // waits for room
	to := mwClone(t, from)
	// The stream's lock is held during the move: by the waiting Watch, or else by the test.
	mine := ws.mu.TryLock()
	from.MoveWatchStreams(to)
	if mine {
		ws.mu.Unlock()
	}

	if r := mwRecv(t, ws); !r.Created { // a's
		t.Fatalf("want a's Created, got %s", mwFmt(r))
	}
	b := <-created
	if r := mwRecv(t, ws); !r.Created || r.WatchID != b {
		t.Fatalf("want b's Created, got %s", mwFmt(r))
	}
	rb := mwPut(to, "b", "1")
	ra := mwPut(to, "a", "1")
	for _, want := range []int64{rb, ra} {
		if r := mwRecv(t, ws); len(r.Events) != 1 || r.Events[0].Kv.ModRevision != want {
			t.Fatalf("want the event at %d from the new store, got %s", want, mwFmt(r))
		}
	}
	if got := mwState(from); got != (mwHubState{}) {
		t.Fatalf("the old store holds watchers: %+v", got)
	}
	// Moving a store onto itself changes nothing.
	to.MoveWatchStreams(to)
	rb = mwPut(to, "b", "2")
	if r := mwRecv(t, ws); len(r.Events) != 1 || r.Events[0].Kv.ModRevision != rb {
		t.Fatalf("after a move onto itself: %s", mwFmt(r))
	}
}

// TestMoveWatchStreamsRace moves streams while their owners create, cancel, ask for
// progress and close, and checks every live watcher ends on the new store with its events in
// order (run with -race).
func TestMoveWatchStreamsRace(t *testing.T) {
	for round := range 20 {
		from := mwStore(t, WatchConfig{StreamBuffer: 4})
		mwPut(from, "k", "0")
		to := mwClone(t, from)
		var wg sync.WaitGroup
		streams := make([]*WatchStream, 4)
		for i := range streams {
			streams[i] = mwStream(t, from)
			wg.Add(1)
			go func(ws *WatchStream, seed int64) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(seed))
				var ids []WatchID
				for range 30 {
					switch rng.Intn(4) {
					case 0, 1:
						if id, err := ws.Watch(WatchRequest{Key: []byte("k")}); err == nil {
							ids = append(ids, id)
						}
					case 2:
						if len(ids) > 0 {
							ws.Cancel(ids[0])
							ids = ids[1:]
						}
					case 3:
						ws.RequestProgress()
					}
				}
			}(streams[i], int64(round*10+i))
			go func(ws *WatchStream) { // a reader that keeps up
				for {
					select {
					case <-ws.Chan():
					case <-ws.Done():
						return
					}
				}
			}(streams[i])
		}
		from.MoveWatchStreams(to)
		wg.Wait()
		if got := mwState(from); got != (mwHubState{}) {
			t.Fatalf("round %d: the old store holds watchers: %+v", round, got)
		}
		live := 0
		for _, ws := range streams {
			ws.mu.Lock()
			for _, w := range ws.watchers {
				if !w.done.Load() {
					live++
				}
			}
			ws.mu.Unlock()
		}
		if got := to.Watchers(); got != live {
			t.Fatalf("round %d: the new store has %d watchers, the streams %d live ones", round, got, live)
		}
		for _, ws := range streams {
			ws.Close()
		}
		if got := to.Watchers(); got != 0 || mwStreams(to) != 0 {
			t.Fatalf("round %d: closed streams left %d watchers, %d streams", round, got, mwStreams(to))
		}
	}
}
