package core

import (
	"fmt"
	"slices"
	"testing"
)

func put(k, v string) RequestOp {
	return RequestOp{Put: &PutRequest{Key: []byte(k), Value: []byte(v)}}
}

func del(k, end string) RequestOp {
	r := &DeleteRangeRequest{Key: []byte(k)}
	if end != "" {
		r.RangeEnd = []byte(end)
	}
	return RequestOp{DeleteRange: r}
}

func get(k string) RequestOp { return RequestOp{Range: &RangeRequest{Key: []byte(k)}} }

func nested(success, failure []RequestOp, cmps ...Compare) RequestOp {
	return RequestOp{Txn: &TxnRequest{Compare: cmps, Success: success, Failure: failure}}
}

func TestCompare(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.LeaseGrant(&LeaseGrantRequest{ID: 3, TTL: 100}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "a", "x")                                            // 2
	mustPut(t, s, "a", "y")                                            // 3: a version 2, create 2, mod 3
	s.Put(&PutRequest{Key: []byte("b"), Value: []byte("y"), Lease: 3}) // 4
	tests := []struct {
		name string
		c    Compare
		want bool
	}{
		{"value equal", Compare{Target: CompareValue, Key: []byte("a"), Value: []byte("y")}, true},
		{"value greater", Compare{Target: CompareValue, Result: CompareGreater, Key: []byte("a"), Value: []byte("x")}, true},
		{"value less", Compare{Target: CompareValue, Result: CompareLess, Key: []byte("a"), Value: []byte("x")}, false},
		{"value not equal", Compare{Target: CompareValue, Result: CompareNotEqual, Key: []byte("a"), Value: []byte("x")}, true},
		{"value of missing key is always false", Compare{Target: CompareValue, Result: CompareNotEqual, Key: []byte("q"), Value: []byte("x")}, false},
		{"version", Compare{Target: CompareVersion, Key: []byte("a"), Version: 2}, true},
		{"version of missing key is 0", Compare{Target: CompareVersion, Key: []byte("q")}, true},
		{"create", Compare{Target: CompareCreate, Key: []byte("a"), CreateRevision: 2}, true},
		{"create 0 means absent", Compare{Target: CompareCreate, Key: []byte("q")}, true},
		{"mod", Compare{Target: CompareMod, Result: CompareLess, Key: []byte("a"), ModRevision: 4}, true},
		{"lease", Compare{Target: CompareLease, Key: []byte("b"), Lease: 3}, true},
		{"lease none", Compare{Target: CompareLease, Key: []byte("a")}, true},
		{"range all hold", Compare{Target: CompareValue, Key: []byte("a"), RangeEnd: []byte("c"), Value: []byte("y")}, true},
		{"range one fails", Compare{Target: CompareVersion, Key: []byte("a"), RangeEnd: []byte("c"), Version: 2}, false},
		{"range from key", Compare{Target: CompareMod, Result: CompareGreater, Key: []byte("a"), RangeEnd: []byte{0}, ModRevision: 2}, true},
		{"empty range compares zero", Compare{Target: CompareVersion, Key: []byte("x"), RangeEnd: []byte("y")}, true},
		{"unknown result holds", Compare{Target: CompareVersion, Result: 9, Key: []byte("a")}, true},
	}
	for _, tt := range tests {
		r, err := s.Txn(&TxnRequest{Compare: []Compare{tt.c}})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if r.Succeeded != tt.want {
			t.Errorf("%s: succeeded %v, want %v", tt.name, r.Succeeded, tt.want)
		}
	}
}

