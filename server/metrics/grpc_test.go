package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

type fakeKV struct{ pb.UnimplementedKVServer }

func (fakeKV) Put(context.Context, *pb.PutRequest) (*pb.PutResponse, error) {
	return &pb.PutResponse{}, nil
}

func (fakeKV) Range(context.Context, *pb.RangeRequest) (*pb.RangeResponse, error) {
	return nil, status.Error(codes.OutOfRange, "etcdserver: mvcc: required revision has been compacted")
}

type fakeLease struct{ pb.UnimplementedLeaseServer }

// LeaseKeepAlive answers each request until the client closes its side.
func (fakeLease) LeaseKeepAlive(s pb.Lease_LeaseKeepAliveServer) error {
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Send(&pb.LeaseKeepAliveResponse{ID: r.ID, TTL: 5}); err != nil {
			return err
		}
	}
}

// TestGRPCMetrics: calls through a real gRPC server count as go-grpc-prometheus (etcd's)
// counts them: a message sent only when it was, a failed unary call under its code, each
// message of a stream, and every method at zero before its first call.
func TestGRPCMetrics(t *testing.T) {
	g := newGRPCMetrics()
	s := grpc.NewServer(grpc.ChainUnaryInterceptor(g.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(g.StreamServerInterceptor()))
	pb.RegisterKVServer(s, &fakeKV{})
	pb.RegisterLeaseServer(s, &fakeLease{})
	g.InitializeMetrics(s)
	l := bufconn.Listen(1 << 20)
	go s.Serve(l)
	defer s.Stop()
	conn, err := grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	kv, lease := pb.NewKVClient(conn), pb.NewLeaseClient(conn)
	for range 2 {
		if _, err := kv.Put(ctx, &pb.PutRequest{Key: []byte("k")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kv.Range(ctx, &pb.RangeRequest{Key: []byte("k")}); status.Code(err) != codes.OutOfRange {
		t.Fatalf("range: %v", err)
	}
	ka, err := lease.LeaseKeepAlive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := ka.Send(&pb.LeaseKeepAliveRequest{ID: int64(i + 1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ka.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	ka.CloseSend()
	if _, err := ka.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("the keep-alive stream ended with %v", err)
	}

	const kvs, leases = "etcdserverpb.KV", "etcdserverpb.Lease"
	for _, w := range []struct {
		name   string
		c      *prometheus.CounterVec
		labels []string
		want   float64
	}{
		{"put started", g.started, []string{"unary", kvs, "Put"}, 2},
		{"put received", g.received, []string{"unary", kvs, "Put"}, 2},
		{"put sent", g.sent, []string{"unary", kvs, "Put"}, 2},
		{"put handled OK", g.handled, []string{"unary", kvs, "Put", "OK"}, 2},
		{"range started", g.started, []string{"unary", kvs, "Range"}, 1},
		{"range sent (it failed)", g.sent, []string{"unary", kvs, "Range"}, 0},
		{"range handled OutOfRange", g.handled, []string{"unary", kvs, "Range", "OutOfRange"}, 1},
		{"range handled OK", g.handled, []string{"unary", kvs, "Range", "OK"}, 0},
		{"keep-alive started", g.started, []string{"bidi_stream", leases, "LeaseKeepAlive"}, 1},
		{"keep-alive received (not the end of the stream)", g.received, []string{"bidi_stream", leases, "LeaseKeepAlive"}, 3},
		{"keep-alive sent", g.sent, []string{"bidi_stream", leases, "LeaseKeepAlive"}, 3},
		{"keep-alive handled OK", g.handled, []string{"bidi_stream", leases, "LeaseKeepAlive", "OK"}, 1},
		{"txn started (never called)", g.started, []string{"unary", kvs, "Txn"}, 0},
		{"lease grant handled Unavailable (never called)", g.handled, []string{"unary", leases, "LeaseGrant", "Unavailable"}, 0},
	} {
		m, err := w.c.GetMetricWithLabelValues(w.labels...)
		if err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if got := testutil.ToFloat64(m); got != w.want {
			t.Errorf("%s: %v, want %v", w.name, got, w.want)
		}
	}
	// Every method's series exist before its first call, the handled one for every code.
	if got, want := testutil.CollectAndCount(g.handling), countMethods(s); got != want {
		t.Errorf("%d handling-time series, want one per method (%d)", got, want)
	}
	if got, want := testutil.CollectAndCount(g.handled), countMethods(s)*numCodes; got != want {
		t.Errorf("%d handled series, want one per method and code (%d)", got, want)
	}
}

func countMethods(s *grpc.Server) int {
	n := 0
	for _, info := range s.GetServiceInfo() {
		n += len(info.Methods)
	}
	return n
}
