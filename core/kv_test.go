package core

import (
	"slices"
	"testing"

	"github.com/metastore/metastore/core/kv"
)

type kvT = kv.KeyValue

func TestFreshStore(t *testing.T) {
	s := newTestStore(t)
	if s.Rev() != 1 || s.CompactRev() != -1 {
		t.Fatalf("fresh store at rev %d compact %d, want 1 and -1", s.Rev(), s.CompactRev())
	}
	r, err := s.Range(&RangeRequest{Key: []byte("a")})
	if err != nil || r.Header.Revision != 1 || len(r.Kvs) != 0 || r.Count != 0 {
		t.Fatalf("range on fresh store: %+v, %v", r, err)
	}
	h, err := s.HashKV(0)
	if err != nil || h.CompactRevision != -1 || h.HashRevision != 1 {
		t.Fatalf("hashkv on fresh store: %+v, %v", h, err)
	}
}

func TestRevisions(t *testing.T) {
	s := newTestStore(t)
	steps := []struct {
		name string
		do   func() int64 // returns the response header revision
		wrev int64        // the store revision afterwards, and the header's
	}{
		{"first put", func() int64 { return mustPut(t, s, "a", "1").Header.Revision }, 2},
		{"same value again", func() int64 { return mustPut(t, s, "a", "1").Header.Revision }, 3},
		{"delete missing", func() int64 {
			r, _ := s.DeleteRange(&DeleteRangeRequest{Key: []byte("zz")})
			return r.Header.Revision
		}, 3},
		{"read-only txn", func() int64 {
			r, _ := s.Txn(&TxnRequest{Success: []RequestOp{{Range: &RangeRequest{Key: []byte("a")}}}})
			return r.Header.Revision
		}, 3},
		{"empty txn", func() int64 { r, _ := s.Txn(&TxnRequest{}); return r.Header.Revision }, 3},
		{"txn deleting nothing", func() int64 {
			r, _ := s.Txn(&TxnRequest{Success: []RequestOp{{DeleteRange: &DeleteRangeRequest{Key: []byte("q")}}}})
			return r.Header.Revision
		}, 3},
		{"lease grant", func() int64 {
			r, _ := s.LeaseGrant(&LeaseGrantRequest{ID: 5, TTL: 100})
			return r.Header.Revision
		}, 3},
		{"revoke lease without keys", func() int64 { r, _ := s.LeaseRevoke(5); return r.Header.Revision }, 3},
		{"compact", func() int64 {
			r, _ := s.Compact(&CompactionRequest{Revision: 2})
			return r.Header.Revision
		}, 3},
		{"txn with three puts", func() int64 {
			r, _ := s.Txn(&TxnRequest{Success: []RequestOp{
				{Put: &PutRequest{Key: []byte("x"), Value: []byte("1")}},
				{Put: &PutRequest{Key: []byte("y"), Value: []byte("1")}},
				{Put: &PutRequest{Key: []byte("z"), Value: []byte("1")}},
			}})
			return r.Header.Revision
		}, 4},
		{"delete range of three", func() int64 {
			r, _ := s.DeleteRange(&DeleteRangeRequest{Key: []byte("x"), RangeEnd: []byte{0}})
			return r.Header.Revision
		}, 5},
	}
	for _, st := range steps {
		if got := st.do(); got != st.wrev || s.Rev() != st.wrev {
			t.Fatalf("%s: header revision %d, store revision %d, want %d", st.name, got, s.Rev(), st.wrev)
		}
	}
}

func TestKeyFields(t *testing.T) {
	s := newTestStore(t)
	mustPut(t, s, "k", "a")                              // 2
	mustPut(t, s, "k", "b")                              // 3
	s.DeleteRange(&DeleteRangeRequest{Key: []byte("k")}) // 4
	mustPut(t, s, "k", "c")                              // 5
	tests := []struct {
		rev                 int64
		wexists             bool
		wcreate, wmod, wver int64
		wvalue              string
	}{
		{1, false, 0, 0, 0, ""},
		{2, true, 2, 2, 1, "a"},
		{3, true, 2, 3, 2, "b"},
		{4, false, 0, 0, 0, ""},
		{5, true, 5, 5, 1, "c"},
		{0, true, 5, 5, 1, "c"},
	}
	for _, tt := range tests {
		r, err := s.Range(&RangeRequest{Key: []byte("k"), Revision: tt.rev})
		if err != nil {
			t.Fatal(err)
		}
		if r.Header.Revision != 5 {
			t.Errorf("rev %d: header revision %d, want the current 5", tt.rev, r.Header.Revision)
		}
		if !tt.wexists {
			if len(r.Kvs) != 0 {
				t.Errorf("rev %d: got %v, want nothing", tt.rev, r.Kvs)
			}
			continue
		}
		if len(r.Kvs) != 1 {
			t.Fatalf("rev %d: got %d kvs", tt.rev, len(r.Kvs))
		}
		kv := r.Kvs[0]
		if kv.CreateRevision != tt.wcreate || kv.ModRevision != tt.wmod || kv.Version != tt.wver || string(kv.Value) != tt.wvalue {
			t.Errorf("rev %d: got %+v", tt.rev, kv)
		}
	}
}

