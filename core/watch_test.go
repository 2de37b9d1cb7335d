package core

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/kv"
	"github.com/metastore/metastore/core/mvcc"
)

// Timing of the watch tests: every wait for something that must arrive has a generous
// deadline; "nothing arrives" is checked with a short quiet period.
const (
	wtTimeout = 30 * time.Second
	wtQuiet   = 150 * time.Millisecond
)

// ---------------------------------------------------------------------------------------
// helpers

func wtStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// wtStream opens a stream that is closed when the test ends.
func wtStream(t testing.TB, s *Store) *WatchStream {
	t.Helper()
	ws := s.NewWatchStream()
	t.Cleanup(ws.Close)
	return ws
}

func wtPut(t testing.TB, s *Store, key, val string) int64 {
	t.Helper()
	resp, err := s.Put(&PutRequest{Key: []byte(key), Value: []byte(val)})
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return resp.Header.Revision
}

func wtPutLease(t testing.TB, s *Store, key, val string, lease int64) int64 {
	t.Helper()
	resp, err := s.Put(&PutRequest{Key: []byte(key), Value: []byte(val), Lease: lease})
	if err != nil {
		t.Fatalf("put %q with lease %d: %v", key, lease, err)
	}
	return resp.Header.Revision
}

// wtDelete deletes [key, end) (end as in etcd: "" one key, "\x00" from key on).
func wtDelete(t testing.TB, s *Store, key, end string) int64 {
	t.Helper()
	req := &DeleteRangeRequest{Key: []byte(key)}
	if end != "" {
		req.RangeEnd = []byte(end)
	}
	resp, err := s.DeleteRange(req)
	if err != nil {
		t.Fatalf("delete %q..%q: %v", key, end, err)
	}
	return resp.Header.Revision
}

func wtPutOp(key, val string) RequestOp {
	return RequestOp{Put: &PutRequest{Key: []byte(key), Value: []byte(val)}}
}

func wtDelOp(key, end string) RequestOp {
	req := &DeleteRangeRequest{Key: []byte(key)}
	if end != "" {
		req.RangeEnd = []byte(end)
	}
	return RequestOp{DeleteRange: req}
}

func wtTxn(t testing.TB, s *Store, ops ...RequestOp) int64 {
	t.Helper()
	resp, err := s.Txn(&TxnRequest{Success: ops})
	if err != nil {
		t.Fatalf("txn: %v", err)
	}
	return resp.Header.Revision
}

func wtCompact(t testing.TB, s *Store, rev int64) {
	t.Helper()
	if _, err := s.Compact(&CompactionRequest{Revision: rev}); err != nil {
		t.Fatalf("compact %d: %v", rev, err)
	}
}

// wtRecv returns the next response on ws, failing the test after wtTimeout.
func wtRecv(t testing.TB, ws *WatchStream) mvcc.WatchResponse {
	t.Helper()
	timer := time.NewTimer(wtTimeout)
	defer timer.Stop()
	select {
	case r := <-ws.Chan():
		return r
	case <-timer.C:
		t.Fatalf("no watch response within %v", wtTimeout)
		panic("unreachable")
	}
}

// wtNone checks that nothing arrives on ws for a short while.
func wtNone(t testing.TB, ws *WatchStream) {
	t.Helper()
	select {
	case r := <-ws.Chan():
		t.Fatalf("unexpected watch response: %s", wtFmtResp(r))
	case <-time.After(wtQuiet):
	}
}

// wtWatch creates a watcher and consumes its Created response, checking it.
func wtWatch(t testing.TB, ws *WatchStream, req *WatchCreateRequest) mvcc.WatchID {
	t.Helper()
	id := wtCreate(t, ws, req)
	r := wtRecv(t, ws)
	if !r.Created || r.Canceled || r.WatchID != id || r.Err != nil || len(r.Events) != 0 || r.CompactRevision != 0 {
		t.Fatalf("want a plain created response for watch %d, got %s", id, wtFmtResp(r))
	}
	return id
}

// wtCreate creates a watcher without reading its created response.
func wtCreate(t testing.TB, ws *WatchStream, req *WatchCreateRequest) mvcc.WatchID {
	t.Helper()
	id, err := ws.Create(req)
	if err != nil {
		t.Fatalf("create %+v: %v", req, err)
	}
	return id
}

// wtEvents reads responses of watcher id until n events arrived and returns them. Every
// response must belong to id and carry events.
func wtEvents(t testing.TB, ws *WatchStream, id mvcc.WatchID, n int) ([]kv.Event, []mvcc.WatchResponse) {
	t.Helper()
	var evs []kv.Event
	var resps []mvcc.WatchResponse
	for len(evs) < n {
		r := wtRecv(t, ws)
		if r.WatchID != id || r.Created || r.Canceled || len(r.Events) == 0 {
			t.Fatalf("want events for watch %d (have %d of %d), got %s", id, len(evs), n, wtFmtResp(r))
		}
		evs = append(evs, r.Events...)
		resps = append(resps, r)
	}
	if len(evs) != n {
		t.Fatalf("want %d events for watch %d, got %d: %s", n, id, len(evs), wtFmtEvents(evs))
	}
	return evs, resps
}

func wtFmtEvent(e kv.Event) string {
	s := fmt.Sprintf("%s %q@%d", e.Type, e.Kv.Key, e.Kv.ModRevision)
	if e.Type == kv.PUT {
		s += fmt.Sprintf("{c%d v%d %q l%d}", e.Kv.CreateRevision, e.Kv.Version, e.Kv.Value, e.Kv.Lease)
	}
	if e.PrevKv != nil {
		s += fmt.Sprintf(" prev=%q@%d{%q}", e.PrevKv.Key, e.PrevKv.ModRevision, e.PrevKv.Value)
	}
	return s
}

func wtFmtEvents(evs []kv.Event) string {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = wtFmtEvent(e)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func wtFmtResp(r mvcc.WatchResponse) string {
	return fmt.Sprintf("{id=%d rev=%d created=%v canceled=%v compact=%d err=%v fragment=%v events=%s}",
		r.WatchID, r.Revision, r.Created, r.Canceled, r.CompactRevision, r.Err, r.Fragment, wtFmtEvents(r.Events))
}

// wtShort renders events as "PUT a@5" for compact table comparisons.
func wtShort(evs []kv.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%s %s@%d", e.Type, e.Kv.Key, e.Kv.ModRevision)
	}
	return out
}

func wtKV(key, val string, create, mod, ver int64) kv.KeyValue {
	return kv.KeyValue{Key: []byte(key), Value: []byte(val), CreateRevision: create, ModRevision: mod, Version: ver}
}

func wtPutEv(key, val string, create, mod, ver int64) kv.Event {
	return kv.Event{Type: kv.PUT, Kv: wtKV(key, val, create, mod, ver)}
}

func wtDelEv(key string, mod int64) kv.Event {
	return kv.Event{Type: kv.DELETE, Kv: kv.KeyValue{Key: []byte(key), ModRevision: mod}}
}

func wtWithPrev(e kv.Event, prev kv.KeyValue) kv.Event {
	e.PrevKv = &prev
	return e
}

func wtEventsEqual(a, b []kv.Event) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(wtNormEvent(a[i]), wtNormEvent(b[i])) {
			return false
		}
	}
	return true
}

// wtNormEvent makes empty and nil byte slices compare equal.
func wtNormEvent(e kv.Event) kv.Event {
	norm := func(k kv.KeyValue) kv.KeyValue {
		if len(k.Key) == 0 {
			k.Key = nil
		}
		if len(k.Value) == 0 {
			k.Value = nil
		}
		return k
	}
	e.Kv = norm(e.Kv)
	if e.PrevKv != nil {
		p := norm(*e.PrevKv)
		e.PrevKv = &p
	}
	return e
}

// wtWaitFor polls cond until it holds or wtTimeout passes.
func wtWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wtTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// wtCollector drains a stream in the background, keeping every response in arrival order.
type wtCollector struct {
	mu    sync.Mutex
	resps []mvcc.WatchResponse
	done  chan struct{}
}

func wtCollect(ws *WatchStream) *wtCollector {
	c := &wtCollector{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			select {
			case r := <-ws.Chan():
				c.mu.Lock()
				c.resps = append(c.resps, r)
				c.mu.Unlock()
			case <-ws.Done():
				return
			}
		}
	}()
	return c
}

func (c *wtCollector) snapshot() []mvcc.WatchResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]mvcc.WatchResponse(nil), c.resps...)
}

// eventsOf returns the events collected for watcher id.
func (c *wtCollector) eventsOf(id mvcc.WatchID) []kv.Event {
	var evs []kv.Event
	for _, r := range c.snapshot() {
		if r.WatchID == id {
			evs = append(evs, r.Events...)
		}
	}
	return evs
}

// ---------------------------------------------------------------------------------------
// create

