package metrics

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// GRPCMetrics counts and times every RPC under go-grpc-prometheus's names and labels, as
// etcd does (grpc_server_started_total, grpc_server_handled_total,
// grpc_server_msg_received_total, grpc_server_msg_sent_total, grpc_server_handling_seconds).
//
// The interceptors are our own, not go-grpc-middleware's with its Prometheus provider: the
// provider looks each series up by its label values on every call and every stream message
// (18% of the CPU under etcd's lease keep-alive benchmark, where every keep-alive is a
// stream), and the middleware reads the clock around every stream message for durations
// no counter here uses (3% more). Here each method's series are looked up once, when the
// server's methods are known (InitializeMetrics), and the clock is read at a call's start
// and end only.
type GRPCMetrics struct {
	started, received, sent *prometheus.CounterVec
	handled                 *prometheus.CounterVec
	handling                *prometheus.HistogramVec
	// methods maps a full method ("/etcdserverpb.KV/Put") to its series; written once by
	// InitializeMetrics, read without a lock.
	methods atomic.Pointer[map[string]*methodMetrics]
}

// methodMetrics are one method's series.
type methodMetrics struct {
	started, received, sent prometheus.Counter
	handled                 [numCodes]prometheus.Counter
	handling                prometheus.Observer
}

const numCodes = int(codes.Unauthenticated) + 1

// The grpc_type label's values, go-grpc-prometheus's.
const (
	unary        = "unary"
	clientStream = "client_stream"
	serverStream = "server_stream"
	bidiStream   = "bidi_stream"
)

func newGRPCMetrics() *GRPCMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	return &GRPCMetrics{
		started:  counter("grpc_server_started_total", "Total number of RPCs started on the server.", labels),
		received: counter("grpc_server_msg_received_total", "Total number of RPC stream messages received on the server.", labels),
		sent:     counter("grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.", labels),
		handled: counter("grpc_server_handled_total", "Total number of RPCs completed on the server, regardless of success or failure.",
			append(labels[:3:3], "grpc_code")),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_server_handling_seconds",
			Help:    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, labels),
	}
}

// resolve looks up (creating at zero) the series of one method.
func (g *GRPCMetrics) resolve(typ, service, method string) *methodMetrics {
	l := []string{typ, service, method}
	m := &methodMetrics{
		started:  g.started.WithLabelValues(l...),
		received: g.received.WithLabelValues(l...),
		sent:     g.sent.WithLabelValues(l...),
		handling: g.handling.WithLabelValues(l...),
	}
	for c := range m.handled {
		m.handled[c] = g.handled.WithLabelValues(typ, service, method, codes.Code(c).String())
	}
	return m
}

// InitializeMetrics creates every method's series at zero, as go-grpc-prometheus's does (a
// dashboard shows a method before its first call), and keeps them for the interceptors.
func (g *GRPCMetrics) InitializeMetrics(s reflection.ServiceInfoProvider) {
	methods := map[string]*methodMetrics{}
	for service, info := range s.GetServiceInfo() {
		for _, mi := range info.Methods {
			methods["/"+service+"/"+mi.Name] = g.resolve(methodType(mi.IsClientStream, mi.IsServerStream), service, mi.Name)
		}
	}
	g.methods.Store(&methods)
}

func methodType(clientStreams, serverStreams bool) string {
	switch {
	case clientStreams && serverStreams:
		return bidiStream
	case clientStreams:
		return clientStream
	case serverStreams:
		return serverStream
	}
	return unary
}

// method returns the series of a call's method.
func (g *GRPCMetrics) method(fullMethod, typ string) *methodMetrics {
	if ms := g.methods.Load(); ms != nil {
		if m := (*ms)[fullMethod]; m != nil {
			return m
		}
	}
	// Not registered when InitializeMetrics ran: resolved per call, as the provider did.
	service, method := "unknown", "unknown"
	if i := strings.LastIndexByte(fullMethod, '/'); i > 0 {
		service, method = strings.TrimPrefix(fullMethod[:i], "/"), fullMethod[i+1:]
	}
	return g.resolve(typ, service, method)
}

// UnaryServerInterceptor counts a unary call as a message received and, if it succeeded, one
// sent, as go-grpc-prometheus (which etcd uses) does.
func (g *GRPCMetrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		m := g.method(info.FullMethod, unary)
		m.started.Inc()
		m.received.Inc()
		start := time.Now()
		resp, err := handler(ctx, req)
		m.handledAfter(err, time.Since(start))
		if err == nil {
			m.sent.Inc()
		}
		return resp, err
	}
}

// StreamServerInterceptor counts a stream and each message read from or written to it.
func (g *GRPCMetrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		m := g.method(info.FullMethod, methodType(info.IsClientStream, info.IsServerStream))
		m.started.Inc()
		start := time.Now()
		err := handler(srv, &countedStream{ServerStream: ss, m: m})
		m.handledAfter(err, time.Since(start))
		return err
	}
}

// handledAfter counts a call handled, with its code, and times it.
func (m *methodMetrics) handledAfter(err error, d time.Duration) {
	c := int(status.Code(err))
	if c < 0 || c >= numCodes {
		c = int(codes.Unknown)
	}
	m.handled[c].Inc()
	m.handling.Observe(d.Seconds())
}

// countedStream counts the messages of a stream: as in go-grpc-prometheus, a failed send
// does not count, nor does a failed read or the end of the stream.
type countedStream struct {
	grpc.ServerStream
	m *methodMetrics
}

func (s *countedStream) SendMsg(msg any) error {
	err := s.ServerStream.SendMsg(msg)
	if err == nil {
		s.m.sent.Inc()
	}
	return err
}

func (s *countedStream) RecvMsg(msg any) error {
	err := s.ServerStream.RecvMsg(msg)
	if err == nil {
		s.m.received.Inc()
	}
	return err
}

// Describe and Collect make GRPCMetrics a prometheus.Collector.
func (g *GRPCMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range g.collectors() {
		c.Describe(ch)
	}
}

func (g *GRPCMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range g.collectors() {
		c.Collect(ch)
	}
}

func (g *GRPCMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{g.started, g.handled, g.received, g.sent, g.handling}
}
