package core

import (
	"errors"
	"testing"

	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/mvcc"
)

// TestSnapshotCompactedAboveLastRecord: a store whose compact revision is above its newest
// record (after BumpRevision, a restore's --bump-revision; or converted from an etcd file
// whose newest revisions were compacted tombstones) snapshots and restores at that revision.
func TestSnapshotCompactedAboveLastRecord(t *testing.T) {
	clk := clock.NewManual(snapEpoch)
	s := snapMust(New(Config{Clock: clk}))(t)
	defer s.Close()
	snapMust(s.Put(&PutRequest{Key: []byte("a"), Value: []byte("1")}))(t) // 2
	snapMust(s.Put(&PutRequest{Key: []byte("b"), Value: []byte("1")}))(t) // 3
	snapMust(s.DeleteRange(&DeleteRangeRequest{Key: []byte("b")}))(t)     // 4
	if err := s.BumpRevision(6); err != nil {
		t.Fatal(err)
	}
	r := snapRestore(t, snapWrite(t, s), Config{Clock: clk})
	if r.Rev() != 10 || r.CompactRev() != 10 {
		t.Fatalf("restored at revision %d, compacted %d; want 10 and 10", r.Rev(), r.CompactRev())
	}
	if _, err := r.Range(&RangeRequest{Key: []byte("a"), Revision: 9}); !errors.Is(err, mvcc.ErrCompacted) {
		t.Fatalf("range at 9: %v, want compacted", err)
	}
	got := snapMust(r.Range(&RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: 10}))(t)
	if len(got.Kvs) != 1 || string(got.Kvs[0].Key) != "a" || got.Kvs[0].ModRevision != 2 {
		t.Fatalf("at 10: %+v, want a@2 alone", got.Kvs)
	}
	if p := snapMust(r.Put(&PutRequest{Key: []byte("b"), Value: []byte("2")}))(t); p.Header.Revision != 11 {
		t.Fatalf("the next write is at %d, want 11", p.Header.Revision)
	}
}