func TestWatchCreatedResponseAndIDs(t *testing.T) {
	tests := []struct {
		name string
		// ids are the requested watch IDs in order (0 = auto); -1 means "cancel the watcher
		// created just before".
		ids  []int64
		want []mvcc.WatchID // the ID each create gets (cancel steps skipped)
	}{
		{"auto ids count from 0", []int64{0, 0, 0}, []mvcc.WatchID{0, 1, 2}},
		{"user id then auto skips it", []int64{1, 0, 0, 0}, []mvcc.WatchID{1, 0, 2, 3}},
		{"large user ids", []int64{7, 100, 0, 0}, []mvcc.WatchID{7, 100, 0, 1}},
		{"auto after user id taken ahead", []int64{0, 2, 0, 0}, []mvcc.WatchID{0, 2, 1, 3}},
		{"auto never goes back after cancel", []int64{0, 0, -1, 0}, []mvcc.WatchID{0, 1, 2}},
		{"user id reusable after cancel", []int64{5, -1, 5}, []mvcc.WatchID{5, 5}},
	}
	s := wtStore(t, Config{})
	wtPut(t, s, "a", "1")
	wtPut(t, s, "b", "2")
	cur := wtPut(t, s, "c", "3")
	if cur != 4 {
		t.Fatalf("setup: want revision 4, got %d", cur)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := wtStream(t, s) // IDs are per stream: every stream starts at 0
			var got []mvcc.WatchID
			for _, id := range tt.ids {
				if id == -1 {
					last := got[len(got)-1]
					if !ws.Cancel(last) {
						t.Fatalf("cancel %d: false", last)
					}
					r := wtRecv(t, ws)
					if !r.Canceled || r.WatchID != last {
						t.Fatalf("want canceled response for %d, got %s", last, wtFmtResp(r))
					}
					continue
				}
				wid, err := ws.Create(&WatchCreateRequest{Key: []byte("z"), WatchID: id})
				if err != nil {
					t.Fatalf("create id %d: %v", id, err)
				}
				r := wtRecv(t, ws)
				want := wtCreated(wid, s.Rev())
				if !reflect.DeepEqual(r, want) {
					t.Fatalf("create id %d: want %s, got %s", id, wtFmtResp(want), wtFmtResp(r))
				}
				got = append(got, wid)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("want ids %v, got %v", tt.want, got)
			}
		})
	}
}

// wtCreated is the exact Created response a successful create gets.
func wtCreated(id mvcc.WatchID, rev int64) mvcc.WatchResponse {
	return mvcc.WatchResponse{WatchID: id, Revision: rev, Created: true}
}

// The Created response is queued before any event of its watcher, its header revision is
// the current revision at creation, and the watcher then sees every later revision: no
// event is lost between the created revision and the first event, even with writes racing
// the creation (clientv3 resumes from the created revision).
func TestWatchCreatedBeforeEventsUnderConcurrentWrites(t *testing.T) {
	s := wtStore(t, Config{})
	ws := wtStream(t, s)
	c := wtCollect(ws)

	stop := make(chan struct{})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Put(&PutRequest{Key: []byte("k"), Value: []byte(fmt.Sprint(i))}); err != nil {
				t.Errorf("put: %v", err)
				return
			}
			runtime.Gosched() // under js/wasm nothing else runs unless we yield
		}
	}()
	const n = 50
	ids := make([]mvcc.WatchID, n)
	for i := range ids {
		// Let some writes land between creates, so that creates race with writes.
		seen := s.Rev()
		wtWaitFor(t, "the writer to make progress", func() bool { return s.Rev() > seen })
		id, err := ws.Create(&WatchCreateRequest{Key: []byte("k")})
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		ids[i] = id
	}
	close(stop)
	<-writerDone
	final := wtPut(t, s, "k", "final") // every watcher sees at least this one

	wtWaitFor(t, "every watcher to see the final revision", func() bool {
		for _, id := range ids {
			evs := c.eventsOf(id)
			if len(evs) == 0 || evs[len(evs)-1].Kv.ModRevision < final {
				return false
			}
		}
		return true
	})
	resps := c.snapshot()
	for _, id := range ids {
		var created int64 = -1
		next := int64(-1)
		for _, r := range resps {
			if r.WatchID != id {
				continue
			}
			if created < 0 {
				if !r.Created || r.Canceled {
					t.Fatalf("watch %d: first response is not Created: %s", id, wtFmtResp(r))
				}
				created, next = r.Revision, r.Revision+1
				continue
			}
			if r.Created || r.Canceled {
				t.Fatalf("watch %d: unexpected %s", id, wtFmtResp(r))
			}
			for _, e := range r.Events {
				if e.Kv.ModRevision != next {
					t.Fatalf("watch %d created at %d: want event at %d, got %s", id, created, next, wtFmtEvent(e))
				}
				next++
			}
		}
		if next != final+1 {
			t.Fatalf("watch %d created at %d: events end at %d, want %d", id, created, next-1, final)
		}
	}
}

func TestWatchCreateErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup []*WatchCreateRequest // created successfully first, on the same stream
		req   *WatchCreateRequest
		want  error
	}{
		{"range end before key", nil, &WatchCreateRequest{Key: []byte("b"), RangeEnd: []byte("a")}, mvcc.ErrEmptyWatcherRange},
		{"range end equals key", nil, &WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("a")}, mvcc.ErrEmptyWatcherRange},
		{"range end below key at the byte level", nil, &WatchCreateRequest{Key: []byte("\x01"), RangeEnd: []byte("\x00\x01")}, mvcc.ErrEmptyWatcherRange},
		{"negative start revision", nil, &WatchCreateRequest{Key: []byte("a"), StartRevision: -1}, mvcc.ErrCompacted},
		{"very negative start revision", nil, &WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("b"), StartRevision: -100}, mvcc.ErrCompacted},
		{"duplicate user id", []*WatchCreateRequest{{Key: []byte("a"), WatchID: 5}}, &WatchCreateRequest{Key: []byte("b"), WatchID: 5}, mvcc.ErrWatcherDuplicateID},
		{"user id equal to an auto id", []*WatchCreateRequest{{Key: []byte("a")}, {Key: []byte("a")}}, &WatchCreateRequest{Key: []byte("b"), WatchID: 1}, mvcc.ErrWatcherDuplicateID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := wtStore(t, Config{})
			wtPut(t, s, "x", "1")
			ws := wtStream(t, s)
			var setupIDs []mvcc.WatchID
			for _, r := range tt.setup {
				setupIDs = append(setupIDs, wtWatch(t, ws, r))
			}
			id, err := ws.Create(tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("want error %v, got %v", tt.want, err)
			}
			if id != mvcc.InvalidWatchID {
				t.Fatalf("want id -1, got %d", id)
			}
			r := wtRecv(t, ws)
			want := mvcc.WatchResponse{WatchID: mvcc.InvalidWatchID, Revision: s.Rev(), Created: true, Canceled: true, Err: tt.want}
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("want %s, got %s", wtFmtResp(want), wtFmtResp(r))
			}
			if r.IsProgressNotify() {
				t.Fatalf("a failed create must not look like a progress notification")
			}
			// The failed create leaves nothing behind: the stream still works, the earlier
			// watchers still get exactly one response per event, and nothing else arrives.
			ok := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("c")})
			rev := wtPut(t, s, "a", "v")
			got := map[mvcc.WatchID]int{}
			for range len(setupIDs) + 1 {
				r := wtRecv(t, ws)
				if len(r.Events) != 1 || r.Revision != rev {
					t.Fatalf("want one event at %d, got %s", rev, wtFmtResp(r))
				}
				got[r.WatchID]++
			}
			for _, id := range append(setupIDs, ok) {
				if got[id] != 1 {
					t.Fatalf("watch %d got %d responses, want 1 (all: %v)", id, got[id], got)
				}
			}
			wtPut(t, s, "b", "v") // only the range watcher sees b
			if r := wtRecv(t, ws); r.WatchID != ok {
				t.Fatalf("want event for watch %d, got %s", ok, wtFmtResp(r))
			}
			wtNone(t, ws)
		})
	}
}

// ---------------------------------------------------------------------------------------
// key selection

func TestWatchKeySelection(t *testing.T) {
	keys := []string{"\x00", "a", "fo", "foo", "foo/bar", "foo1", "foo\xff", "fop", "zzz"}
	tests := []struct {
		name          string
		key, rangeEnd string
		want          []string
	}{
		{"single key", "foo", "", []string{"foo"}},
		{"prefix", "foo", "fop", []string{"foo", "foo/bar", "foo1", "foo\xff"}},
		{"range", "a", "foo1", []string{"a", "fo", "foo", "foo/bar"}},
		{"from key", "foo", "\x00", []string{"foo", "foo/bar", "foo1", "foo\xff", "fop", "zzz"}},
		{"empty key is \\x00", "", "", []string{"\x00"}},
		{"empty key from key is everything", "", "\x00", keys},
		{"\\x00 key from key is everything", "\x00", "\x00", keys},
		{"nothing matches", "b", "c", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := wtStore(t, Config{})
			ws := wtStream(t, s)
			req := &WatchCreateRequest{Key: []byte(tt.key)}
			if tt.rangeEnd != "" {
				req.RangeEnd = []byte(tt.rangeEnd)
			}
			id := wtWatch(t, ws, req)
			revOf := map[string]int64{}
			for _, k := range keys {
				revOf[k] = wtPut(t, s, k, "v-"+k)
			}
			evs, resps := wtEvents(t, ws, id, len(tt.want))
			for i, k := range tt.want {
				want := wtPutEv(k, "v-"+k, revOf[k], revOf[k], 1)
				if !wtEventsEqual([]kv.Event{evs[i]}, []kv.Event{want}) {
					t.Fatalf("event %d: want %s, got %s", i, wtFmtEvent(want), wtFmtEvent(evs[i]))
				}
				if resps[i].Revision != revOf[k] {
					t.Fatalf("event %d: header revision %d, want %d", i, resps[i].Revision, revOf[k])
				}
			}
			wtNone(t, ws)
		})
	}
}

