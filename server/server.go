// Package server assembles a MetaStore member: the node, etcd's gRPC services and the HTTP
// endpoints, served together on each client URL (gRPC over HTTP/2, gRPC-Web for browsers and
// plain HTTP share the port).
package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/soheilhy/cmux"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/server/disk"
	"github.com/metastore/metastore/server/metrics"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/peer"
	"github.com/metastore/metastore/server/tlsutil"
	"github.com/metastore/metastore/server/tracing"
	"github.com/metastore/metastore/server/v3rpc"
)

// Config configures a server.
type Config struct {
	node.Config
	// ListenClientURLs are the http://host:port URLs to serve clients on.
	ListenClientURLs []string
	// ListenPeerURLs are the URLs to serve the other members on (none: a member that has
	// no peers, as the tests' single members).
	ListenPeerURLs []string
	Logger         *slog.Logger
	// EnablePprof serves Go's profiles on /debug/pprof/ (etcd's --enable-pprof).
	EnablePprof bool
	// CORS lists the cross-origin origins browsers may call the API from (etcd's --cors);
	// same-origin pages always may.
	CORS grpcweb.Origins
	// MaxConcurrentStreams caps the streams (calls) open at once on one client connection
	// (etcd's --max-concurrent-streams); 0: no cap, as etcd's default.
	MaxConcurrentStreams uint32
	// UI, if set, serves every other path of the client port (the web UI).
	UI http.Handler
	// ClientTLS serves https:// client URLs (etcd's --cert-file, --key-file,
	// --trusted-ca-file, --client-cert-auth, ...); nil: no https.
	ClientTLS *tlsutil.Info
	// PeerTLS secures the peer transport (etcd's --peer-* flags); nil: plain peer traffic.
	// PeerInsecure skips verifying other members' certificates (--peer-auto-tls without a
	// trusted CA, as etcd).
	PeerTLS      *tlsutil.Info
	PeerInsecure bool
	// Tracing, if set, exports a span per client gRPC request to an OpenTelemetry collector
	// (etcd's --enable-distributed-tracing and --distributed-tracing-* flags); nil: no
	// tracing, at no cost.
	Tracing *tracing.Config
}

// Server is a running member.
type Server struct {
	cfg     Config
	node    *node.Node
	metrics *metrics.Metrics
	grpc    *grpc.Server
	http    *http.Server
	lns     []net.Listener
	tlsLns  []net.Listener // the https:// ones among lns
	https   *http.Server
	muxes   []cmux.CMux
	gwConn  *grpc.ClientConn // the JSON gateway's connection to our gRPC port
	tracer  *tracing.Tracer  // nil without --enable-distributed-tracing
	wg      sync.WaitGroup
}