func TestValidationErrors(t *testing.T) {
	s := newTestStore(t)
	mustPut(t, s, "exists", "v")
	const inval = CodeInvalidArgument
	tests := []struct {
		name  string
		call  func() error
		wcode Code
		wmsg  string
	}{
		{"range empty key", func() error { _, err := s.Range(&RangeRequest{}); return err }, inval, "etcdserver: key is not provided"},
		{"range bad sort order", func() error {
			_, err := s.Range(&RangeRequest{Key: []byte("a"), SortOrder: 3})
			return err
		}, inval, "etcdserver: invalid sort option"},
		{"range bad sort target", func() error {
			_, err := s.Range(&RangeRequest{Key: []byte("a"), SortTarget: 5})
			return err
		}, inval, "etcdserver: invalid sort option"},
		{"range negative sort order", func() error {
			_, err := s.Range(&RangeRequest{Key: []byte("a"), SortOrder: -1})
			return err
		}, inval, "etcdserver: invalid sort option"},
		{"range future", func() error {
			_, err := s.Range(&RangeRequest{Key: []byte("a"), Revision: 3})
			return err
		}, CodeOutOfRange, "etcdserver: mvcc: required revision is a future revision"},
		{"put empty key", func() error { _, err := s.Put(&PutRequest{Value: []byte("v")}); return err }, inval, "etcdserver: key is not provided"},
		{"put ignore_value with value", func() error {
			_, err := s.Put(&PutRequest{Key: []byte("exists"), Value: []byte("v"), IgnoreValue: true})
			return err
		}, inval, "etcdserver: value is provided"},
		{"put ignore_lease with lease", func() error {
			_, err := s.Put(&PutRequest{Key: []byte("exists"), Lease: 1, IgnoreLease: true})
			return err
		}, inval, "etcdserver: lease is provided"},
		{"put ignore_value missing key", func() error {
			_, err := s.Put(&PutRequest{Key: []byte("nope"), IgnoreValue: true})
			return err
		}, inval, "etcdserver: key not found"},
		{"put ignore_lease missing key", func() error {
			_, err := s.Put(&PutRequest{Key: []byte("nope"), IgnoreLease: true})
			return err
		}, inval, "etcdserver: key not found"},
		{"put unknown lease", func() error {
			_, err := s.Put(&PutRequest{Key: []byte("a"), Lease: 99})
			return err
		}, CodeNotFound, "etcdserver: requested lease not found"},
		{"put unknown lease checked before ignore_value", func() error {
			_, err := s.Put(&PutRequest{Key: []byte("nope"), Lease: 99, IgnoreValue: true})
			return err
		}, CodeNotFound, "etcdserver: requested lease not found"},
		{"delete empty key", func() error { _, err := s.DeleteRange(&DeleteRangeRequest{}); return err }, inval, "etcdserver: key is not provided"},
		{"compact future", func() error {
			_, err := s.Compact(&CompactionRequest{Revision: 9})
			return err
		}, CodeOutOfRange, "etcdserver: mvcc: required revision is a future revision"},
		{"hashkv future", func() error { _, err := s.HashKV(9); return err }, CodeOutOfRange, "etcdserver: mvcc: required revision is a future revision"},
		{"lease revoke unknown", func() error { _, err := s.LeaseRevoke(42); return err }, CodeNotFound, "etcdserver: requested lease not found"},
		{"lease grant too large", func() error {
			_, err := s.LeaseGrant(&LeaseGrantRequest{ID: 1, TTL: 9_000_000_001})
			return err
		}, CodeOutOfRange, "etcdserver: too large lease TTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Rev()
			wantStatus(t, tt.call(), tt.wcode, tt.wmsg)
			if s.Rev() != before {
				t.Fatalf("a failed request moved the revision from %d to %d", before, s.Rev())
			}
		})
	}
}