// ---------------------------------------------------------------------------------------
// delivery

func TestWatchTxnEventsInOneResponse(t *testing.T) {
	s := wtStore(t, Config{})
	wtPut(t, s, "c", "c0")
	ws := wtStream(t, s)
	all := wtWatch(t, ws, &WatchCreateRequest{Key: []byte(""), RangeEnd: []byte("\x00")})
	onlyB := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("b")})
	prefixAtoC := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("c\x00")})
	none := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("nothing")})

	// Execution order, not key order: z, a, c (delete), b.
	rev := wtTxn(t, s, wtPutOp("z", "z1"), wtPutOp("a", "a1"), wtDelOp("c", ""), wtPutOp("b", "b1"))
	want := map[mvcc.WatchID][]kv.Event{
		all:        {wtPutEv("z", "z1", rev, rev, 1), wtPutEv("a", "a1", rev, rev, 1), wtDelEv("c", rev), wtPutEv("b", "b1", rev, rev, 1)},
		onlyB:      {wtPutEv("b", "b1", rev, rev, 1)},
		prefixAtoC: {wtPutEv("a", "a1", rev, rev, 1), wtDelEv("c", rev), wtPutEv("b", "b1", rev, rev, 1)},
	}
	for range len(want) {
		r := wtRecv(t, ws)
		w, ok := want[r.WatchID]
		if !ok {
			t.Fatalf("unexpected response %s (watch %d should see nothing)", wtFmtResp(r), none)
		}
		delete(want, r.WatchID)
		if r.Revision != rev || r.Created || r.Canceled || r.CompactRevision != 0 {
			t.Fatalf("want an event response at revision %d, got %s", rev, wtFmtResp(r))
		}
		if !wtEventsEqual(r.Events, w) {
			t.Fatalf("watch %d: want %s, got %s", r.WatchID, wtFmtEvents(w), wtFmtEvents(r.Events))
		}
	}
	wtNone(t, ws)
}

func TestWatchDeleteEventShape(t *testing.T) {
	s := wtStore(t, Config{})
	lg, err := s.LeaseGrant(&LeaseGrantRequest{TTL: 100, ID: 77})
	if err != nil {
		t.Fatal(err)
	}
	wtPutLease(t, s, "k1", "value-1", lg.ID)
	wtPut(t, s, "k2", "value-2")
	wtPut(t, s, "k2", "value-2b")
	wtPut(t, s, "k3", "value-3")
	ws := wtStream(t, s)
	id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l")})

	rev := wtDelete(t, s, "k1", "")
	evs, _ := wtEvents(t, ws, id, 1)
	if want := wtDelEv("k1", rev); !reflect.DeepEqual(evs[0], want) {
		t.Fatalf("want exactly %s (key and mod revision only), got %#v", wtFmtEvent(want), evs[0])
	}

	// A range delete: one response, the deleted keys in key order, each key and mod
	// revision only.
	rev = wtDelete(t, s, "k", "l")
	evs, resps := wtEvents(t, ws, id, 2)
	if len(resps) != 1 || resps[0].Revision != rev {
		t.Fatalf("want one response at %d, got %d responses", rev, len(resps))
	}
	for i, k := range []string{"k2", "k3"} {
		if want := wtDelEv(k, rev); !reflect.DeepEqual(evs[i], want) {
			t.Fatalf("event %d: want %s, got %#v", i, wtFmtEvent(want), evs[i])
		}
	}
	// Deleting nothing makes no revision and no event.
	wtDelete(t, s, "k", "l")
	wtNone(t, ws)
}

// prevKV fixtures: the history of keys j and k used by the prev_kv tests.
func wtPrevKVHistory(t *testing.T, s *Store) []kv.Event {
	t.Helper()
	r2 := wtPut(t, s, "k", "v1")                                                 // create
	r3 := wtPut(t, s, "k", "v2")                                                 // update
	r4 := wtDelete(t, s, "k", "")                                                // delete
	r5 := wtPut(t, s, "k", "v3")                                                 // re-create
	r6 := wtPut(t, s, "k", "v4")                                                 // update
	r7 := wtTxn(t, s, wtPutOp("k", "v5"), wtPutOp("j", "j1"))                    // update + create in one txn
	r8 := wtDelete(t, s, "j", "l")                                               // range delete of j and k
	r9 := wtTxn(t, s, wtPutOp("j", "j2"), wtPutOp("k", "v6"), wtPutOp("x", "x")) // creations only
	if r2 != 2 || r9 != 9 {
		t.Fatalf("setup: unexpected revisions %d..%d", r2, r9)
	}
	return []kv.Event{
		wtPutEv("k", "v1", r2, r2, 1),
		wtWithPrev(wtPutEv("k", "v2", r2, r3, 2), wtKV("k", "v1", r2, r2, 1)),
		wtWithPrev(wtDelEv("k", r4), wtKV("k", "v2", r2, r3, 2)),
		wtPutEv("k", "v3", r5, r5, 1),
		wtWithPrev(wtPutEv("k", "v4", r5, r6, 2), wtKV("k", "v3", r5, r5, 1)),
		wtWithPrev(wtPutEv("k", "v5", r5, r7, 3), wtKV("k", "v4", r5, r6, 2)),
		wtPutEv("j", "j1", r7, r7, 1),
		wtWithPrev(wtDelEv("j", r8), wtKV("j", "j1", r7, r7, 1)),
		wtWithPrev(wtDelEv("k", r8), wtKV("k", "v5", r5, r7, 3)),
		wtPutEv("j", "j2", r9, r9, 1),
		wtPutEv("k", "v6", r9, r9, 1),
	}
}

func TestWatchPrevKV(t *testing.T) {
	dropPrev := func(evs []kv.Event) []kv.Event {
		out := make([]kv.Event, len(evs))
		for i, e := range evs {
			e.PrevKv = nil
			out[i] = e
		}
		return out
	}
	onlyDeletes := func(evs []kv.Event) []kv.Event {
		var out []kv.Event
		for _, e := range evs {
			if e.Type == kv.DELETE {
				out = append(out, e)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		live   bool // watcher created before the writes; otherwise it replays them
		req    WatchCreateRequest
		expect func([]kv.Event) []kv.Event
	}{
		{"live prev_kv", true, WatchCreateRequest{PrevKv: true}, func(e []kv.Event) []kv.Event { return e }},
		{"replayed prev_kv", false, WatchCreateRequest{PrevKv: true, StartRevision: 2}, func(e []kv.Event) []kv.Event { return e }},
		{"live without prev_kv", true, WatchCreateRequest{}, dropPrev},
		{"replayed without prev_kv", false, WatchCreateRequest{StartRevision: 2}, dropPrev},
		{"live prev_kv with NOPUT", true, WatchCreateRequest{PrevKv: true, NoPut: true}, onlyDeletes},
		{"replayed prev_kv with NOPUT", false, WatchCreateRequest{PrevKv: true, NoPut: true, StartRevision: 1}, onlyDeletes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := wtStore(t, Config{})
			ws := wtStream(t, s)
			req := tt.req
			req.Key, req.RangeEnd = []byte("j"), []byte("l")
			var id mvcc.WatchID
			if tt.live {
				id = wtWatch(t, ws, &req)
			}
			hist := wtPrevKVHistory(t, s)
			if !tt.live {
				id = wtWatch(t, ws, &req)
			}
			want := tt.expect(hist)
			got, _ := wtEvents(t, ws, id, len(want))
			if !wtEventsEqual(got, want) {
				t.Fatalf("want\n  %s\ngot\n  %s", wtFmtEvents(want), wtFmtEvents(got))
			}
			wtNone(t, ws)
		})
	}
}

// A previous version that compaction removed is left out silently; the one kept at the
// compact revision is still attached.
func TestWatchPrevKVCompacted(t *testing.T) {
	s := wtStore(t, Config{})
	wtPut(t, s, "k", "a")       // 2
	r3 := wtPut(t, s, "k", "b") // 3
	wtCompact(t, s, r3)
	ws := wtStream(t, s)
	id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), PrevKv: true, StartRevision: r3})
	evs, _ := wtEvents(t, ws, id, 1)
	if want := wtPutEv("k", "b", 2, r3, 2); !wtEventsEqual(evs, []kv.Event{want}) {
		t.Fatalf("want %s (prev version compacted away), got %s", wtFmtEvent(want), wtFmtEvents(evs))
	}
	r4 := wtPut(t, s, "k", "c")
	evs, _ = wtEvents(t, ws, id, 1)
	want := wtWithPrev(wtPutEv("k", "c", 2, r4, 3), wtKV("k", "b", 2, r3, 2))
	if !wtEventsEqual(evs, []kv.Event{want}) {
		t.Fatalf("want %s, got %s", wtFmtEvent(want), wtFmtEvents(evs))
	}
}

