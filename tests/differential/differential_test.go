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

// target is a system answering etcd's requests: etcd, the core in-process, or a metastore
// server over gRPC.
type target interface {
	Put(context.Context, *pb.PutRequest) (*pb.PutResponse, error)
	DeleteRange(context.Context, *pb.DeleteRangeRequest) (*pb.DeleteRangeResponse, error)
	Range(context.Context, *pb.RangeRequest) (*pb.RangeResponse, error)
	Txn(context.Context, *pb.TxnRequest) (*pb.TxnResponse, error)
	Compact(context.Context, *pb.CompactionRequest) (*pb.CompactionResponse, error)
	LeaseGrant(context.Context, *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error)
	LeaseRevoke(context.Context, *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error)
	LeaseTimeToLive(context.Context, *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error)
	LeaseLeases(context.Context, *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error)
	HashKV(context.Context, *pb.HashKVRequest) (*pb.HashKVResponse, error)
}

// pair sends every request to a real etcd and to the system under test, and compares the
// answers.
type pair struct {
	t    *testing.T
	seed int64
	step int
	last string // the last request, for failure messages
	ctx  context.Context
	etcd target
	sut  target
	// sutHeaders: the system under test fills response headers (a server does; the core
	// in-process has no cluster, member or term).
	sutHeaders bool
	// stats counts answers per request kind: [kind][0] successes, [kind][1] errors.
	stats map[string]*[2]int
}

// numOps is how many random operations a run makes: DIFF_OPS, or full (short under -short).
func numOps(t *testing.T, full, short int) int {
	if s := os.Getenv("DIFF_OPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("DIFF_OPS: %v", err)
		}
		return n
	}
	if testing.Short() {
		return short
	}
	return full
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
	s, err := core.New(core.Config{Clock: clock.NewManual(time.Unix(1_700_000_000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runDifferential(t, coreTarget{s}, false, s, func(reqs []*pb.WatchCreateRequest) *watchLog {
		return startCoreWatches(t, s, reqs)
	})
}

// revisions tells the generator where the system under test stands.
type revisions interface {
	Rev() int64
	CompactRev() int64
}

func runDifferential(t *testing.T, sut target, sutHeaders bool, revs revisions, watch func([]*pb.WatchCreateRequest) *watchLog) {
	etcd := etcdoracle.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &pair{
		t: t, seed: seed(t), ctx: ctx, stats: map[string]*[2]int{},
		etcd: grpcTarget(etcd.Conn), sut: sut, sutHeaders: sutHeaders,
	}
	t.Logf("seed %d (rerun with DIFF_SEED=%d)", p.seed, p.seed)
	g := &gen{rng: rand.New(rand.NewSource(p.seed)), rev: 1, compact: -1}

	watches := []*pb.WatchCreateRequest{
		{Key: []byte{0}, RangeEnd: []byte{0}, PrevKv: true},
		{Key: []byte("k1"), RangeEnd: []byte("k2"), Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}},
		{Key: []byte("k05"), PrevKv: true, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NODELETE}},
	}
	ew := startGRPCWatches(t, ctx, "etcd", pb.NewWatchClient(etcd.Conn), watches)
	cw := watch(watches)

	n := numOps(t, 20000, 3000)
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
		g.rev, g.compact = revs.Rev(), revs.CompactRev()
		if p.t.Failed() {
			return
		}
	}
	if g.rev < int64(n)/5 {
		t.Fatalf("only %d revisions after %d ops: the generator writes too little", g.rev, n)
	}
	t.Logf("%d ops, final revision %d, compact revision %d", n, g.rev, g.compact)
	for _, k := range slices.Sorted(maps.Keys(p.stats)) {
		t.Logf("  %-17s %6d ok %6d errors", k, p.stats[k][0], p.stats[k][1])
		if p.stats[k][0] == 0 {
			t.Errorf("no %s request succeeded: the generator is degenerate", k)
		}
	}

	want := ew.collect(t, g.rev)
	got := cw.collect(t, g.rev)
	for i := range watches {
		compareEvents(t, i, want[i], got[i], g.compact)
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
			p.t.Fatalf("step %d (seed %d) %s: %s\netcd error: %v\nour error: %v\netcd resp: %v\nour resp: %v",
				p.step, p.seed, what, p.last, werr, gerr, want, got)
		}
		return
	}
	if err := checkHeaders(want, got, p.sutHeaders); err != nil {
		p.t.Fatalf("step %d (seed %d) %s: %s\n%v\netcd: %v\nours: %v", p.step, p.seed, what, p.last, err, want, got)
	}
	normalize(want)
	normalize(got)
	wb, _ := proto.Marshal(want)
	gb, _ := proto.Marshal(got)
	if !bytes.Equal(wb, gb) {
		p.t.Fatalf("step %d (seed %d) %s: %s\netcd: %v\nours: %v", p.step, p.seed, what, p.last, want, got)
	}
}

// checkHeaders applies the rule "a comparison that normalises a field away must still check
// it is there" before normalize clears cluster_id, member_id and raft_term: etcd's response
// header must carry all three and its revision (else this check would check nothing), and,
// when the system under test fills headers, its header must carry every field etcd's does.
// The revision's value is then compared exactly with the rest of the response.
func checkHeaders(want, got proto.Message, sutHeaders bool) error {
	wh, ok := want.(interface{ GetHeader() *pb.ResponseHeader })
	if !ok {
		return fmt.Errorf("etcd's %T has no header", want)
	}
	if err := headerComplete("etcd", wh.GetHeader()); err != nil {
		return err
	}
	if !sutHeaders {
		return nil
	}
	gh, ok := got.(interface{ GetHeader() *pb.ResponseHeader })
	if !ok {
		return fmt.Errorf("metastore's %T has no header", got)
	}
	return headerLike(wh.GetHeader(), gh.GetHeader())
}