func TestTxnExecution(t *testing.T) {
	s := newTestStore(t)
	mustPut(t, s, "a", "1") // 2
	r, err := s.Txn(&TxnRequest{
		Compare: []Compare{{Target: CompareValue, Key: []byte("a"), Value: []byte("1")}},
		Success: []RequestOp{
			get("b"),
			put("b", "2"),
			get("b"), // sees the put above
			del("a", ""),
			get("a"),
			nested([]RequestOp{put("n", "1")}, nil,
				// Nested compares see the store as the txn found it: a is still "1".
				Compare{Target: CompareValue, Key: []byte("a"), Value: []byte("1")}),
		},
		Failure: []RequestOp{put("f", "1")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Succeeded || r.Header.Revision != 3 || len(r.Responses) != 6 {
		t.Fatalf("txn: %+v", r)
	}
	if v := r.Responses[0].Range; len(v.Kvs) != 0 || v.Header.Revision != 2 {
		t.Fatalf("first read: %+v", v)
	}
	if v := r.Responses[1].Put; v.Header.Revision != 3 {
		t.Fatalf("put header: %+v", v)
	}
	if v := r.Responses[2].Range; string(v.Kvs[0].Value) != "2" || v.Kvs[0].Version != 1 || v.Header.Revision != 3 {
		t.Fatalf("read after put: %+v", v)
	}
	if v := r.Responses[3].DeleteRange; v.Deleted != 1 {
		t.Fatalf("delete: %+v", v)
	}
	if v := r.Responses[4].Range; len(v.Kvs) != 0 {
		t.Fatalf("read after delete: %+v", v)
	}
	if v := r.Responses[5].Txn; !v.Succeeded || v.Header.Revision != 0 || v.Responses[0].Put == nil {
		t.Fatalf("nested: %+v", v)
	}
	// Sub-revisions follow execution order: put b (0), delete a (1), put n (2).
	g, _ := s.Range(&RangeRequest{Key: []byte("n")})
	if g.Kvs[0].ModRevision != 3 || g.Kvs[0].CreateRevision != 3 {
		t.Fatalf("n: %+v", g.Kvs[0])
	}
}

func TestTxnChecksLeaveNoTrace(t *testing.T) {
	s := newTestStore(t)
	mustPut(t, s, "a", "1")
	tests := []struct {
		name  string
		req   TxnRequest
		wcode Code
		wmsg  string
	}{
		{"unknown lease", TxnRequest{Success: []RequestOp{put("a", "2"), {Put: &PutRequest{Key: []byte("b"), Lease: 9}}}},
			CodeNotFound, "etcdserver: requested lease not found"},
		{"ignore_value on missing key", TxnRequest{Success: []RequestOp{put("a", "2"), {Put: &PutRequest{Key: []byte("b"), IgnoreValue: true}}}},
			CodeInvalidArgument, "etcdserver: key not found"},
		// The checks run against the store as the txn found it, so a key created earlier in
		// the same txn does not count (as in etcd).
		{"ignore_value on key the txn creates", TxnRequest{Success: []RequestOp{put("c", "2"), nested([]RequestOp{{Put: &PutRequest{Key: []byte("c"), IgnoreValue: true}}}, nil)}},
			CodeInvalidArgument, "etcdserver: duplicate key given in txn request"},
		{"future range", TxnRequest{Success: []RequestOp{put("a", "2"), {Range: &RangeRequest{Key: []byte("a"), Revision: 100}}}},
			CodeOutOfRange, "etcdserver: mvcc: required revision is a future revision"},
		{"future range in read-only txn", TxnRequest{Success: []RequestOp{{Range: &RangeRequest{Key: []byte("a"), Revision: 100}}}},
			CodeOutOfRange, "etcdserver: mvcc: required revision is a future revision"},
		{"nested unknown lease", TxnRequest{Success: []RequestOp{put("a", "2"), nested([]RequestOp{{Put: &PutRequest{Key: []byte("b"), Lease: 9}}}, nil)}},
			CodeNotFound, "etcdserver: requested lease not found"},
		// A valid ignore_lease put of a key that a from-key delete earlier in the txn removed:
		// etcd's duplicate check misses it and etcd panics; the core undoes the txn.
		{"ignore after from-key delete", TxnRequest{Success: []RequestOp{del("a", "\x00"), nested([]RequestOp{{Put: &PutRequest{Key: []byte("a"), IgnoreLease: true}}}, nil)}},
			CodeInvalidArgument, "etcdserver: key not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := s.HashKV(0)
			_, err := s.Txn(&tt.req)
			wantStatus(t, err, tt.wcode, tt.wmsg)
			after, _ := s.HashKV(0)
			if after.Hash != before.Hash || after.Header.Revision != before.Header.Revision {
				t.Fatalf("failed txn changed the store: %+v → %+v", before, after)
			}
			g, _ := s.Range(&RangeRequest{Key: []byte("a")})
			if len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "1" {
				t.Fatalf("a after failed txn: %+v", g.Kvs)
			}
		})
	}
}

// TestTxnAbortRestoresLeases checks that an undone txn also undoes lease bookkeeping.
func TestTxnAbortRestoresLeases(t *testing.T) {
	s := newTestStore(t)
	s.LeaseGrant(&LeaseGrantRequest{ID: 1, TTL: 100})
	s.LeaseGrant(&LeaseGrantRequest{ID: 2, TTL: 100})
	s.Put(&PutRequest{Key: []byte("a"), Value: []byte("v"), Lease: 1})
	_, err := s.Txn(&TxnRequest{Success: []RequestOp{
		{Put: &PutRequest{Key: []byte("b"), Lease: 2}},
		{Put: &PutRequest{Key: []byte("a"), Lease: 2}},
		del("a", "\x00"),
		nested([]RequestOp{{Put: &PutRequest{Key: []byte("b"), IgnoreValue: true}}}, nil),
	}})
	wantStatus(t, err, CodeInvalidArgument, "etcdserver: duplicate key given in txn request")
	_, err = s.Txn(&TxnRequest{Success: []RequestOp{
		{Put: &PutRequest{Key: []byte("b"), Lease: 2}},
		del("a", "\x00"),
		nested([]RequestOp{{Put: &PutRequest{Key: []byte("a"), IgnoreValue: true}}}, nil),
	}})
	wantStatus(t, err, CodeInvalidArgument, "etcdserver: key not found")
	if k := s.LeaseTimeToLive(1, true).Keys; len(k) != 1 || string(k[0]) != "a" {
		t.Fatalf("lease 1 keys %q, want [a]", k)
	}
	if k := s.LeaseTimeToLive(2, true).Keys; len(k) != 0 {
		t.Fatalf("lease 2 keys %q, want none", k)
	}
	g, _ := s.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}})
	if len(g.Kvs) != 1 || g.Rev() != 2 {
		t.Fatalf("store after aborted txns: %+v", g)
	}
}