func TestWatchFilters(t *testing.T) {
	// The history: each entry is one revision.
	write := func(t *testing.T, s *Store) {
		wtPut(t, s, "a", "1")                            // 2
		wtPut(t, s, "b", "1")                            // 3
		wtDelete(t, s, "a", "")                          // 4
		wtTxn(t, s, wtPutOp("c", "1"), wtDelOp("b", "")) // 5
		wtPut(t, s, "a", "2")                            // 6
		wtDelete(t, s, "a", "d")                         // 7: a and c
	}
	tests := []struct {
		name          string
		noPut, noDel  bool
		wantResponses [][]string // live: one entry per response
	}{
		{"no filter", false, false, [][]string{
			{"PUT a@2"}, {"PUT b@3"}, {"DELETE a@4"}, {"PUT c@5", "DELETE b@5"}, {"PUT a@6"}, {"DELETE a@7", "DELETE c@7"},
		}},
		{"NOPUT", true, false, [][]string{
			{"DELETE a@4"}, {"DELETE b@5"}, {"DELETE a@7", "DELETE c@7"},
		}},
		{"NODELETE", false, true, [][]string{
			{"PUT a@2"}, {"PUT b@3"}, {"PUT c@5"}, {"PUT a@6"},
		}},
		{"NOPUT and NODELETE", true, true, nil},
	}
	for _, tt := range tests {
		for _, live := range []bool{true, false} {
			name := tt.name + "/live"
			if !live {
				name = tt.name + "/replay"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				s := wtStore(t, Config{})
				ws := wtStream(t, s)
				req := &WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("z"), NoPut: tt.noPut, NoDelete: tt.noDel}
				if !live {
					req.StartRevision = 2
					write(t, s)
				}
				id := wtWatch(t, ws, req)
				if live {
					write(t, s)
				}
				var want []string
				for _, r := range tt.wantResponses {
					want = append(want, r...)
				}
				evs, resps := wtEvents(t, ws, id, len(want))
				if got := wtShort(evs); !slices.Equal(got, want) {
					t.Fatalf("want events %v, got %v", want, got)
				}
				if live {
					// One response per revision with matching events; a revision whose
					// events are all filtered sends nothing.
					var got [][]string
					for _, r := range resps {
						got = append(got, wtShort(r.Events))
						if r.Revision != r.Events[0].Kv.ModRevision {
							t.Fatalf("header revision %d, events at %d", r.Revision, r.Events[0].Kv.ModRevision)
						}
					}
					if !reflect.DeepEqual(got, tt.wantResponses) {
						t.Fatalf("want responses %v, got %v", tt.wantResponses, got)
					}
				}
				wtNone(t, ws)
			})
		}
	}
}

// ---------------------------------------------------------------------------------------
// history

// wtMixedHistory writes puts, deletes and multi-op txns, inside and outside prefix p/.
func wtMixedHistory(t *testing.T, s *Store) {
	wtPut(t, s, "p/a", "1")
	wtPut(t, s, "q/outside", "1")
	wtTxn(t, s, wtPutOp("p/c", "1"), wtPutOp("p/b", "1"), wtPutOp("q/x", "1"))
	wtPut(t, s, "p/a", "2")
	wtDelete(t, s, "p/b", "")
	wtTxn(t, s, wtDelOp("p/a", ""), wtPutOp("p/d", "1"))
	wtPut(t, s, "q/outside", "2")
	wtPut(t, s, "p/b", "again")
	wtDelete(t, s, "p/", "p0")
	wtPut(t, s, "p/e", "1")
	wtTxn(t, s, wtPutOp("p/f", "1"), wtPutOp("p/g", "1"))
}

func TestWatchHistoryReplay(t *testing.T) {
	s := wtStore(t, Config{})
	ref := wtStream(t, s)
	refID := wtWatch(t, ref, &WatchCreateRequest{Key: []byte("p/"), RangeEnd: []byte("p0"), PrevKv: true})
	wtMixedHistory(t, s)
	cur := s.Rev()
	// The live watcher's view is the reference history; count its events first.
	var all []kv.Event
	for {
		r := wtRecv(t, ref)
		if r.WatchID != refID {
			t.Fatalf("unexpected %s", wtFmtResp(r))
		}
		all = append(all, r.Events...)
		if r.Revision == cur {
			break
		}
	}
	wtNone(t, ref)

	type replay struct {
		start int64
		ws    *WatchStream
		id    mvcc.WatchID
	}
	var replays []replay
	for start := int64(1); start <= cur+1; start++ {
		ws := wtStream(t, s) // outlives the subtest: it is checked again below
		t.Run(fmt.Sprintf("start=%d", start), func(t *testing.T) {
			id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("p/"), RangeEnd: []byte("p0"), PrevKv: true, StartRevision: start})
			var want []kv.Event
			for _, e := range all {
				if e.Kv.ModRevision >= start {
					want = append(want, e)
				}
			}
			got, resps := wtEvents(t, ws, id, len(want))
			if !wtEventsEqual(got, want) {
				t.Fatalf("want\n  %s\ngot\n  %s", wtFmtEvents(want), wtFmtEvents(got))
			}
			for _, r := range resps {
				// Catch-up responses carry the revision caught up to (etcd: the current
				// revision); with less than BatchRevs of history that is cur.
				if r.Revision != cur {
					t.Fatalf("catch-up header revision %d, want %d", r.Revision, cur)
				}
			}
			replays = append(replays, replay{start, ws, id})
		})
	}
	// Every replaying watcher is live now: one new write, one response each, at its revision.
	rev := wtPut(t, s, "p/live", "x")
	for _, rp := range replays {
		evs, resps := wtEvents(t, rp.ws, rp.id, 1)
		if resps[0].Revision != rev || evs[0].Kv.ModRevision != rev {
			t.Fatalf("start %d: want live event at %d, got %s", rp.start, rev, wtFmtResp(resps[0]))
		}
	}
	time.Sleep(wtQuiet) // nothing more, on any stream
	for _, rp := range replays {
		if n := len(rp.ws.Chan()); n != 0 {
			t.Fatalf("start %d: %d unexpected responses, first %s", rp.start, n, wtFmtResp(<-rp.ws.Chan()))
		}
	}
}

func TestWatchFutureStartRevision(t *testing.T) {
	s := wtStore(t, Config{})
	cur := wtPut(t, s, "k", "0")
	ws := wtStream(t, s)
	id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), StartRevision: cur + 3})
	wtPut(t, s, "k", "1") // cur+1
	wtPut(t, s, "k", "2") // cur+2
	wtNone(t, ws)
	ws.RequestProgress() // waiting for a future revision: no progress answer
	wtNone(t, ws)
	r3 := wtPut(t, s, "k", "3")
	evs, resps := wtEvents(t, ws, id, 1)
	if r3 != cur+3 || resps[0].Revision != r3 || !wtEventsEqual(evs, []kv.Event{wtPutEv("k", "3", 2, r3, 4)}) {
		t.Fatalf("want the put at %d, got %s", cur+3, wtFmtResp(resps[0]))
	}
	ws.RequestProgress()
	if r := wtRecv(t, ws); !r.IsProgressNotify() || r.WatchID != mvcc.InvalidWatchID || r.Revision != r3 {
		t.Fatalf("want progress at %d, got %s", r3, wtFmtResp(r))
	}
	wtNone(t, ws)
}

// ---------------------------------------------------------------------------------------
// cancel

func TestWatchCancel(t *testing.T) {
	s := wtStore(t, Config{})
	wtPut(t, s, "k", "0")
	ws := wtStream(t, s)
	other := wtStream(t, s)
	id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
	keep := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), WatchID: 9})
	otherID := wtWatch(t, other, &WatchCreateRequest{Key: []byte("k"), WatchID: 3})

	tests := []struct {
		name string
		ws   *WatchStream
		id   mvcc.WatchID
		ok   bool
	}{
		{"unknown id", ws, 42, false},
		{"id of another stream", ws, otherID, false},
		{"invalid id", ws, mvcc.InvalidWatchID, false},
		{"live watcher", ws, id, true},
		{"already cancelled", ws, id, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ws.Cancel(tt.id); got != tt.ok {
				t.Fatalf("Cancel(%d) = %v, want %v", tt.id, got, tt.ok)
			}
			if !tt.ok {
				wtNone(t, tt.ws)
				return
			}
			r := wtRecv(t, tt.ws)
			want := mvcc.WatchResponse{WatchID: tt.id, Revision: s.Rev(), Canceled: true}
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("want %s, got %s", wtFmtResp(want), wtFmtResp(r))
			}
		})
	}
	// Nothing for the cancelled watcher after its Canceled response; the others go on.
	rev := wtPut(t, s, "k", "1")
	if r := wtRecv(t, ws); r.WatchID != keep || r.Revision != rev {
		t.Fatalf("want event for %d, got %s", keep, wtFmtResp(r))
	}
	if r := wtRecv(t, other); r.WatchID != otherID || r.Revision != rev {
		t.Fatalf("want event for %d on the other stream, got %s", otherID, wtFmtResp(r))
	}
	wtNone(t, ws)
	wtNone(t, other)
}

