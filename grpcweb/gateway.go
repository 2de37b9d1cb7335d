package grpcweb

import (
	"context"
	"net/http"

	gw "github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/tmc/grpc-websocket-proxy/wsproxy"
	etcdgw "go.etcd.io/etcd/api/v3/etcdserverpb/gw"
	electiongw "go.etcd.io/etcd/server/v3/etcdserver/api/v3election/v3electionpb/gw"
	lockgw "go.etcd.io/etcd/server/v3/etcdserver/api/v3lock/v3lockpb/gw"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
)

// Gateway serves etcd's JSON API under /v3/ (POST /v3/kv/range, /v3/watch, /v3/lease/grant,
// …): etcd's own generated grpc-gateway handlers and JSON settings, in front of a connection
// to this server's gRPC port, as etcd does. So bytes are base64, int64 values are strings,
// and every request goes through the same gRPC path as native clients'. Streams (watch,
// lease keep-alive) also work over WebSocket, as in etcd. Unlike etcd's, CORS preflights
// from allowed origins are answered.
type Gateway struct {
	mux     http.Handler
	policy  Origins
	maxBody int64
}

// NewGateway registers the JSON handlers over conn, a client connection to this server. A
// request body over maxBody bytes is refused before it is decoded (JSON is larger than the
// protobuf it carries, so maxBody should allow for that).
func NewGateway(ctx context.Context, conn *grpc.ClientConn, cors Origins, maxBody int64) (*Gateway, error) {
	mux := gw.NewServeMux(gw.WithMarshalerOption(gw.MIMEWildcard, &gw.HTTPBodyMarshaler{
		Marshaler: &gw.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
		},
	}))
	for _, register := range []func(context.Context, *gw.ServeMux, *grpc.ClientConn) error{
		etcdgw.RegisterKVHandler, etcdgw.RegisterWatchHandler, etcdgw.RegisterLeaseHandler,
		etcdgw.RegisterClusterHandler, etcdgw.RegisterMaintenanceHandler, etcdgw.RegisterAuthHandler,
		lockgw.RegisterLockHandler, electiongw.RegisterElectionHandler,
	} {
		if err := register(ctx, mux, conn); err != nil {
			return nil, err
		}
	}
	ws := wsproxy.WebsocketProxy(mux,
		wsproxy.WithRequestMutator(func(_ *http.Request, out *http.Request) *http.Request {
			out.Method = http.MethodPost // streams are POSTs behind the socket
			return out
		}),
		wsproxy.WithMaxRespBodyBufferSize(0x7fffffff),
	)
	return &Gateway{mux: ws, policy: cors, maxBody: maxBody}, nil
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if !g.policy.Permits(r) {
		http.Error(w, "metastore: origin not allowed (see --cors)", http.StatusForbidden)
		return
	}
	if origin != "" {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE")
		if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
			w.Header().Set("Access-Control-Allow-Headers", h)
		}
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if g.maxBody > 0 && !isWebSocket(r) {
		r.Body = http.MaxBytesReader(w, r.Body, g.maxBody)
	}
	// grpc-gateway passes Accept on as "grpcgateway-accept", by which the server tells the
	// gateway's calls (made with the member's own certificate) from a client's: never let
	// the member's certificate name the user.
	if r.Header.Get("Accept") == "" {
		r.Header.Set("Accept", "*/*")
	}
	// Streams (POST /v3/watch) write responses while the request body is still open; an
	// HTTP/1 server would otherwise wait for the whole body before the first write.
	http.NewResponseController(w).EnableFullDuplex()
	g.mux.ServeHTTP(w, r)
}
