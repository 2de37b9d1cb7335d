package mvcc

import (
	"bytes"
	"reflect"
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