// A client cancel of a watcher that is behind (its stream was full) also ends it: its
// Canceled response comes after whatever it was sent, and nothing follows.
func TestWatchCancelSlowWatcher(t *testing.T) {
	s := wtStore(t, Config{Watch: mvcc.WatchConfig{StreamBuffer: 2}})
	ws := wtStream(t, s)
	id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
	first := s.Rev() + 1
	for i := range 20 {
		wtPut(t, s, "k", fmt.Sprint(i))
	}
	cancelled := make(chan bool, 1)
	go func() { cancelled <- ws.Cancel(id) }() // blocks until the Canceled response fits
	next := first
	for {
		r := wtRecv(t, ws)
		if r.WatchID != id {
			t.Fatalf("unexpected %s", wtFmtResp(r))
		}
		if r.Canceled {
			if r.Created || r.CompactRevision != 0 || len(r.Events) != 0 {
				t.Fatalf("bad cancel response %s", wtFmtResp(r))
			}
			break
		}
		for _, e := range r.Events {
			if e.Kv.ModRevision != next {
				t.Fatalf("want event at %d, got %s", next, wtFmtEvent(e))
			}
			next++
		}
	}
	select {
	case ok := <-cancelled:
		if !ok {
			t.Fatalf("Cancel returned false")
		}
	case <-time.After(wtTimeout):
		t.Fatalf("Cancel did not return")
	}
	wtPut(t, s, "k", "after")
	wtNone(t, ws)
}

// ---------------------------------------------------------------------------------------
// compaction

func TestWatchCompactionCancel(t *testing.T) {
	const compactAt = 6
	tests := []struct {
		start     int64
		cancelled bool
	}{
		{1, true}, {2, true}, {5, true}, {compactAt, false}, {compactAt + 1, false}, {10, false}, {11, false}, {0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("start=%d", tt.start), func(t *testing.T) {
			t.Parallel()
			s := wtStore(t, Config{})
			for i := 2; i <= 10; i++ {
				wtPut(t, s, "k", fmt.Sprintf("v%d", i))
			}
			wtCompact(t, s, compactAt)
			ws := wtStream(t, s)
			id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), StartRevision: tt.start})
			if tt.cancelled {
				r := wtRecv(t, ws)
				want := mvcc.WatchResponse{WatchID: id, Revision: 0, Canceled: true, CompactRevision: compactAt}
				if !reflect.DeepEqual(r, want) {
					t.Fatalf("want %s, got %s", wtFmtResp(want), wtFmtResp(r))
				}
				if r.IsProgressNotify() {
					t.Fatalf("compaction cancel looks like a progress notification")
				}
				wtPut(t, s, "k", "after")
				wtNone(t, ws)
				return
			}
			from := tt.start
			if from == 0 {
				from = 11 // from now: none of the history
			}
			var want []string
			for r := from; r <= 10; r++ {
				want = append(want, fmt.Sprintf("PUT k@%d", r))
			}
			evs, _ := wtEvents(t, ws, id, len(want))
			if got := wtShort(evs); !slices.Equal(got, want) {
				t.Fatalf("want %v, got %v", want, got)
			}
			wtNone(t, ws)
			rev := wtPut(t, s, "k", "after")
			if evs, _ := wtEvents(t, ws, id, 1); evs[0].Kv.ModRevision != rev {
				t.Fatalf("want live event at %d, got %s", rev, wtFmtEvents(evs))
			}
		})
	}
}

// A synced watcher is not affected by compaction, even at the current revision.
func TestWatchCompactionDoesNotCancelSyncedWatcher(t *testing.T) {
	s := wtStore(t, Config{})
	ws := wtStream(t, s)
	id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), StartRevision: 1})
	for i := range 5 {
		wtPut(t, s, "k", fmt.Sprint(i))
	}
	wtEvents(t, ws, id, 5)
	wtCompact(t, s, s.Rev())
	wtNone(t, ws)
	rev := wtPut(t, s, "k", "after")
	if evs, _ := wtEvents(t, ws, id, 1); evs[0].Kv.ModRevision != rev {
		t.Fatalf("want event at %d, got %s", rev, wtFmtEvents(evs))
	}
}

// Watching exactly at the compact revision delivers that revision's events, a delete
// included (etcd issue #19179, which etcd 3.6 gets wrong for deletes).
func TestWatchAtCompactRevision(t *testing.T) {
	tests := []struct {
		name string
		// at writes the revision R that gets compacted; setup has written a=1, b=1, c=1.
		at   func(t *testing.T, s *Store) int64
		want []string // events of revision R, then the live put of "b" after
	}{
		{"single delete", func(t *testing.T, s *Store) int64 { return wtDelete(t, s, "a", "") },
			[]string{"DELETE a@5"}},
		{"range delete", func(t *testing.T, s *Store) int64 { return wtDelete(t, s, "a", "d") },
			[]string{"DELETE a@5", "DELETE b@5", "DELETE c@5"}},
		{"delete and put in one txn", func(t *testing.T, s *Store) int64 { return wtTxn(t, s, wtDelOp("a", ""), wtPutOp("z", "1")) },
			[]string{"DELETE a@5", "PUT z@5"}},
		{"update", func(t *testing.T, s *Store) int64 { return wtPut(t, s, "a", "2") },
			[]string{"PUT a@5"}},
		{"create", func(t *testing.T, s *Store) int64 { return wtPut(t, s, "new", "1") },
			[]string{"PUT new@5"}},
		{"from-key delete of everything", func(t *testing.T, s *Store) int64 { return wtDelete(t, s, "\x00", "\x00") },
			[]string{"DELETE a@5", "DELETE b@5", "DELETE c@5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := wtStore(t, Config{})
			wtPut(t, s, "a", "1")
			wtPut(t, s, "b", "1")
			wtPut(t, s, "c", "1")
			rev := tt.at(t, s)
			if rev != 5 {
				t.Fatalf("setup: want revision 5, got %d", rev)
			}
			wtCompact(t, s, rev)
			ws := wtStream(t, s)
			// The first watch's events may arrive before the second watch's created
			// response (they do with etcd too), so responses are sorted by watch ID.
			id := wtCreate(t, ws, &WatchCreateRequest{Key: []byte("\x00"), RangeEnd: []byte("\x00"), StartRevision: rev, PrevKv: true})
			below := wtCreate(t, ws, &WatchCreateRequest{Key: []byte("\x00"), RangeEnd: []byte("\x00"), StartRevision: rev - 1})
			got := map[mvcc.WatchID][]mvcc.WatchResponse{}
			for range 4 {
				r := wtRecv(t, ws)
				if len(got[r.WatchID]) == 0 && r.Created {
					if r.Canceled || r.Err != nil || len(r.Events) != 0 || r.CompactRevision != 0 {
						t.Fatalf("want a plain created response for watch %d, got %s", r.WatchID, wtFmtResp(r))
					}
					got[r.WatchID] = []mvcc.WatchResponse{} // created seen; what follows is kept
					continue
				}
				if got[r.WatchID] == nil {
					t.Fatalf("watch %d: response before its created response: %s", r.WatchID, wtFmtResp(r))
				}
				got[r.WatchID] = append(got[r.WatchID], r)
			}
			if c := got[below]; len(c) != 1 || !c[0].Canceled || c[0].CompactRevision != rev {
				t.Fatalf("watch below the compact revision: want compaction cancel, got %v", got[below])
			}
			if len(got[id]) != 1 {
				t.Fatalf("watch at the compact revision: want one response, got %v", got[id])
			}
			evs := got[id][0].Events
			if s := wtShort(evs); !reflect.DeepEqual(s, tt.want) {
				t.Fatalf("want %v, got %v", tt.want, s)
			}
			for _, e := range evs {
				if e.Type == kv.DELETE {
					if want := wtDelEv(string(e.Kv.Key), rev); !reflect.DeepEqual(e.Kv, want.Kv) {
						t.Fatalf("delete event %s: want key and revision only", wtFmtEvent(e))
					}
					// The version before the compact revision is gone: no prev_kv, silently.
					if e.PrevKv != nil {
						t.Fatalf("delete at the compact revision: prev_kv %s is below the compact revision", wtFmtEvent(e))
					}
				}
			}
			wtNone(t, ws)
			live := wtPut(t, s, "b", "live")
			if evs, _ := wtEvents(t, ws, id, 1); evs[0].Kv.ModRevision != live {
				t.Fatalf("want live event at %d, got %s", live, wtFmtEvents(evs))
			}
			// The next compaction removes the tombstone; a watch at the old compact
			// revision is then cancelled, one at the new one works.
			wtCompact(t, s, live)
			again := wtStream(t, s)
			old := wtWatch(t, again, &WatchCreateRequest{Key: []byte("\x00"), RangeEnd: []byte("\x00"), StartRevision: rev})
			if r := wtRecv(t, again); r.WatchID != old || !r.Canceled || r.CompactRevision != live {
				t.Fatalf("want compaction cancel at %d, got %s", live, wtFmtResp(r))
			}
			atNew := wtWatch(t, again, &WatchCreateRequest{Key: []byte("\x00"), RangeEnd: []byte("\x00"), StartRevision: live})
			if evs, _ := wtEvents(t, again, atNew, 1); evs[0].Kv.ModRevision != live || string(evs[0].Kv.Value) != "live" {
				t.Fatalf("want the put at %d, got %s", live, wtFmtEvents(evs))
			}
		})
	}
}