// headerComplete requires every field of a response header: cluster_id, member_id, revision,
// raft_term.
func headerComplete(who string, h *pb.ResponseHeader) error {
	if h == nil {
		return fmt.Errorf("%s's response has no header", who)
	}
	if h.ClusterId == 0 || h.MemberId == 0 || h.Revision == 0 || h.RaftTerm == 0 {
		return fmt.Errorf("%s's header lacks a field (zero): %v", who, h)
	}
	return nil
}

// headerLike requires got to carry (non-zero) every header field want carries.
func headerLike(want, got *pb.ResponseHeader) error {
	if want == nil {
		return nil
	}
	if got == nil {
		return fmt.Errorf("metastore's response has no header; etcd's is %v", want)
	}
	for _, f := range []struct {
		name      string
		want, got uint64
	}{
		{"cluster_id", want.ClusterId, got.ClusterId},
		{"member_id", want.MemberId, got.MemberId},
		{"revision", uint64(want.Revision), uint64(got.Revision)},
		{"raft_term", want.RaftTerm, got.RaftTerm},
	} {
		if f.want != 0 && f.got == 0 {
			return fmt.Errorf("metastore's header lacks %s (etcd's is %d): %v", f.name, f.want, got)
		}
	}
	return nil
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
		clearHeader(r.Header) // the hash itself is compared: it is etcd's
	}
}

func clearHeader(h *pb.ResponseHeader) {
	if h != nil {
		h.ClusterId, h.MemberId, h.RaftTerm = 0, 0, 0
	}
}

func (p *pair) put(r *pb.PutRequest) {
	p.begin("put " + r.String())
	want, werr := p.etcd.Put(p.ctx, r)
	got, gerr := p.sut.Put(p.ctx, r)
	p.check("put", want, werr, got, gerr)
}

func (p *pair) del(r *pb.DeleteRangeRequest) {
	p.begin("delete " + r.String())
	want, werr := p.etcd.DeleteRange(p.ctx, r)
	got, gerr := p.sut.DeleteRange(p.ctx, r)
	p.check("delete", want, werr, got, gerr)
}

func (p *pair) rng(r *pb.RangeRequest) {
	p.begin("range " + r.String())
	want, werr := p.etcd.Range(p.ctx, r)
	got, gerr := p.sut.Range(p.ctx, r)
	p.check("range", want, werr, got, gerr)
}

func (p *pair) txn(r *pb.TxnRequest) {
	p.begin("txn " + r.String())
	want, werr := p.etcd.Txn(p.ctx, r)
	got, gerr := p.sut.Txn(p.ctx, r)
	p.check("txn", want, werr, got, gerr)
}

// compact compacts both physically: etcd compacts in the background and records the
// compaction's hash (which a HashKV at that revision then returns, with the previous
// compaction's revision) only when done, so a HashKV sent right after a non-physical compact
// sees either answer depending on timing. The core compacts at once, always.
func (p *pair) compact(rev int64) {
	p.begin(fmt.Sprintf("compact %d", rev))
	want, werr := p.etcd.Compact(p.ctx, &pb.CompactionRequest{Revision: rev, Physical: true})
	got, gerr := p.sut.Compact(p.ctx, &pb.CompactionRequest{Revision: rev, Physical: true})
	p.check("compact", want, werr, got, gerr)
}

func (p *pair) grant(id, ttl int64) {
	if id == 0 {
		id = 7 // the core and etcd would pick different IDs
	}
	// TTLs stay far above the minimum: etcd's leases expire on its wall clock, the core's
	// on a manual one. Minimum-TTL raising is covered by the core's table tests.
	p.begin(fmt.Sprintf("lease grant id=%d ttl=%d", id, ttl))
	want, werr := p.etcd.LeaseGrant(p.ctx, &pb.LeaseGrantRequest{ID: id, TTL: ttl})
	got, gerr := p.sut.LeaseGrant(p.ctx, &pb.LeaseGrantRequest{ID: id, TTL: ttl})
	p.check("lease grant", want, werr, got, gerr)
}

func (p *pair) revoke(id int64) {
	p.begin(fmt.Sprintf("lease revoke %d", id))
	want, werr := p.etcd.LeaseRevoke(p.ctx, &pb.LeaseRevokeRequest{ID: id})
	got, gerr := p.sut.LeaseRevoke(p.ctx, &pb.LeaseRevokeRequest{ID: id})
	p.check("lease revoke", want, werr, got, gerr)
}

func (p *pair) timeToLive(id int64, keys bool) {
	p.begin(fmt.Sprintf("lease timetolive %d keys=%v", id, keys))
	want, werr := p.etcd.LeaseTimeToLive(p.ctx, &pb.LeaseTimeToLiveRequest{ID: id, Keys: keys})
	got, gerr := p.sut.LeaseTimeToLive(p.ctx, &pb.LeaseTimeToLiveRequest{ID: id, Keys: keys})
	p.check("lease timetolive", want, werr, got, gerr)
}

func (p *pair) leases() {
	p.begin("lease list")
	want, werr := p.etcd.LeaseLeases(p.ctx, &pb.LeaseLeasesRequest{})
	got, gerr := p.sut.LeaseLeases(p.ctx, &pb.LeaseLeasesRequest{})
	p.check("lease list", want, werr, got, gerr)
}

func (p *pair) hashKV(rev int64) {
	p.begin(fmt.Sprintf("hashkv %d", rev))
	want, werr := p.etcd.HashKV(p.ctx, &pb.HashKVRequest{Revision: rev})
	got, gerr := p.sut.HashKV(p.ctx, &pb.HashKVRequest{Revision: rev})
	p.check("hashkv", want, werr, got, gerr)
}