func TestStatusUnknown(t *testing.T) {
	if c, m := Status(nil); c != CodeOK || m != "" {
		t.Fatalf("Status(nil) = %d %q", c, m)
	}
	c, m := Status(errString("boom"))
	if c != CodeUnknown || m != "boom" {
		t.Fatalf("unknown error: %d %q", c, m)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestCompaction(t *testing.T) {
	s := newTestStore(t)
	for _, v := range []string{"1", "2", "3"} {
		mustPut(t, s, "a", v) // 2, 3, 4
	}
	mustPut(t, s, "b", "1")                              // 5
	s.DeleteRange(&DeleteRangeRequest{Key: []byte("b")}) // 6
	mustPut(t, s, "a", "4")                              // 7

	if _, err := s.Compact(&CompactionRequest{Revision: 3}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		rev    int64
		wvalue string
		werr   error
	}{
		{"below compact", 2, "", ErrCompacted},
		{"at compact", 3, "2", nil},
		{"after", 4, "3", nil},
		{"current", 0, "4", nil},
	}
	for _, tt := range tests {
		r, err := s.Range(&RangeRequest{Key: []byte("a"), Revision: tt.rev})
		if err != tt.werr {
			t.Fatalf("%s: err %v, want %v", tt.name, err, tt.werr)
		}
		if err == nil && string(r.Kvs[0].Value) != tt.wvalue {
			t.Fatalf("%s: value %q, want %q", tt.name, r.Kvs[0].Value, tt.wvalue)
		}
	}
	for _, rev := range []int64{2, 3} {
		_, err := s.Compact(&CompactionRequest{Revision: rev})
		wantStatus(t, err, CodeOutOfRange, "etcdserver: mvcc: required revision has been compacted")
	}
	// Compacting at the current revision is allowed; b's tombstone at 6 goes.
	cr, err := s.Compact(&CompactionRequest{Revision: 7, Physical: true})
	if err != nil {
		t.Fatal(err)
	}
	<-cr.PhysicalDone // the compaction hashes are taken by the compactor, before its deletes
	r, _ := s.Range(&RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Revision: 7})
	if len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "4" || r.Count != 1 {
		t.Fatalf("after compacting at 7: %+v", r)
	}
	h, err := s.HashKV(0)
	if err != nil || h.CompactRevision != 7 || h.HashRevision != 7 {
		t.Fatalf("hashkv: %+v %v", h, err)
	}
	if _, err := s.HashKV(5); err != ErrCompacted {
		t.Fatalf("hashkv below compact: %v", err)
	}
	// The hash taken when compacting at 3 is remembered, with the compact revision before it.
	h3, err := s.HashKV(3)
	if err != nil || h3.CompactRevision != -1 || h3.HashRevision != 3 {
		t.Fatalf("hashkv at an earlier compaction: %+v %v", h3, err)
	}
}

// fill puts keys a..e with values 4..0 (so value order is the reverse of key order) and
// gives c a second version.
func fill(t *testing.T) *Store {
	s := newTestStore(t)
	for i, k := range []string{"a", "b", "c", "d", "e"} {
		mustPut(t, s, k, string(rune('4'-i))) // revisions 2..6
	}
	mustPut(t, s, "c", "2")  // 7: c version 2
	mustPut(t, s, "zz", "x") // 8: outside the r/ ranges below when limited
	return s
}

func TestRangeOptions(t *testing.T) {
	s := fill(t)
	tests := []struct {
		name   string
		req    RangeRequest
		wkeys  []string
		wmore  bool
		wcount int64
	}{
		{"single key", RangeRequest{Key: []byte("c")}, []string{"c"}, false, 1},
		{"missing key", RangeRequest{Key: []byte("q")}, []string{}, false, 0},
		{"range", RangeRequest{Key: []byte("b"), RangeEnd: []byte("d")}, []string{"b", "c"}, false, 2},
		{"from key", RangeRequest{Key: []byte("d"), RangeEnd: []byte{0}}, []string{"d", "e", "zz"}, false, 3},
		{"all keys", RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}, []string{"a", "b", "c", "d", "e", "zz"}, false, 6},
		{"end before key", RangeRequest{Key: []byte("d"), RangeEnd: []byte("b")}, []string{}, false, 0},
		{"end equals key", RangeRequest{Key: []byte("d"), RangeEnd: []byte("d")}, []string{}, false, 0},
		{"limit", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), Limit: 2}, []string{"a", "b"}, true, 5},
		{"limit exact", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), Limit: 5}, []string{"a", "b", "c", "d", "e"}, false, 5},
		{"count only", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), CountOnly: true, Limit: 1}, []string{}, false, 5},
		{"descend by key", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), SortOrder: SortDescend, Limit: 2}, []string{"e", "d"}, true, 5},
		{"ascend by key", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), SortOrder: SortAscend}, []string{"a", "b", "c", "d", "e"}, false, 5},
		{"ascend by value", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), SortOrder: SortAscend, SortTarget: SortByValue}, []string{"e", "d", "c", "b", "a"}, false, 5},
		// etcd's quirk: a target with no order sorts ascending, but the limit applies first,
		// to the key-ordered range: a, b, c (limit+1) are fetched, then sorted by value.
		{"sort quirk", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), SortTarget: SortByValue, Limit: 2}, []string{"c", "b"}, true, 5},
		{"explicit order fetches all", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), SortOrder: SortAscend, SortTarget: SortByValue, Limit: 2}, []string{"e", "d"}, true, 5},
		{"by version descend", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), SortOrder: SortDescend, SortTarget: SortByVersion, Limit: 1}, []string{"c"}, true, 5},
		{"by mod descend", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), SortOrder: SortDescend, SortTarget: SortByMod, Limit: 2}, []string{"c", "e"}, true, 5},
		{"by create ascend", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), SortOrder: SortAscend, SortTarget: SortByCreate, Limit: 1}, []string{"a"}, true, 5},
		// Filters: count ignores them; more is computed after filtering.
		{"min mod", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), MinModRevision: 5}, []string{"c", "d", "e"}, false, 5},
		{"max mod", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), MaxModRevision: 3}, []string{"a", "b"}, false, 5},
		{"min create", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), MinCreateRevision: 4, Limit: 1}, []string{"c"}, true, 5},
		{"max create", RangeRequest{Key: []byte("a"), RangeEnd: []byte("f"), MaxCreateRevision: 4}, []string{"a", "b", "c"}, false, 5},
		{"historical", RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}, Revision: 3}, []string{"a", "b"}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := s.Range(&tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(r.Kvs); !slices.Equal(got, tt.wkeys) || r.More != tt.wmore || r.Count != tt.wcount {
				t.Fatalf("got keys %v more %v count %d, want %v %v %d", got, r.More, r.Count, tt.wkeys, tt.wmore, tt.wcount)
			}
			if r.Header.Revision != 8 {
				t.Fatalf("header revision %d, want 8", r.Header.Revision)
			}
		})
	}
}