// Start starts a member and returns once it listens on every client URL.
func Start(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Config.Logger = cfg.Logger
	var m *metrics.Metrics
	var nodeRef *node.Node
	m = metrics.New(source{&nodeRef})
	cfg.Config.ObserveLeaderChange = m.LeaderChanges.Inc
	cfg.Config.ObserveProposalsPending = func(delta int) { m.ProposalsPending.Add(float64(delta)) }
	cfg.Config.ObserveProposalFailed = m.ProposalsFailed.Inc
	cfg.Config.ObserveSlowApply = m.SlowApplies.Inc
	cfg.Config.ObserveSlowReadIndex = m.SlowReadIndexes.Inc
	if len(cfg.ListenPeerURLs) > 0 {
		var ptls *peer.TLS
		secure := slices.ContainsFunc(cfg.ListenPeerURLs, isHTTPS)
		if secure && slices.ContainsFunc(cfg.ListenPeerURLs, func(u string) bool { return !isHTTPS(u) }) {
			return nil, errors.New("peer URLs mix http and https")
		}
		if cfg.PeerTLS != nil {
			var err error
			if ptls, err = peerTLS(*cfg.PeerTLS, cfg.PeerInsecure); err != nil {
				return nil, err
			}
			if !secure {
				ptls.Server = nil // plain http:// listeners; the certificates still reach https:// peers
			}
		}
		lns, err := peer.Listen(cfg.ListenPeerURLs, ptls != nil && ptls.Server != nil)
		if err != nil {
			return nil, err
		}
		cfg.Config.Transport = peer.New(cfg.Logger, lns, ptls, peer.Observer{
			Sent: m.PeerSent, Received: m.PeerReceived, SendFailed: m.PeerSendFailed, RoundTrip: m.PeerRoundTrip})
		cfg.Config.Join = peer.Joiner(ptls)
	}
	if cfg.Config.Storage == nil {
		st, err := disk.Open(cfg.Config.DataDir, disk.Options{
			Log:           cfg.Logger,
			ObserveFsync:  func(d time.Duration) { m.WALFsync.Observe(d.Seconds()) },
			ObserveCommit: func(d time.Duration) { m.BackendCommit.Observe(d.Seconds()) },
		})
		if err != nil {
			if cfg.Config.Transport != nil {
				cfg.Config.Transport.Stop()
			}
			return nil, err
		}
		cfg.Config.Storage = st
	}
	n, err := node.New(cfg.Config)
	if err != nil {
		if cfg.Config.Transport != nil {
			cfg.Config.Transport.Stop()
		}
		return nil, err
	}
	nodeRef = n
	gopts := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(maxStreams(cfg.MaxConcurrentStreams)),
		grpc.NumStreamWorkers(streamWorkers),
		grpc.StaticStreamWindowSize(staticStreamWindow),
		grpc.StaticConnWindowSize(staticConnWindow),
		grpc.ForceServerCodecV2(m.ClientCodec()),
		grpc.ChainUnaryInterceptor(m.GRPC.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.GRPC.StreamServerInterceptor()),
	}
	var tracer *tracing.Tracer
	if cfg.Tracing != nil {
		if tracer, err = tracing.Start(context.Background(), *cfg.Tracing); err != nil {
			n.Stop()
			return nil, err
		}
		// Every client gRPC call: native, gRPC-Web and the JSON gateway's (it calls this
		// port); not the peer transport, as etcd traces only its client server.
		gopts = append(gopts, grpc.StatsHandler(tracer.ServerHandler()))
		cfg.Logger.Info("distributed tracing setup enabled", "address", cfg.Tracing.Address,
			"service-name", cfg.Tracing.ServiceName, "service-instance-id", cfg.Tracing.InstanceID,
			"sampling-rate", cfg.Tracing.SamplingRatePerMillion)
	}
	s := &Server{cfg: cfg, node: n, metrics: m, tracer: tracer, grpc: v3rpc.NewServer(n, v3rpc.Options{
		Logger:         cfg.Logger,
		ClientCertAuth: cfg.ClientTLS != nil && cfg.ClientTLS.ClientCertAuth,
		GRPC:           gopts,
	})}
	m.GRPC.InitializeMetrics(s.grpc)
	var serverTLS, selfTLS *tls.Config
	if cfg.ClientTLS != nil {
		if serverTLS, err = cfg.ClientTLS.ServerConfig(); err == nil {
			// The JSON gateway calls this member's own port with the member's certificate.
			selfTLS, err = cfg.ClientTLS.ClientConfig(true)
		}
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("client TLS: %w", err)
		}
	}
	for _, u := range cfg.ListenClientURLs {
		host, secure, err := hostPort(u)
		if err != nil {
			s.Stop()
			return nil, err
		}
		if secure && serverTLS == nil {
			s.Stop()
			return nil, fmt.Errorf("%w: TLS key/cert (--cert-file, --key-file) must be provided for client url %s", ErrUsage, u)
		}
		ln, err := net.Listen("tcp", host)
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("listen on %s: %w", u, err)
		}
		s.lns = append(s.lns, ln)
		if secure {
			s.tlsLns = append(s.tlsLns, ln)
		}
	}
	if len(s.lns) == 0 {
		s.Stop()
		return nil, errors.New("no client URL to listen on")
	}
	// The JSON gateway talks to this server's own gRPC port, as etcd's does.
	creds := insecure.NewCredentials()
	if slices.Contains(s.tlsLns, s.lns[0]) {
		creds = credentials.NewTLS(selfTLS)
	}
	conn, err := grpc.NewClient(s.lns[0].Addr().String(), grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.gwConn = conn
	// JSON with base64 bytes is at most about twice the protobuf it decodes to.
	gateway, err := grpcweb.NewGateway(context.Background(), conn, cfg.CORS, 2*int64(n.Config().MaxRequestBytes)+v3rpc.GRPCOverhead)
	if err != nil {
		s.Stop()
		return nil, err
	}
	mux := s.httpHandler()
	gw := s.gatewayCN(gateway)
	mux.Handle("/v3/", gw)
	// etcd still answers its pre-3.4 gateway prefix, as the same API.
	mux.Handle("/v3beta/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/v3/"+strings.TrimPrefix(r.URL.Path, "/v3beta/"), ""
		gw.ServeHTTP(w, r2)
	}))
	if cfg.UI != nil {
		mux.Handle("/", cfg.UI)
	}
	web := grpcweb.New(s.grpc, cfg.CORS, n.Config().MaxRequestBytes+v3rpc.GRPCOverhead, mux)
	s.http = &http.Server{Handler: web, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	if serverTLS != nil {
		s.https = &http.Server{Handler: grpcOverHTTPS(s.grpc, web), TLSConfig: serverTLS,
			ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
			// As etcd's TLS server: no cap on a connection's streams (net/http's default of
			// 250 would block a client's 251st watch or keep-alive stream).
			HTTP2: &http.HTTP2Config{MaxConcurrentStreams: int(min(maxStreams(cfg.MaxConcurrentStreams), math.MaxInt32))},
			// Failed handshakes (a client without a valid certificate, a probe) are the
			// clients' business: logged at debug level, not on stderr.
			ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	}
	for _, ln := range s.lns {
		if slices.Contains(s.tlsLns, ln) {
			s.serveTLS(ln)
		} else {
			s.serve(ln)
		}
	}
	return s, nil
}

// serveTLS serves an https:// client URL as etcd does: one TLS server (HTTP/2 by ALPN, or
// HTTP/1.1) whose handler sends native gRPC to the gRPC server and everything else
// (gRPC-Web, WebSocket, the JSON gateway, /health, /metrics, the UI) to the web handler.
func (s *Server) serveTLS(ln net.Listener) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.https.ServeTLS(ln, "", "") }()
}

