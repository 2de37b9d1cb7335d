// Package server assembles a MetaStore member: the node, etcd's gRPC services and the HTTP
// endpoints, served together on each client URL (gRPC over HTTP/2, gRPC-Web for browsers and
// plain HTTP share the port).
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/soheilhy/cmux"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/server/metrics"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/peer"
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
	// UI, if set, serves every other path of the client port (the web UI).
	UI http.Handler
}

// Server is a running member.
type Server struct {
	cfg     Config
	node    *node.Node
	metrics *metrics.Metrics
	grpc    *grpc.Server
	http    *http.Server
	lns     []net.Listener
	muxes   []cmux.CMux
	gwConn  *grpc.ClientConn // the JSON gateway's connection to our gRPC port
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
	cfg.Config.ObserveFsync = func(d time.Duration) { m.WALFsync.Observe(d.Seconds()) }
	if len(cfg.ListenPeerURLs) > 0 {
		lns, err := peer.Listen(cfg.ListenPeerURLs)
		if err != nil {
			return nil, err
		}
		cfg.Config.Transport = peer.New(cfg.Logger, lns)
		cfg.Config.Join = peer.Join
	}
	n, err := node.New(cfg.Config)
	if err != nil {
		if cfg.Config.Transport != nil {
			cfg.Config.Transport.Stop()
		}
		return nil, err
	}
	nodeRef = n
	s := &Server{cfg: cfg, node: n, metrics: m, grpc: v3rpc.NewServer(n, cfg.Logger,
		grpc.ChainUnaryInterceptor(m.GRPC.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.GRPC.StreamServerInterceptor()))}
	m.GRPC.InitializeMetrics(s.grpc)
	for _, u := range cfg.ListenClientURLs {
		host, err := hostPort(u)
		if err != nil {
			s.Stop()
			return nil, err
		}
		ln, err := net.Listen("tcp", host)
		if err != nil {
			s.Stop()
			return nil, fmt.Errorf("listen on %s: %w", u, err)
		}
		s.lns = append(s.lns, ln)
	}
	if len(s.lns) == 0 {
		s.Stop()
		return nil, errors.New("no client URL to listen on")
	}
	// The JSON gateway talks to this server's own gRPC port, as etcd's does.
	conn, err := grpc.NewClient(s.lns[0].Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.gwConn = conn
	gateway, err := grpcweb.NewGateway(context.Background(), conn, cfg.CORS)
	if err != nil {
		s.Stop()
		return nil, err
	}
	mux := s.httpHandler()
	mux.Handle("/v3/", gateway)
	if cfg.UI != nil {
		mux.Handle("/", cfg.UI)
	}
	s.http = &http.Server{Handler: grpcweb.New(s.grpc, cfg.CORS, n.Config().MaxRequestBytes+512*1024, mux), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	for _, ln := range s.lns {
		s.serve(ln)
	}
	return s, nil
}

func hostPort(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid client URL %q", raw)
	}
	if u.Scheme != "http" {
		return "", fmt.Errorf("client URL %q: only http is supported (TLS is not implemented yet)", raw)
	}
	return u.Host, nil
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
	if len(s.muxes) == 0 {
		for _, ln := range s.lns {
			ln.Close()
		}
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
	s.wg.Wait()
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
	mux.Handle("/metrics", s.metrics.Handler())
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
func (s source) Revision() int64        { return s.node().Store().Rev() }
func (s source) CompactRevision() int64 { return s.node().Store().CompactRev() }
func (s source) Watchers() int          { return s.node().Store().MVCC().Watchers() }
func (s source) Keys() int              { return s.node().Store().MVCC().Keys() }