// ---------------------------------------------------------------------------------------
// progress

func wtExpectProgress(t *testing.T, ws *WatchStream, rev int64) {
	t.Helper()
	r := wtRecv(t, ws)
	want := mvcc.WatchResponse{WatchID: mvcc.InvalidWatchID, Revision: rev}
	if !reflect.DeepEqual(r, want) || !r.IsProgressNotify() {
		t.Fatalf("want progress notification %s, got %s", wtFmtResp(want), wtFmtResp(r))
	}
}

func TestWatchRequestProgress(t *testing.T) {
	s := wtStore(t, Config{})
	wtPut(t, s, "x", "1")

	t.Run("stream without watchers", func(t *testing.T) {
		ws := wtStream(t, s)
		ws.RequestProgress()
		wtNone(t, ws)
	})
	t.Run("stream whose watchers were all cancelled", func(t *testing.T) {
		ws := wtStream(t, s)
		id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
		ws.Cancel(id)
		wtRecv(t, ws)
		ws.RequestProgress()
		wtNone(t, ws)
	})

	ws := wtStream(t, s)
	k := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
	t.Run("nothing written since the watch was created", func(t *testing.T) {
		// etcd 3.6 keeps start revision 0 for a watch "from now" (v3rpc passes it on
		// unchanged), so it never waits for a future revision: answered at once.
		ws.RequestProgress()
		wtExpectProgress(t, ws, s.Rev())
		wtNone(t, ws)
	})
	t.Run("explicit start at the next revision waits for it", func(t *testing.T) {
		ws := wtStream(t, s)
		cur := s.Rev()
		id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), StartRevision: cur + 1})
		ws.RequestProgress()
		wtNone(t, ws)
		rev := wtPut(t, s, "other", "0")
		ws.RequestProgress()
		wtExpectProgress(t, ws, rev)
		ws.Cancel(id)
		wtRecv(t, ws)
	})
	t.Run("synced", func(t *testing.T) {
		rev := wtPut(t, s, "other", "1")
		ws.RequestProgress()
		wtExpectProgress(t, ws, rev)
		wtNone(t, ws)
	})
	t.Run("events come before the progress that covers them", func(t *testing.T) {
		rev := wtPut(t, s, "k", "1")
		ws.RequestProgress()
		if r := wtRecv(t, ws); r.WatchID != k || r.Revision != rev {
			t.Fatalf("want the event at %d first, got %s", rev, wtFmtResp(r))
		}
		wtExpectProgress(t, ws, rev)
	})
	t.Run("answered once per request", func(t *testing.T) {
		rev := s.Rev()
		for range 3 {
			ws.RequestProgress()
		}
		for range 3 {
			wtExpectProgress(t, ws, rev)
		}
		wtNone(t, ws)
	})
	t.Run("a watcher waiting for a future start revision", func(t *testing.T) {
		cur := s.Rev()
		f := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("f"), StartRevision: cur + 2})
		ws.RequestProgress()
		wtNone(t, ws)
		wtPut(t, s, "other", "2") // cur+1
		ws.RequestProgress()
		wtNone(t, ws)
		rev := wtPut(t, s, "other", "3") // cur+2: f has reached its start
		ws.RequestProgress()
		wtExpectProgress(t, ws, rev)
		ws.Cancel(f)
		wtRecv(t, ws)
	})
	// "Nothing while a watcher is catching up" is checked deterministically in
	// mvcc.TestHubProgressWhileBehind, which can see when a watcher is behind.
}

// In etcd 3.6 a watcher cancelled by compaction stays registered on its stream until the
// client cancels it (watchStream keeps it in watchers/cancels; clientv3 does send that
// cancel). Until then: a progress request is never answered (spec §0.11, verified), a
// cancel of its ID is answered with a Canceled response, and its ID is still taken.
func TestWatchCompactedWatcherStaysRegistered(t *testing.T) {
	setup := func(t *testing.T) (*Store, *WatchStream, mvcc.WatchID) {
		s := wtStore(t, Config{})
		for i := range 5 {
			wtPut(t, s, "k", fmt.Sprint(i))
		}
		wtCompact(t, s, 4)
		ws := wtStream(t, s)
		wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
		old := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), StartRevision: 2, WatchID: 7})
		if r := wtRecv(t, ws); r.WatchID != old || !r.Canceled || r.CompactRevision != 4 {
			t.Fatalf("want compaction cancel, got %s", wtFmtResp(r))
		}
		return s, ws, old
	}
	t.Run("progress request not answered", func(t *testing.T) {
		s, ws, _ := setup(t)
		wtPut(t, s, "other", "1")
		ws.RequestProgress()
		wtNone(t, ws)
	})
	t.Run("client cancel answered", func(t *testing.T) {
		s, ws, old := setup(t)
		if !ws.Cancel(old) {
			t.Fatalf("Cancel(%d) = false", old)
		}
		want := mvcc.WatchResponse{WatchID: old, Revision: s.Rev(), Canceled: true}
		if r := wtRecv(t, ws); !reflect.DeepEqual(r, want) {
			t.Fatalf("want %s, got %s", wtFmtResp(want), wtFmtResp(r))
		}
		// After the client's cancel, progress works again.
		wtPut(t, s, "other", "1")
		ws.RequestProgress()
		wtExpectProgress(t, ws, s.Rev())
	})
	t.Run("id still taken", func(t *testing.T) {
		_, ws, old := setup(t)
		if _, err := ws.Create(&WatchCreateRequest{Key: []byte("k"), WatchID: int64(old)}); !errors.Is(err, mvcc.ErrWatcherDuplicateID) {
			t.Fatalf("want ErrWatcherDuplicateID, got %v", err)
		}
	})
}

// etcd's v3rpc checks start_revision < 0 before anything else, so a request that is also
// invalid otherwise fails with the compacted reason.
func TestWatchCreateNegativeStartCheckedFirst(t *testing.T) {
	s := wtStore(t, Config{})
	ws := wtStream(t, s)
	_, err := ws.Create(&WatchCreateRequest{Key: []byte("b"), RangeEnd: []byte("a"), StartRevision: -1})
	if !errors.Is(err, mvcc.ErrCompacted) {
		t.Fatalf("want ErrCompacted, got %v", err)
	}
	if r := wtRecv(t, ws); !errors.Is(r.Err, mvcc.ErrCompacted) {
		t.Fatalf("want ErrCompacted in the response, got %s", wtFmtResp(r))
	}
}