// grpcOverHTTPS routes HTTP/2 requests of native gRPC (content-type application/grpc, not
// grpc-web) to the gRPC server's HTTP handler.
func grpcOverHTTPS(g *grpc.Server, web http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if r.ProtoMajor == 2 && strings.HasPrefix(ct, "application/grpc") && !strings.HasPrefix(ct, "application/grpc-web") {
			g.ServeHTTP(w, r)
			return
		}
		web.ServeHTTP(w, r)
	})
}

// peerTLS builds the peer transport's server and client configurations.
func peerTLS(info tlsutil.Info, insecureSkipVerify bool) (*peer.TLS, error) {
	srv, err := info.ServerConfig()
	if err != nil {
		return nil, fmt.Errorf("peer TLS: %w", err)
	}
	cli, err := info.ClientConfig(insecureSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("peer TLS: %w", err)
	}
	return &peer.TLS{Server: srv, Client: cli}, nil
}

func isHTTPS(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "https"
}

// hostPort parses a client URL: its host:port, and whether it is https.
func hostPort(raw string) (string, bool, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false, fmt.Errorf("invalid client URL %q", raw)
	}
	switch u.Scheme {
	case "http":
		return u.Host, false, nil
	case "https":
		return u.Host, true, nil
	}
	return "", false, fmt.Errorf("invalid client URL %q: scheme must be http or https", raw)
}

// serve splits one listener: HTTP/2 carrying gRPC goes to the gRPC server (its own fast
// transport), everything else to the HTTP server.
func (s *Server) serve(ln net.Listener) {
	m := cmux.New(ln)
	// A connection that sends nothing (a browser's speculative preconnect) must not hold a
	// matcher forever.
	m.SetReadTimeout(10 * time.Second)
	grpcL := m.MatchWithWriters(cmux.HTTP2MatchHeaderFieldSendSettings("content-type", "application/grpc"))
	httpL := m.Match(cmux.Any())
	s.muxes = append(s.muxes, m)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.grpc.Serve(grpcL) }()
	go func() { defer s.wg.Done(); s.http.Serve(httpL) }()
	// Not waited for on Stop: its Serve waits for connections still being matched, and an
	// idle one would hold the shutdown up to the read timeout.
	go m.Serve()
}

// Addrs returns the addresses the server listens on.
func (s *Server) Addrs() []string {
	out := make([]string, len(s.lns))
	for i, ln := range s.lns {
		out[i] = ln.Addr().String()
	}
	return out
}

// ReadyNotify is closed once the member has a leader and has applied the log; requests
// served before wait for that (or time out), as etcd's.
func (s *Server) ReadyNotify() <-chan struct{} { return s.node.ReadyNotify() }

// Node returns the member's node.
func (s *Server) Node() *node.Node { return s.node }

// Stop shuts down: no new requests, open streams are ended, then the node stops.
func (s *Server) Stop() {
	if s.gwConn != nil {
		s.gwConn.Close()
	}
	for _, m := range s.muxes {
		m.Close()
	}
	for _, ln := range s.lns {
		ln.Close() // those under a cmux are closed by it already; a second close is harmless
	}
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(2 * time.Second):
		s.grpc.Stop() // watch and keep-alive streams never end on their own
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.http != nil {
		s.http.Shutdown(ctx)
	}
	if s.https != nil {
		s.https.Shutdown(ctx)
	}
	s.wg.Wait()
	if s.tracer != nil {
		// The requests' spans are all ended: send those still batched.
		tctx, tcancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.tracer.Shutdown(tctx); err != nil {
			s.cfg.Logger.Warn("failed to flush distributed tracing spans", "error", err)
		}
		tcancel()
	}
	s.node.Stop()
}