func (r *RangeResponse) Rev() int64 { return r.Header.Revision }

func TestTxnShapeErrors(t *testing.T) {
	s := newTestStore(t)
	many := func(n int) []RequestOp {
		ops := make([]RequestOp, n)
		for i := range ops {
			ops[i] = get(fmt.Sprint(i))
		}
		return ops
	}
	manyCmp := make([]Compare, 129)
	for i := range manyCmp {
		manyCmp[i] = Compare{Key: []byte("k")}
	}
	dup := "etcdserver: duplicate key given in txn request"
	tests := []struct {
		name string
		req  TxnRequest
		wmsg string // "" = valid
	}{
		{"128 ops", TxnRequest{Success: many(128)}, ""},
		{"129 ops", TxnRequest{Success: many(129)}, "etcdserver: too many operations in txn request"},
		{"129 failure ops", TxnRequest{Failure: many(129)}, "etcdserver: too many operations in txn request"},
		{"129 compares", TxnRequest{Compare: manyCmp}, "etcdserver: too many operations in txn request"},
		// 101 ops at the top leave a nested txn 128-101 = 27.
		{"nested budget", TxnRequest{Success: append(many(100), nested(many(28), nil))}, "etcdserver: too many operations in txn request"},
		{"nested within budget", TxnRequest{Success: append(many(100), nested(many(27), nil))}, ""},
		{"compare without key", TxnRequest{Compare: []Compare{{}}}, "etcdserver: key is not provided"},
		{"empty op", TxnRequest{Success: []RequestOp{{}}}, "etcdserver: key not found"},
		{"range without key", TxnRequest{Success: []RequestOp{{Range: &RangeRequest{}}}}, "etcdserver: key is not provided"},
		{"nested bad sort", TxnRequest{Failure: []RequestOp{nested([]RequestOp{{Range: &RangeRequest{Key: []byte("a"), SortTarget: 7}}}, nil)}}, "etcdserver: invalid sort option"},
		{"put twice", TxnRequest{Success: []RequestOp{put("a", "1"), put("a", "2")}}, dup},
		{"put in delete range", TxnRequest{Success: []RequestOp{del("a", "c"), put("b", "1")}}, dup},
		{"put before delete of it", TxnRequest{Success: []RequestOp{put("b", "1"), del("b", "")}}, dup},
		{"put outside delete range", TxnRequest{Success: []RequestOp{del("a", "c"), put("c", "1")}}, ""},
		{"deletes overlap", TxnRequest{Success: []RequestOp{del("a", "c"), del("b", "d")}}, ""},
		{"same key in other branch", TxnRequest{Success: []RequestOp{put("a", "1")}, Failure: []RequestOp{put("a", "2")}}, ""},
		{"nested put vs outer put", TxnRequest{Success: []RequestOp{put("a", "1"), nested([]RequestOp{put("a", "2")}, nil)}}, dup},
		{"nested put vs outer delete", TxnRequest{Success: []RequestOp{del("a", "z"), nested([]RequestOp{put("b", "2")}, nil)}}, dup},
		{"nested delete vs outer put", TxnRequest{Success: []RequestOp{put("b", "1"), nested([]RequestOp{del("a", "z")}, nil)}}, dup},
		{"nested branches may share a key", TxnRequest{Success: []RequestOp{nested([]RequestOp{put("a", "1")}, []RequestOp{put("a", "2")})}}, ""},
		{"two nested txns put one key", TxnRequest{Success: []RequestOp{nested([]RequestOp{put("a", "1")}, nil), nested(nil, []RequestOp{put("a", "2")})}}, dup},
		// etcd's interval check sees [a, "\x00") as empty, so a from-key delete never collides.
		{"from-key delete does not collide", TxnRequest{Success: []RequestOp{del("a", "\x00"), put("b", "1")}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Txn(&tt.req)
			if tt.wmsg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			_, msg := Status(err)
			if msg != tt.wmsg {
				t.Fatalf("error %q, want %q", msg, tt.wmsg)
			}
		})
	}
}