func TestWatchPeriodicProgressNotify(t *testing.T) {
	const interval = time.Minute
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	s := wtStore(t, Config{Clock: clk, Watch: mvcc.WatchConfig{ProgressNotifyInterval: interval}})
	wtPut(t, s, "x", "0")
	ws := wtStream(t, s)
	a := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("a"), ProgressNotify: true})
	b := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("b"), ProgressNotify: true})
	wtWatch(t, ws, &WatchCreateRequest{Key: []byte("c")}) // no progress_notify
	future := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("d"), ProgressNotify: true, StartRevision: 1000})
	other := wtStream(t, s)
	o := wtWatch(t, other, &WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("c"), ProgressNotify: true})

	// tick advances the clock one interval and collects the progress notifications that
	// follow, by watch ID.
	tick := func(t *testing.T, ws *WatchStream, want ...mvcc.WatchID) {
		t.Helper()
		clk.Advance(interval)
		rev := s.Rev()
		got := map[mvcc.WatchID]bool{}
		for range want {
			r := wtRecv(t, ws)
			if !r.IsProgressNotify() || r.Revision != rev {
				t.Fatalf("want a progress notification at %d, got %s", rev, wtFmtResp(r))
			}
			if got[r.WatchID] {
				t.Fatalf("two notifications for watch %d", r.WatchID)
			}
			got[r.WatchID] = true
		}
		for _, id := range want {
			if !got[id] {
				t.Fatalf("no notification for watch %d; got %v", id, got)
			}
		}
		wtNone(t, ws)
	}

	// Watchers "from now" have start revision 0 (as in etcd 3.6): notified at the first tick
	// although nothing was written; the one waiting for revision 1000 is not.
	tick(t, ws, a, b)
	// The same tick notified o on the other stream.
	if r := wtRecv(t, other); !r.IsProgressNotify() || r.WatchID != o {
		t.Fatalf("want progress for %d, got %s", o, wtFmtResp(r))
	}
	wtNone(t, other)

	rev := wtPut(t, s, "a", "1") // a (and o) get an event: no notification at the next tick
	if r := wtRecv(t, ws); r.WatchID != a || r.Revision != rev {
		t.Fatalf("want event for %d, got %s", a, wtFmtResp(r))
	}
	if r := wtRecv(t, other); r.WatchID != o || r.Revision != rev {
		t.Fatalf("want event for %d, got %s", o, wtFmtResp(r))
	}
	tick(t, ws, b)
	wtNone(t, other)
	tick(t, ws, a, b) // nothing since the last tick: both again
	if r := wtRecv(t, other); !r.IsProgressNotify() || r.WatchID != o {
		t.Fatalf("want progress for %d, got %s", o, wtFmtResp(r))
	}

	wtPut(t, s, "b", "1")
	wtRecv(t, ws)
	wtRecv(t, other)
	tick(t, ws, a)
	wtNone(t, other)

	// A watcher starting at an explicit future revision is notified once it is reached.
	for s.Rev() < 999 {
		wtPut(t, s, "x", "fill")
	}
	tick(t, ws, a, b)
	wtRecv(t, other)
	wtPut(t, s, "x", "1000")
	tick(t, ws, a, b, future)
	wtRecv(t, other)
}

// ---------------------------------------------------------------------------------------
// slow consumers

type wtWritten struct {
	typ kv.EventType
	key string
	val string
	rev int64
}

// wtWorkload writes n operations on keys k/0..k/9 (and some outside k/): puts, deletes
// of live keys and multi-key txns. It returns every change in revision order.
func wtWorkload(t testing.TB, s *Store, n int) ([]wtWritten, error) {
	var out []wtWritten
	live := map[string]bool{}
	for i := range n {
		key := fmt.Sprintf("k/%d", i%10)
		val := fmt.Sprintf("v%d", i)
		switch {
		case i%7 == 3 && live[key]:
			resp, err := s.DeleteRange(&DeleteRangeRequest{Key: []byte(key)})
			if err != nil {
				return nil, err
			}
			live[key] = false
			out = append(out, wtWritten{kv.DELETE, key, "", resp.Header.Revision})
		case i%5 == 0:
			k2 := fmt.Sprintf("k/%d", (i+3)%10)
			resp, err := s.Txn(&TxnRequest{Success: []RequestOp{wtPutOp(key, val), wtPutOp("x/"+key, val), wtPutOp(k2, val)}})
			if err != nil {
				return nil, err
			}
			rev := resp.Header.Revision
			live[key], live[k2] = true, true
			out = append(out, wtWritten{kv.PUT, key, val, rev}, wtWritten{kv.PUT, k2, val, rev})
		default:
			resp, err := s.Put(&PutRequest{Key: []byte(key), Value: []byte(val)})
			if err != nil {
				return nil, err
			}
			live[key] = true
			out = append(out, wtWritten{kv.PUT, key, val, resp.Header.Revision})
		}
	}
	return out, nil
}

func TestWatchSlowConsumer(t *testing.T) {
	s := wtStore(t, Config{Watch: mvcc.WatchConfig{StreamBuffer: 4}})
	ws := wtStream(t, s)
	type spec struct {
		req   WatchCreateRequest
		match func(wtWritten) bool
	}
	specs := []spec{
		{WatchCreateRequest{Key: []byte("k/"), RangeEnd: []byte("k0")}, func(wtWritten) bool { return true }},
		{WatchCreateRequest{Key: []byte("k/3")}, func(e wtWritten) bool { return e.key == "k/3" }},
		{WatchCreateRequest{Key: []byte("k/"), RangeEnd: []byte("k0"), NoDelete: true}, func(e wtWritten) bool { return e.typ == kv.PUT }},
		{WatchCreateRequest{Key: []byte("k/5"), RangeEnd: []byte("k/8"), PrevKv: true}, func(e wtWritten) bool { return e.key >= "k/5" && e.key < "k/8" }},
	}
	ids := make([]mvcc.WatchID, len(specs))
	for i := range specs {
		ids[i] = wtWatch(t, ws, &specs[i].req)
	}

	// Nobody reads: the writes must all complete regardless.
	var written []wtWritten
	done := make(chan error, 1)
	go func() {
		var err error
		written, err = wtWorkload(t, s, 400)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wtTimeout):
		t.Fatalf("writers blocked by a stalled watch consumer")
	}
	if len(ws.Chan()) != cap(ws.Chan()) {
		t.Fatalf("expected the stream buffer to be full while nobody reads (%d/%d)", len(ws.Chan()), cap(ws.Chan()))
	}

	want := make(map[mvcc.WatchID][]wtWritten)
	for i, sp := range specs {
		for _, e := range written {
			if sp.match(e) {
				want[ids[i]] = append(want[ids[i]], e)
			}
		}
	}
	got := make(map[mvcc.WatchID][]kv.Event)
	lastRev := make(map[mvcc.WatchID]int64)
	complete := func() bool {
		for _, id := range ids {
			if len(got[id]) < len(want[id]) {
				return false
			}
		}
		return true
	}
	for !complete() {
		r := wtRecv(t, ws)
		if r.Created || r.Canceled || len(r.Events) == 0 {
			t.Fatalf("unexpected %s", wtFmtResp(r))
		}
		// Atomic: a revision is never split over two responses of one watcher.
		if r.Events[0].Kv.ModRevision <= lastRev[r.WatchID] {
			t.Fatalf("watch %d: response starts at %d after a response that ended at %d",
				r.WatchID, r.Events[0].Kv.ModRevision, lastRev[r.WatchID])
		}
		lastRev[r.WatchID] = r.Events[len(r.Events)-1].Kv.ModRevision
		if r.Revision < lastRev[r.WatchID] {
			t.Fatalf("header revision %d below its events %s", r.Revision, wtFmtResp(r))
		}
		got[r.WatchID] = append(got[r.WatchID], r.Events...)
	}
	for i, id := range ids {
		w, g := want[id], got[id]
		if len(g) != len(w) {
			t.Fatalf("watch %d: want %d events, got %d", id, len(w), len(g))
		}
		for j := range w {
			e := g[j]
			if e.Type != w[j].typ || string(e.Kv.Key) != w[j].key || string(e.Kv.Value) != w[j].val || e.Kv.ModRevision != w[j].rev {
				t.Fatalf("watch %d event %d: want %+v, got %s", id, j, w[j], wtFmtEvent(e))
			}
			if specs[i].req.PrevKv && !e.IsCreate() && e.PrevKv == nil {
				t.Fatalf("watch %d event %d: missing prev_kv: %s", id, j, wtFmtEvent(e))
			}
		}
	}
	// All caught up: the next progress answer covers everything, and nothing else came.
	cur := s.Rev()
	deadline := time.Now().Add(wtTimeout)
	for {
		ws.RequestProgress()
		select {
		case r := <-ws.Chan():
			if !r.IsProgressNotify() || r.Revision != cur {
				t.Fatalf("want only a progress notification at %d, got %s", cur, wtFmtResp(r))
			}
			wtNone(t, ws)
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("watchers never caught up")
		}
	}
}

// A slow watcher that compaction overtakes is cancelled with the compact revision, after an
// unbroken prefix of its events.
func TestWatchSlowConsumerOvertakenByCompaction(t *testing.T) {
	s := wtStore(t, Config{Watch: mvcc.WatchConfig{StreamBuffer: 4}})
	ws := wtStream(t, s)
	id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
	first := s.Rev() + 1
	for i := range 100 {
		wtPut(t, s, "k", fmt.Sprint(i))
	}
	compactAt := s.Rev() - 10
	wtCompact(t, s, compactAt)
	next := first
	for {
		r := wtRecv(t, ws)
		if r.WatchID != id {
			t.Fatalf("unexpected %s", wtFmtResp(r))
		}
		if r.Canceled {
			want := mvcc.WatchResponse{WatchID: id, Canceled: true, CompactRevision: compactAt}
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("want %s, got %s", wtFmtResp(want), wtFmtResp(r))
			}
			break
		}
		for _, e := range r.Events {
			if e.Kv.ModRevision != next {
				t.Fatalf("want event at %d, got %s", next, wtFmtEvent(e))
			}
			next++
		}
	}
	if next >= compactAt {
		t.Fatalf("cancelled although it had reached %d, at or past the compact revision %d", next, compactAt)
	}
	wtPut(t, s, "k", "after")
	wtNone(t, ws)
}

// ---------------------------------------------------------------------------------------
// close, leases, fan-out