func (s *Server) httpHandler() *http.ServeMux {
	mux := http.NewServeMux()
	var ok http.HandlerFunc
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if s.node.Leader() == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			writeJSON(w, map[string]string{"health": "false", "reason": "RAFT NO LEADER"})
			return
		}
		writeJSON(w, map[string]string{"health": "true", "reason": ""})
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-s.node.ReadyNotify():
		default:
			http.Error(w, "[-]ready failed: the member has no leader or has not applied the log yet", http.StatusServiceUnavailable)
			return
		}
		if s.node.Leader() == 0 {
			http.Error(w, "[-]serializable_read failed: etcdserver: no leader", http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	})
	ok = func(w http.ResponseWriter, r *http.Request) {
		if _, verbose := r.URL.Query()["verbose"]; verbose {
			fmt.Fprintln(w, "[+]serializable_read ok\n[+]data_corruption ok\nok")
			return
		}
		fmt.Fprint(w, "ok")
	}
	// Under the same --cors rule as the API: the playground, on another origin, charts a member from it.
	mux.Handle("/metrics", s.cfg.CORS.ReadOnly(s.metrics.Handler()))
	if s.cfg.EnablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/livez", ok)
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"etcdserver": v3rpc.Version, "etcdcluster": v3rpc.ClusterVersion, "storage": v3rpc.StorageVersion})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// ErrUsage marks configuration errors, reported to the user as such.
var ErrUsage = errors.New("usage")

// SplitURLs parses a comma-separated URL list flag.
func SplitURLs(v string) []string {
	var out []string
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// source feeds the metrics from the node once it exists.
type source struct{ n **node.Node }

func (s source) node() *node.Node       { return *s.n }
func (s source) Leader() uint64         { return s.node().Leader() }
func (s source) MemberID() uint64       { return s.node().MemberID() }
func (s source) CommittedIndex() uint64 { return s.node().CommittedIndex() }
func (s source) AppliedIndex() uint64   { return s.node().AppliedIndex() }
func (s source) Term() uint64           { return s.node().Term() }
func (s source) DBSize() int64          { return s.node().DiskUsage() }
func (s source) DBSizeInUse() int64     { return s.node().Store().MVCC().Size() }
func (s source) Quota() int64           { return s.node().Quota() }
func (s source) Revision() int64        { return s.node().Store().Rev() }
func (s source) CompactRevision() int64 { return s.node().Store().CompactRev() }
func (s source) Watchers() int          { return s.node().Store().MVCC().Watchers() }
func (s source) Keys() int              { return s.node().Store().MVCC().Keys() }

// gatewayCN refuses, as etcd's gateway does, a JSON request whose verified client
// certificate has a common name while auth is on: the gateway calls the member as itself, so
// that name would not be the user the client expects.
func (s *Server) gatewayCN(h http.Handler) http.Handler {
	certAuth := s.cfg.ClientTLS != nil && s.cfg.ClientTLS.ClientCertAuth
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if certAuth && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 &&
			r.TLS.VerifiedChains[0][0].Subject.CommonName != "" && s.node.Store().AuthEnabled() {
			http.Error(w, "CommonName of client sending a request against gateway will be ignored and not used as expected", http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// The client server's flow-control windows. Static, which turns off gRPC's bandwidth
// estimator: with dynamic windows the server sends a BDP ping on each connection about once a
// round trip while requests arrive, which the client answers and the server times. Under
// etcd's keep-alive benchmark that was 7–12% of the server's CPU per keep-alive (and a few %
// of the client's); ranges 0–5%; puts unchanged (A/B, three rounds each). Both are 16 MiB,
// the most the estimator would grow them to: a client far away uploads as fast as before,
// and a connection may send no more before it is read than it could then.
const (
	staticStreamWindow = 16 << 20
	staticConnWindow   = 16 << 20
)

// streamWorkers is how many goroutines gRPC keeps to run calls on. Without them every call
// gets a new goroutine, whose stack then grows (copied each time it doubles) on its way
// down through gRPC's receive path: 15% of the server's CPU under linearizable ranges. A
// reused goroutine keeps its grown stack. 256 covers the concurrency of etcd's benchmark
// (100 clients) twice over; calls beyond it get a goroutine of their own, as without
// workers. Server CPU per request (make bench-cpu's way, three rounds): ranges -11%, puts
// -5 to -20%.
const streamWorkers = 256

func maxStreams(n uint32) uint32 {
	if n == 0 {
		return math.MaxUint32
	}
	return n
}
