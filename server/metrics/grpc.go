package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
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
// go-grpc-middleware's interceptors do the wrapping; this is only their reporter. The
// provider that goes with them (providers/prometheus) looks each series up by its label
// values on every call and every stream message: 18% of the CPU under etcd's lease
// keep-alive benchmark, where every keep-alive is a stream. Here each method's series are
// looked up once, when the server's methods are known (InitializeMetrics).
type GRPCMetrics struct {
	started, received, sent *prometheus.CounterVec
	handled                 *prometheus.CounterVec
	handling                *prometheus.HistogramVec
	// methods maps a method ("etcdserverpb.KV", "Put") to its series; written once by
	// InitializeMetrics, read without a lock.
	methods atomic.Pointer[map[methodKey]*methodMetrics]
}

type methodKey struct{ service, method string }

// methodMetrics are one method's series.
type methodMetrics struct {
	started, received, sent prometheus.Counter
	handled                 [numCodes]prometheus.Counter
	handling                prometheus.Observer
}

const numCodes = int(codes.Unauthenticated) + 1

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
func (g *GRPCMetrics) resolve(typ interceptors.GRPCType, service, method string) *methodMetrics {
	l := []string{string(typ), service, method}
	m := &methodMetrics{
		started:  g.started.WithLabelValues(l...),
		received: g.received.WithLabelValues(l...),
		sent:     g.sent.WithLabelValues(l...),
		handling: g.handling.WithLabelValues(l...),
	}
	for c := range m.handled {
		m.handled[c] = g.handled.WithLabelValues(string(typ), service, method, codes.Code(c).String())
	}
	return m
}

// InitializeMetrics creates every method's series at zero, as go-grpc-prometheus's does (a
// dashboard shows a method before its first call), and keeps them for the reporter.
func (g *GRPCMetrics) InitializeMetrics(s reflection.ServiceInfoProvider) {
	methods := map[methodKey]*methodMetrics{}
	for service, info := range s.GetServiceInfo() {
		for _, mi := range info.Methods {
			methods[methodKey{service, mi.Name}] = g.resolve(methodType(mi), service, mi.Name)
		}
	}
	g.methods.Store(&methods)
}

func methodType(mi grpc.MethodInfo) interceptors.GRPCType {
	switch {
	case mi.IsClientStream && mi.IsServerStream:
		return interceptors.BidiStream
	case mi.IsClientStream:
		return interceptors.ClientStream
	case mi.IsServerStream:
		return interceptors.ServerStream
	}
	return interceptors.Unary
}

// UnaryServerInterceptor reports unary calls.
func (g *GRPCMetrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return interceptors.UnaryServerInterceptor(g)
}

// StreamServerInterceptor reports streams and their messages.
func (g *GRPCMetrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return interceptors.StreamServerInterceptor(g)
}

// ServerReporter is interceptors.ServerReportable: a call starts.
func (g *GRPCMetrics) ServerReporter(ctx context.Context, c interceptors.CallMeta) (interceptors.Reporter, context.Context) {
	var m *methodMetrics
	if ms := g.methods.Load(); ms != nil {
		m = (*ms)[methodKey{c.Service, c.Method}] // not c.FullMethod(): a Sprintf per call
	}
	if m == nil {
		m = g.resolve(c.Typ, c.Service, c.Method) // not registered when InitializeMetrics ran
	}
	m.started.Inc()
	return m, ctx
}

// PostCall counts a call handled, with its code, and times it.
func (m *methodMetrics) PostCall(err error, d time.Duration) {
	c := int(status.Code(err))
	if c < 0 || c >= numCodes {
		c = int(codes.Unknown)
	}
	m.handled[c].Inc()
	m.handling.Observe(d.Seconds())
}

// PostMsgSend counts a message sent; as in go-grpc-prometheus, which etcd uses, a failed
// send (or a unary call that failed, with nothing to send) does not count.
func (m *methodMetrics) PostMsgSend(_ any, err error, _ time.Duration) {
	if err == nil {
		m.sent.Inc()
	}
}

// PostMsgReceive counts a message received (not the end of a stream, nor a failed read).
func (m *methodMetrics) PostMsgReceive(_ any, err error, _ time.Duration) {
	if err == nil {
		m.received.Inc()
	}
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
