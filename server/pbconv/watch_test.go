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
	if got := WatchResponses(r, &Header{}, limit); len(got) != 1 {
		t.Fatalf("a watcher that did not ask for fragments got %d messages", len(got))
	}
	r.Fragment = true
	got := WatchResponses(r, &Header{}, limit)
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
	if got := WatchResponses(r, &Header{}, 1000); len(got) != 1 || got[0].Fragment {
		t.Fatalf("one large event: %d messages", len(got))
	}
}
