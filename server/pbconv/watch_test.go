package pbconv

import (
	"fmt"
	"testing"

	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
)

func TestWatchResponsesFragments(t *testing.T) {
	r := &mvcc.WatchResponse{WatchID: 3, Revision: 12}
	for i := 0; i < 10; i++ {
		r.Events = append(r.Events, kv.Event{Kv: kv.KeyValue{Key: []byte(fmt.Sprint("k", i)), Value: make([]byte, 250000), ModRevision: int64(i + 2)}})
	}
	const limit = 800000
	if got := WatchResponses(r, &Header{}, limit, nil); len(got) != 1 {
		t.Fatalf("a watcher that did not ask for fragments got %d messages", len(got))
	}
	r.Fragment = true
	got := WatchResponses(r, &Header{}, limit, nil)
	if len(got) < 3 {
		t.Fatalf("%d messages, want the 2.5 MB split under %d bytes", len(got), limit)
	}
	n := 0
	for i, m := range got {
		if m.Size() > limit {
			t.Errorf("message %d is %d bytes", i, m.Size())
		}
		if m.Fragment != (i < len(got)-1) || m.WatchId != 3 || m.Header.Revision != 12 {
			t.Errorf("message %d: fragment=%v id=%d rev=%d", i, m.Fragment, m.WatchId, m.Header.Revision)
		}
		n += len(m.Events)
	}
	if n != 10 {
		t.Fatalf("%d events in all, want 10", n)
	}
	// A single event larger than the limit still goes, whole.
	r.Events = r.Events[:1]
	if got := WatchResponses(r, &Header{}, 1000, nil); len(got) != 1 || got[0].Fragment {
		t.Fatalf("one large event: %d messages", len(got))
	}
}

// TestEventCache: the events of a slice already converted for the stream are converted once
// (the hub hands every watcher that keeps all events the same slice); another slice, even
// with the same contents, is converted anew, and each response converts what it was given.
func TestEventCache(t *testing.T) {
	evs := []kv.Event{{Type: kv.PUT, Kv: kv.KeyValue{Key: []byte("k"), Value: []byte("v1"), ModRevision: 5}}}
	var c EventCache
	a := WatchResponses(&mvcc.WatchResponse{WatchID: 1, Revision: 5, Events: evs}, &Header{}, 1<<20, &c)[0]
	b := WatchResponses(&mvcc.WatchResponse{WatchID: 2, Revision: 5, Events: evs}, &Header{}, 1<<20, &c)[0]
	if a.Events[0] != b.Events[0] || a.WatchId != 1 || b.WatchId != 2 {
		t.Fatalf("the same slice for two watchers: events %p and %p, watch IDs %d and %d", a.Events[0], b.Events[0], a.WatchId, b.WatchId)
	}
	next := []kv.Event{{Type: kv.DELETE, Kv: kv.KeyValue{Key: []byte("k"), ModRevision: 6}}}
	d := WatchResponses(&mvcc.WatchResponse{WatchID: 1, Revision: 6, Events: next}, &Header{}, 1<<20, &c)[0]
	if d.Events[0] == a.Events[0] || d.Events[0].Type != 1 || d.Events[0].Kv.ModRevision != 6 {
		t.Fatalf("a new revision's event came back as %v", d.Events[0])
	}
	same := append([]kv.Event(nil), next...)
	e := WatchResponses(&mvcc.WatchResponse{WatchID: 1, Revision: 6, Events: same}, &Header{}, 1<<20, &c)[0]
	if e.Events[0] == d.Events[0] || string(e.Events[0].Kv.Key) != "k" {
		t.Fatal("another slice with the same contents was not converted anew")
	}
}