func TestRangeKeysOnly(t *testing.T) {
	s := fill(t)
	r, err := s.Range(&RangeRequest{Key: []byte("c"), KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	kv := r.Kvs[0]
	if kv.Value != nil || kv.Version != 2 || kv.CreateRevision != 4 || kv.ModRevision != 7 {
		t.Fatalf("keys_only: %+v", kv)
	}
	// keys_only must not change what the store holds.
	r, _ = s.Range(&RangeRequest{Key: []byte("c")})
	if string(r.Kvs[0].Value) != "2" {
		t.Fatalf("value after keys_only read: %q", r.Kvs[0].Value)
	}
}

func TestPutOptions(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.LeaseGrant(&LeaseGrantRequest{ID: 7, TTL: 100}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Put(&PutRequest{Key: []byte("k"), Value: []byte("v1"), Lease: 7, PrevKv: true})
	if err != nil || r.PrevKv != nil {
		t.Fatalf("first put: %+v %v (a new key has no prev_kv)", r, err)
	}
	r, err = s.Put(&PutRequest{Key: []byte("k"), IgnoreValue: true, IgnoreLease: true, PrevKv: true})
	if err != nil || r.PrevKv == nil || string(r.PrevKv.Value) != "v1" {
		t.Fatalf("ignore put: %+v %v", r, err)
	}
	g, _ := s.Range(&RangeRequest{Key: []byte("k")})
	if kv := g.Kvs[0]; string(kv.Value) != "v1" || kv.Lease != 7 || kv.Version != 2 {
		t.Fatalf("after ignore_value+ignore_lease: %+v", kv)
	}
	// A put without a lease detaches it.
	mustPut(t, s, "k", "v2")
	ttl := s.LeaseTimeToLive(7, true)
	if len(ttl.Keys) != 0 {
		t.Fatalf("lease still holds %q", ttl.Keys)
	}
}

func TestDeletePrevKvs(t *testing.T) {
	s := fill(t)
	r, err := s.DeleteRange(&DeleteRangeRequest{Key: []byte("b"), RangeEnd: []byte("e"), PrevKv: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Deleted != 3 || !slices.Equal(keys(r.PrevKvs), []string{"b", "c", "d"}) || r.Header.Revision != 9 {
		t.Fatalf("delete: %+v", r)
	}
	g, _ := s.Range(&RangeRequest{Key: []byte("a"), RangeEnd: []byte{0}})
	if !slices.Equal(keys(g.Kvs), []string{"a", "e", "zz"}) {
		t.Fatalf("left: %v", keys(g.Kvs))
	}
}
