//go:build !js

package differential

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/internal/etcdoracle"
	"github.com/metastore/metastore/server/pbconv"
)

// pair sends every request to a real etcd and to the core, and compares the answers.
type pair struct {
	t     *testing.T
	seed  int64
	step  int
	last  string // the last request, for failure messages
	ctx   context.Context
	kv    pb.KVClient
	lease pb.LeaseClient
	maint pb.MaintenanceClient
	core  *core.Store
	// stats counts answers per request kind: [kind][0] successes, [kind][1] errors.
	stats map[string]*[2]int
}

func numOps(t *testing.T) int {
	if s := os.Getenv("DIFF_OPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("DIFF_OPS: %v", err)
		}
		return n
	}
	if testing.Short() {
		return 3000
	}
	return 20000
}

func seed(t *testing.T) int64 {
	if s := os.Getenv("DIFF_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("DIFF_SEED: %v", err)
		}
		return n
	}
	return time.Now().UnixNano()
}

// TestDifferential runs seeded random put/delete/range/txn/compact/lease operations on etcd
// and on the core and requires identical responses (headers aside from the revision), then
// compares the watch streams of both event by event.
func TestDifferential(t *testing.T) {
	etcd := etcdoracle.Start(t)
	s, err := core.New(core.Config{Clock: clock.NewManual(time.Unix(1_700_000_000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &pair{
		t: t, seed: seed(t), ctx: ctx, core: s, stats: map[string]*[2]int{},
		kv: pb.NewKVClient(etcd.Conn), lease: pb.NewLeaseClient(etcd.Conn), maint: pb.NewMaintenanceClient(etcd.Conn),
	}
	t.Logf("seed %d (rerun with DIFF_SEED=%d)", p.seed, p.seed)
	g := &gen{rng: rand.New(rand.NewSource(p.seed)), rev: 1, compact: -1}

	watches := []*pb.WatchCreateRequest{
		{Key: []byte{0}, RangeEnd: []byte{0}, PrevKv: true},
		{Key: []byte("k1"), RangeEnd: []byte("k2"), Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}},
		{Key: []byte("k05"), PrevKv: true, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NODELETE}},
	}
	ew := startEtcdWatches(t, ctx, pb.NewWatchClient(etcd.Conn), watches)
	cw := startCoreWatches(t, s, watches)

	n := numOps(t)
	for p.step = 0; p.step < n; p.step++ {
		switch k := g.rng.Intn(100); {
		case k < 28:
			p.put(g.putReq())
		case k < 38:
			p.del(g.deleteReq())
		case k < 63:
			p.rng(g.rangeReq())
		case k < 88:
			p.txn(g.txnReq(0))
		case k < 89:
			p.txn(bigTxn(g))
		case k < 91:
			p.compact(g.compactRev())
		case k < 95:
			p.grant(g.lease(), []int64{3600, 7200, 9_000_000_001}[g.rng.Intn(3)])
		case k < 97:
			p.revoke(g.lease())
		case k < 99:
			p.timeToLive(g.lease(), g.rng.Intn(2) == 0)
		default:
			p.leases()
			p.hashKV(g.revision())
		}
		g.rev, g.compact = s.Rev(), s.CompactRev()
		if p.t.Failed() {
			return
		}
	}
	if s.Rev() < int64(n)/5 {
		t.Fatalf("only %d revisions after %d ops: the generator writes too little", s.Rev(), n)
	}
	t.Logf("%d ops, final revision %d, compact revision %d", n, s.Rev(), s.CompactRev())
	for _, k := range slices.Sorted(maps.Keys(p.stats)) {
		t.Logf("  %-17s %6d ok %6d errors", k, p.stats[k][0], p.stats[k][1])
		if p.stats[k][0] == 0 {
			t.Errorf("no %s request succeeded: the generator is degenerate", k)
		}
	}

	want := ew.collect(t, s.Rev())
	got := cw.collect(t, s.Rev())
	for i := range watches {
		compareEvents(t, i, want[i], got[i], s.CompactRev())
	}
}

func bigTxn(g *gen) *pb.TxnRequest {
	r := &pb.TxnRequest{}
	for i := 0; i < 129; i++ {
		r.Success = append(r.Success, &pb.RequestOp{Request: &pb.RequestOp_RequestRange{RequestRange: &pb.RangeRequest{Key: g.key()}}})
	}
	return r
}

// begin records the request about to be sent, and prints it with DIFF_TRACE set (a request
// that crashes etcd leaves no test log).
func (p *pair) begin(req string) {
	p.last = req
	if os.Getenv("DIFF_TRACE") != "" {
		fmt.Fprintf(os.Stderr, "step %d: %s\n", p.step, req)
	}
}

// check compares etcd's answer (resp, err) with the core's.
func (p *pair) check(what string, want proto.Message, werr error, got proto.Message, gerr error) {
	p.t.Helper()
	st := p.stats[what]
	if st == nil {
		st = &[2]int{}
		p.stats[what] = st
	}
	if werr != nil {
		st[1]++
	} else {
		st[0]++
	}

	if werr != nil || gerr != nil {
		ws, gs := status.Convert(werr), status.Convert(pbconv.Error(gerr))
		if werr == nil || gerr == nil || ws.Code() != gs.Code() || ws.Message() != gs.Message() {
			p.t.Fatalf("step %d (seed %d) %s: %s\netcd error: %v\ncore error: %v\netcd resp: %v\ncore resp: %v",
				p.step, p.seed, what, p.last, werr, gerr, want, got)
		}
		return
	}
	normalize(want)
	normalize(got)
	wb, _ := proto.Marshal(want)
	gb, _ := proto.Marshal(got)
	if !bytes.Equal(wb, gb) {
		p.t.Fatalf("step %d (seed %d) %s: %s\netcd: %v\ncore: %v", p.step, p.seed, what, p.last, want, got)
	}
}

// normalize clears what legitimately differs: cluster identity, raft term, remaining lease
// time, lease and key listing order, and the hash value (the core hashes its own encoding).
func normalize(m proto.Message) {
	switch r := m.(type) {
	case *pb.RangeResponse:
		clearHeader(r.Header)
	case *pb.PutResponse:
		clearHeader(r.Header)
	case *pb.DeleteRangeResponse:
		clearHeader(r.Header)
	case *pb.TxnResponse:
		clearHeader(r.Header)
	case *pb.CompactionResponse:
		clearHeader(r.Header)
	case *pb.LeaseGrantResponse:
		clearHeader(r.Header)
	case *pb.LeaseRevokeResponse:
		clearHeader(r.Header)
	case *pb.LeaseTimeToLiveResponse:
		clearHeader(r.Header)
		if r.TTL > 0 {
			r.TTL = 1
		}
		slices.SortFunc(r.Keys, bytes.Compare)
	case *pb.LeaseLeasesResponse:
		clearHeader(r.Header)
		slices.SortFunc(r.Leases, func(a, b *pb.LeaseStatus) int { return int(a.ID - b.ID) })
	case *pb.HashKVResponse:
		clearHeader(r.Header)
		r.Hash = 0
	}
}

func clearHeader(h *pb.ResponseHeader) {
	if h != nil {
		h.ClusterId, h.MemberId, h.RaftTerm = 0, 0, 0
	}
}

func (p *pair) put(r *pb.PutRequest) {
	p.begin("put " + r.String())
	want, werr := p.kv.Put(p.ctx, r)
	got, gerr := p.core.Put(pbconv.PutRequest(r))
	p.check("put", want, werr, conv(got, gerr, pbconv.PutResponse), gerr)
}

func (p *pair) del(r *pb.DeleteRangeRequest) {
	p.begin("delete " + r.String())
	want, werr := p.kv.DeleteRange(p.ctx, r)
	got, gerr := p.core.DeleteRange(pbconv.DeleteRangeRequest(r))
	p.check("delete", want, werr, conv(got, gerr, pbconv.DeleteRangeResponse), gerr)
}

func (p *pair) rng(r *pb.RangeRequest) {
	p.begin("range " + r.String())
	want, werr := p.kv.Range(p.ctx, r)
	got, gerr := p.core.Range(pbconv.RangeRequest(r))
	p.check("range", want, werr, conv(got, gerr, pbconv.RangeResponse), gerr)
}

func (p *pair) txn(r *pb.TxnRequest) {
	p.begin("txn " + r.String())
	want, werr := p.kv.Txn(p.ctx, r)
	got, gerr := p.core.Txn(pbconv.TxnRequest(r))
	p.check("txn", want, werr, conv(got, gerr, pbconv.TxnResponse), gerr)
}

func (p *pair) compact(rev int64) {
	p.begin(fmt.Sprintf("compact %d", rev))
	want, werr := p.kv.Compact(p.ctx, &pb.CompactionRequest{Revision: rev})
	got, gerr := p.core.Compact(&core.CompactionRequest{Revision: rev})
	p.check("compact", want, werr, conv(got, gerr, pbconv.CompactionResponse), gerr)
}

func (p *pair) grant(id, ttl int64) {
	if id == 0 {
		id = 7 // the core and etcd would pick different IDs
	}
	// TTLs stay far above the minimum: etcd's leases expire on its wall clock, the core's
	// on a manual one. Minimum-TTL raising is covered by the core's table tests.
	p.begin(fmt.Sprintf("lease grant id=%d ttl=%d", id, ttl))
	want, werr := p.lease.LeaseGrant(p.ctx, &pb.LeaseGrantRequest{ID: id, TTL: ttl})
	got, gerr := p.core.LeaseGrant(&core.LeaseGrantRequest{ID: id, TTL: ttl})
	p.check("lease grant", want, werr, conv(got, gerr, pbconv.LeaseGrantResponse), gerr)
}

func (p *pair) revoke(id int64) {
	p.begin(fmt.Sprintf("lease revoke %d", id))
	want, werr := p.lease.LeaseRevoke(p.ctx, &pb.LeaseRevokeRequest{ID: id})
	got, gerr := p.core.LeaseRevoke(id)
	p.check("lease revoke", want, werr, conv(got, gerr, pbconv.LeaseRevokeResponse), gerr)
}

func (p *pair) timeToLive(id int64, keys bool) {
	p.begin(fmt.Sprintf("lease timetolive %d keys=%v", id, keys))
	want, werr := p.lease.LeaseTimeToLive(p.ctx, &pb.LeaseTimeToLiveRequest{ID: id, Keys: keys})
	got := pbconv.LeaseTimeToLiveResponse(p.core.LeaseTimeToLive(id, keys), &pbconv.Header{})
	p.check("lease timetolive", want, werr, got, nil)
}

func (p *pair) leases() {
	p.begin("lease list")
	want, werr := p.lease.LeaseLeases(p.ctx, &pb.LeaseLeasesRequest{})
	got := pbconv.LeaseLeasesResponse(p.core.LeaseLeases(), &pbconv.Header{})
	p.check("lease list", want, werr, got, nil)
}

func (p *pair) hashKV(rev int64) {
	p.begin(fmt.Sprintf("hashkv %d", rev))
	want, werr := p.maint.HashKV(p.ctx, &pb.HashKVRequest{Revision: rev})
	got, gerr := p.core.HashKV(rev)
	p.check("hashkv", want, werr, conv(got, gerr, pbconv.HashKVResponse), gerr)
}

// conv converts a core response unless the call failed.
func conv[R any, P proto.Message](r *R, err error, f func(*R, *pbconv.Header) P) proto.Message {
	if err != nil {
		return nil
	}
	return f(r, &pbconv.Header{})
}