func TestMaxTxnOpsConfig(t *testing.T) {
	s, err := New(Config{MaxTxnOps: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Txn(&TxnRequest{Success: []RequestOp{get("a"), get("b")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Txn(&TxnRequest{Success: []RequestOp{get("a"), get("b"), get("c")}}); err != ErrTooManyOps {
		t.Fatalf("got %v", err)
	}
}

func TestTxnReadOnlyPathChoice(t *testing.T) {
	s := newTestStore(t)
	mustPut(t, s, "a", "1")
	// The failure branch writes, so the txn takes the write path even if it succeeds.
	r, err := s.Txn(&TxnRequest{
		Compare: []Compare{{Target: CompareValue, Key: []byte("a"), Value: []byte("1")}},
		Success: []RequestOp{get("a")},
		Failure: []RequestOp{put("b", "1")},
	})
	if err != nil || !r.Succeeded || r.Header.Revision != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	if got := keys(r.Responses[0].Range.Kvs); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("read %v", got)
	}
}

// TestDeleteAndPutInOneRevisionThenCompact is the shape that makes etcd 3.6 exit with
// "range failed to find revision pair": a from-key delete and a put of the same key in one
// txn, a compaction at that revision, then a read.
func TestDeleteAndPutInOneRevisionThenCompact(t *testing.T) {
	s := newTestStore(t)
	mustPut(t, s, "a", "1")
	mustPut(t, s, "b", "1")
	r, err := s.Txn(&TxnRequest{Success: []RequestOp{del("a", "\x00"), nested([]RequestOp{put("b", "2")}, nil)}})
	if err != nil || r.Header.Revision != 4 {
		t.Fatalf("txn: %+v %v", r, err)
	}
	if _, err := s.Compact(&CompactionRequest{Revision: 4}); err != nil {
		t.Fatal(err)
	}
	g, err := s.Range(&RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Serializable: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Kvs) != 1 || string(g.Kvs[0].Key) != "b" || string(g.Kvs[0].Value) != "2" ||
		g.Kvs[0].CreateRevision != 4 || g.Kvs[0].Version != 1 {
		t.Fatalf("after compaction: %+v", g.Kvs)
	}
}
