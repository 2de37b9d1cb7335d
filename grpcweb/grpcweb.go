// Package grpcweb serves etcd's gRPC API to browsers on the server's client port: gRPC-Web
// (binary and -text) for unary and server-streaming calls, through
// github.com/improbable-eng/grpc-web, and the bidirectional streams (Watch, LeaseKeepAlive)
// over WebSocket with the grpc-websockets protocol (github.com/gorilla/websocket, see
// websocket.go). Both hand calls to the same grpc.Server that native clients use, so every
// interceptor, limit and (later) auth check applies. Other requests go to the next handler.
//
// Origin policy: a request from a browser page on the same origin is always served; a
// cross-origin one only for origins listed with etcd's --cors flag ("*" when given
// explicitly allows any). Any other request carrying an Origin header is refused with 403
// before it reaches the API, so a foreign page cannot make the browser write on its behalf.
package grpcweb

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/improbable-eng/grpc-web/go/grpcweb"
	"google.golang.org/grpc"
)

// Handler routes browser gRPC requests to the gRPC server and everything else to next.
type Handler struct {
	gs     *grpc.Server
	web    *grpcweb.WrappedGrpcServer
	next   http.Handler
	policy Origins
	ws     wsConfig
}

// New returns a handler serving gRPC-Web and WebSocket streams for gs, allowing the given
// cross-origin origins; maxMessage bounds a client's WebSocket message.
func New(gs *grpc.Server, cors Origins, maxMessage int, next http.Handler) *Handler {
	h := &Handler{gs: gs, next: next, policy: cors, ws: wsConfig{readLimit: int64(maxMessage), pingInterval: 30 * time.Second}}
	h.web = grpcweb.WrapServer(gs,
		grpcweb.WithOriginFunc(cors.Allows),
		grpcweb.WithAllowedRequestHeaders([]string{"*"}),
	)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isWebSocket(r) {
		serveWebSocket(w, r, h.gs, h.policy, h.ws)
		return
	}
	if h.web.IsGrpcWebRequest(r) || h.web.IsAcceptableGrpcCorsRequest(r) {
		if !h.policy.Permits(r) {
			http.Error(w, "metastore: origin not allowed (see --cors)", http.StatusForbidden)
			return
		}
		h.web.ServeHTTP(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// Origins is the list of cross-origin origins allowed (etcd's --cors): exact
// scheme://host[:port] values, or "*" for any.
type Origins []string

// ParseOrigins reads a comma-separated --cors value.
func ParseOrigins(v string) Origins {
	var o Origins
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o = append(o, strings.TrimSuffix(s, "/"))
		}
	}
	return o
}

// Allows reports whether a cross-origin page at origin may call the API.
func (o Origins) Allows(origin string) bool {
	for _, a := range o {
		if a == "*" || strings.EqualFold(a, origin) {
			return true
		}
	}
	return false
}

// ReadOnly applies the policy to a plain read endpoint (/metrics): a page of a listed origin
// may read it (its answers carry Access-Control-Allow-Origin, and a preflight is answered for
// GET), a same-origin page or a client that is no page always may, any other page gets 403.
func (o Origins) ReadOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !o.Permits(r) {
			http.Error(w, "metastore: origin not allowed (see --cors)", http.StatusForbidden)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "GET, OPTIONS")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Permits reports whether r may be served: no Origin (not a browser page), the same origin
// as the server, or an allowed one.
func (o Origins) Permits(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return o.Allows(origin)
}
