package v3rpc

import (
	"context"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	epb "go.etcd.io/etcd/server/v3/etcdserver/api/v3election/v3electionpb"
	lpb "go.etcd.io/etcd/server/v3/etcdserver/api/v3lock/v3lockpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pbconv"
)

// GRPCOverhead is what etcd allows on top of --max-request-bytes for a received message.
const GRPCOverhead = 512 * 1024

// Options configure the gRPC server.
type Options struct {
	Logger *slog.Logger
	// ClientCertAuth: a verified client certificate's common name is the user of a request
	// without a token (etcd's --client-cert-auth).
	ClientCertAuth bool
	// GRPC are further server options (TLS credentials, limits).
	GRPC []grpc.ServerOption
}

// NewServer returns a gRPC server with every etcd service registered over n. Interceptors
// recover from panics (a bad request must never take the server down), map errors, and
// pass on who the caller is (their token or certificate) for the member to check.
func NewServer(n *node.Node, o Options) *grpc.Server {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	e := &edge{log: log, certAuth: o.ClientCertAuth, hasLeader: func() bool { return n.Leader() != 0 }, isLearner: n.IsLearner}
	s := grpc.NewServer(append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(n.Config().MaxRequestBytes + GRPCOverhead),
		grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.MaxConcurrentStreams(math.MaxUint32),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5e9}),
		grpc.InTapHandle(tapHeaders),
		grpc.ChainUnaryInterceptor(e.unary),
		grpc.ChainStreamInterceptor(e.stream),
	}, o.GRPC...)...)
	pb.RegisterKVServer(s, &kvServer{n: n})
	pb.RegisterWatchServer(s, &watchServer{n: n})
	pb.RegisterLeaseServer(s, &leaseServer{n: n})
	pb.RegisterMaintenanceServer(s, &maintenanceServer{n: n})
	pb.RegisterClusterServer(s, &clusterServer{n: n})
	pb.RegisterAuthServer(s, &authServer{n: n})
	epb.RegisterElectionServer(s, &electionServer{n: n})
	lpb.RegisterLockServer(s, &lockServer{n: n})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s, hs)
	return s
}

// edge is what every call goes through before its handler, as one interceptor rather than a
// chain of four (one closure and frame per call, one wrapper per stream): a panic becomes
// Internal instead of killing the server; etcd's metadata checks and a learner's refusals;
// the caller's credentials into the context; and every error becomes etcd's status error.
type edge struct {
	log       *slog.Logger
	certAuth  bool
	hasLeader func() bool
	isLearner func() bool
}

func (e *edge) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("panic serving request", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
			resp, err = nil, status.Error(codes.Internal, "metastore: internal error")
		}
	}()
	hd := headersOf(ctx)
	if err := checkMetadata(hd, e.hasLeader); err != nil {
		return nil, pbconv.Error(err)
	}
	if e.isLearner() && !learnerAllowed(req) && !isHealthCheck(info.FullMethod) {
		return nil, pbconv.Error(pbconv.ErrNotSupportedForLearner)
	}
	resp, err = h(node.WithCredentials(ctx, credentialsOf(ctx, hd, e.certAuth)), req)
	return resp, pbconv.Error(err)
}

func (e *edge) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error("panic serving stream", "method", info.FullMethod, "panic", p, "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "metastore: internal error")
		}
	}()
	ctx := ss.Context()
	hd := headersOf(ctx)
	if err := checkMetadata(hd, e.hasLeader); err != nil {
		return pbconv.Error(err)
	}
	if e.isLearner() && info.FullMethod != "/etcdserverpb.Maintenance/Snapshot" && !isHealthCheck(info.FullMethod) {
		return pbconv.Error(pbconv.ErrNotSupportedForLearner)
	}
	// The credentials are captured when the stream opens, as etcd's.
	return pbconv.Error(h(srv, &streamWithContext{ss, node.WithCredentials(ctx, credentialsOf(ctx, hd, e.certAuth))}))
}

// checkMetadata applies etcd's checks on request metadata: a client-api-version that is not
// UTF-8 is refused, and "hasleader: true" (clientv3's WithRequireLeader, and every lease
// keep-alive stream) fails while the member has no leader.
func checkMetadata(h *headers, hasLeader func() bool) error {
	if h.hasAPIVersion && !utf8.ValidString(h.apiVersion) {
		return status.Error(codes.InvalidArgument, "etcdserver: invalid client api version")
	}
	if h.requireLeader && !hasLeader() {
		return node.ErrNoLeader
	}
	return nil
}

// headers is what the edge reads from a call's metadata.
type headers struct {
	apiVersion    string
	hasAPIVersion bool
	requireLeader bool   // "hasleader: true"
	token         string // "token", else "authorization" without its "Bearer "
	hasToken      bool
	gateway       bool // "grpcgateway-accept": the call came through the JSON gateway
}

type headersKey struct{}

// tapHeaders reads a call's headers once, in gRPC's transport, as it takes the call: read
// from the context instead, each key walks the context and each absent one every header
// (3-4% of the CPU per keep-alive, as etcd's benchmark opens a stream for each, and per
// range). gRPC taps only its own HTTP/2 server, not calls through ServeHTTP.
func tapHeaders(ctx context.Context, info *tap.Info) (context.Context, error) {
	h := readHeaders(func(key string) []string { return info.Header[key] }) // keys are lower case in HTTP/2
	return context.WithValue(ctx, headersKey{}, h), nil
}

// headersOf returns what tapHeaders read, or reads it from the context's metadata (calls
// through ServeHTTP: gRPC-Web, and native gRPC on a TLS port).
func headersOf(ctx context.Context) *headers {
	if h, ok := ctx.Value(headersKey{}).(*headers); ok {
		return h
	}
	return readHeaders(func(key string) []string { return metadata.ValueFromIncomingContext(ctx, key) })
}

func readHeaders(get func(key string) []string) *headers {
	h := &headers{}
	if v := get("client-api-version"); len(v) > 0 {
		h.apiVersion, h.hasAPIVersion = v[0], true
	}
	if v := get("hasleader"); len(v) > 0 && v[0] == "true" {
		h.requireLeader = true
	}
	for _, key := range []string{"token", "authorization"} {
		if v := get(key); len(v) > 0 {
			h.token, h.hasToken = strings.TrimPrefix(v[0], "Bearer "), true
			break
		}
	}
	h.gateway = len(get("grpcgateway-accept")) > 0
	return h
}

// learnerAllowed is what a learner serves, as etcd's: Status, serializable Range and the
// Snapshot stream; everything else is refused.
func learnerAllowed(req any) bool {
	switch r := req.(type) {
	case *pb.StatusRequest:
		return true
	case *pb.RangeRequest:
		return r.Serializable
	}
	return false
}

func isHealthCheck(method string) bool { return strings.HasPrefix(method, "/grpc.health.v1.") }