func TestWatchStreamClose(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New(Config{Watch: mvcc.WatchConfig{StreamBuffer: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		wtPut(t, s, "k", fmt.Sprint(i))
	}
	ws := s.NewWatchStream()
	id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
	wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), RangeEnd: []byte("l")})
	wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), StartRevision: 100})
	// A replaying one and a slow one: the buffer fills up.
	if _, err := ws.Create(&WatchCreateRequest{Key: []byte("k"), StartRevision: 2}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		wtPut(t, s, "k", fmt.Sprint(i))
	}
	ws.Close()
	ws.Close() // idempotent
	select {
	case <-ws.Done():
	default:
		t.Fatalf("Done not closed")
	}
	// Whatever was queued before Close may still be read; after that, nothing more.
	for len(ws.Chan()) > 0 {
		<-ws.Chan()
	}
	wtPut(t, s, "k", "after")
	wtNone(t, ws)
	if _, err := ws.Create(&WatchCreateRequest{Key: []byte("k")}); !errors.Is(err, mvcc.ErrStreamClosed) {
		t.Fatalf("create on a closed stream: want ErrStreamClosed, got %v", err)
	}
	if ws.Cancel(id) {
		t.Fatalf("cancel on a closed stream reported true")
	}
	ws.RequestProgress()
	wtNone(t, ws)

	// Other streams are unaffected.
	ws2 := s.NewWatchStream()
	id2 := wtWatch(t, ws2, &WatchCreateRequest{Key: []byte("k")})
	rev := wtPut(t, s, "k", "again")
	if evs, _ := wtEvents(t, ws2, id2, 1); evs[0].Kv.ModRevision != rev {
		t.Fatalf("want event at %d", rev)
	}
	ws2.Close()

	s.Close()
	wtWaitFor(t, "the store's goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

// Closing a stream whose watchers' responses are still pending (victims) must not block and
// must not leave the hub retrying them.
func TestWatchStreamCloseWithPendingWatchers(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New(Config{Watch: mvcc.WatchConfig{StreamBuffer: 1, RetryInterval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var streams []*WatchStream
	for range 10 {
		ws := s.NewWatchStream()
		wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
		streams = append(streams, ws)
	}
	for i := range 20 {
		wtPut(t, s, "k", fmt.Sprint(i))
	}
	closed := make(chan struct{})
	go func() {
		for _, ws := range streams {
			ws.Close()
		}
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(wtTimeout):
		t.Fatalf("Close blocked")
	}
	for i := range 20 {
		wtPut(t, s, "k", fmt.Sprint(i))
	}
	s.Close()
	wtWaitFor(t, "the store's goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

func TestWatchLeaseRevoke(t *testing.T) {
	for _, n := range []int{1, 4, 50} {
		t.Run(fmt.Sprintf("%d keys", n), func(t *testing.T) {
			t.Parallel()
			s := wtStore(t, Config{})
			lg, err := s.LeaseGrant(&LeaseGrantRequest{TTL: 60, ID: 1234})
			if err != nil {
				t.Fatal(err)
			}
			// Attach in reverse (unsorted) order, interleaved with keys without the lease.
			var keys []string
			prev := map[string]kv.KeyValue{}
			for i := n - 1; i >= 0; i-- {
				k := fmt.Sprintf("l/%03d", i)
				keys = append(keys, k)
				rev := wtPutLease(t, s, k, "v"+k, lg.ID)
				prev[k] = kv.KeyValue{Key: []byte(k), Value: []byte("v" + k), CreateRevision: rev, ModRevision: rev, Version: 1, Lease: lg.ID}
				wtPut(t, s, fmt.Sprintf("l/%03d-nolease", i), "x")
			}
			sort.Strings(keys)
			ws := wtStream(t, s)
			id := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("l/"), RangeEnd: []byte("l0"), PrevKv: true})
			if _, err := s.LeaseRevoke(lg.ID); err != nil {
				t.Fatal(err)
			}
			rev := s.Rev()
			r := wtRecv(t, ws)
			if r.WatchID != id || r.Revision != rev || len(r.Events) != n {
				t.Fatalf("want one response with %d deletes at %d, got %s", n, rev, wtFmtResp(r))
			}
			for i, k := range keys {
				want := wtWithPrev(wtDelEv(k, rev), prev[k])
				if !wtEventsEqual([]kv.Event{r.Events[i]}, []kv.Event{want}) {
					t.Fatalf("event %d: want %s, got %s", i, wtFmtEvent(want), wtFmtEvent(r.Events[i]))
				}
			}
			wtNone(t, ws)
		})
	}
	t.Run("lease without keys", func(t *testing.T) {
		s := wtStore(t, Config{})
		lg, err := s.LeaseGrant(&LeaseGrantRequest{TTL: 60, ID: 9})
		if err != nil {
			t.Fatal(err)
		}
		ws := wtStream(t, s)
		wtWatch(t, ws, &WatchCreateRequest{Key: []byte("\x00"), RangeEnd: []byte("\x00")})
		if _, err := s.LeaseRevoke(lg.ID); err != nil {
			t.Fatal(err)
		}
		wtNone(t, ws)
	})
}

func TestWatchManyWatchersOneKey(t *testing.T) {
	tests := []struct {
		name       string
		streams    int
		perStream  int
		bufferSize int
	}{
		{"1000 watchers on 10 streams", 10, 100, 0},
		{"1000 watchers on one stream", 1, 1000, 0},
		{"1000 watchers on one tiny stream", 1, 1000, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wtStore(t, Config{Watch: mvcc.WatchConfig{StreamBuffer: tt.bufferSize, RetryInterval: time.Millisecond}})
			type st struct {
				ws  *WatchStream
				c   *wtCollector
				ids []mvcc.WatchID
			}
			var all []st
			for range tt.streams {
				ws := wtStream(t, s)
				c := wtCollect(ws) // reads while creating: creates wait for room
				var ids []mvcc.WatchID
				for range tt.perStream {
					id, err := ws.Create(&WatchCreateRequest{Key: []byte("hot"), PrevKv: true})
					if err != nil {
						t.Fatal(err)
					}
					ids = append(ids, id)
				}
				all = append(all, st{ws, c, ids})
			}
			wtPut(t, s, "hot", "1")
			rev := wtPut(t, s, "hot", "2")
			want := []kv.Event{
				wtPutEv("hot", "1", rev-1, rev-1, 1),
				wtWithPrev(wtPutEv("hot", "2", rev-1, rev, 2), wtKV("hot", "1", rev-1, rev-1, 1)),
			}
			count := func() int {
				n := 0
				for _, x := range all {
					for _, r := range x.c.snapshot() {
						n += len(r.Events)
					}
				}
				return n
			}
			total := tt.streams * tt.perStream * len(want)
			wtWaitFor(t, "every watcher to get the events", func() bool { return count() >= total })
			time.Sleep(wtQuiet) // duplicates would show up here
			if n := count(); n != total {
				t.Fatalf("want %d events in all, got %d", total, n)
			}
			for _, x := range all {
				created := map[mvcc.WatchID]bool{}
				for _, r := range x.c.snapshot() {
					if r.Created {
						created[r.WatchID] = true
					} else if !created[r.WatchID] {
						t.Fatalf("response before Created: %s", wtFmtResp(r))
					}
				}
				for _, id := range x.ids {
					if got := x.c.eventsOf(id); !wtEventsEqual(got, want) {
						t.Fatalf("watch %d: want %s, got %s", id, wtFmtEvents(want), wtFmtEvents(got))
					}
				}
			}
		})
	}
}

// WatchResponse.Fragment says whether the watcher accepts its responses split into
// fragments (the transport splits); it is set on every event response of such a watcher,
// live or replayed, and on no other.
func TestWatchFragmentFlag(t *testing.T) {
	s := wtStore(t, Config{})
	wtPut(t, s, "k", "old")
	ws := wtStream(t, s)
	frag := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), Fragment: true})
	plain := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k")})
	replay := wtWatch(t, ws, &WatchCreateRequest{Key: []byte("k"), Fragment: true, StartRevision: 1})
	wtPut(t, s, "k", "new")
	want := map[mvcc.WatchID]bool{frag: true, plain: false, replay: true}
	seen := map[mvcc.WatchID]int{}
	for range 4 { // frag and plain: one live event; replay: history (one or two responses)
		r := wtRecv(t, ws)
		if len(r.Events) == 0 {
			t.Fatalf("unexpected %s", wtFmtResp(r))
		}
		if r.Fragment != want[r.WatchID] {
			t.Fatalf("watch %d: Fragment=%v, want %v", r.WatchID, r.Fragment, want[r.WatchID])
		}
		seen[r.WatchID] += len(r.Events)
		if seen[replay] == 2 && seen[frag] == 1 && seen[plain] == 1 {
			break
		}
	}
	if seen[replay] != 2 || seen[frag] != 1 || seen[plain] != 1 {
		t.Fatalf("unexpected event counts %v", seen)
	}
	ws.RequestProgress()
	if r := wtRecv(t, ws); !r.IsProgressNotify() || r.Fragment {
		t.Fatalf("want a plain progress notification, got %s", wtFmtResp(r))
	}
}
