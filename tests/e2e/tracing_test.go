//go:build !js

package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// collector is an OTLP/gRPC trace collector in the test process: it keeps every span a
// member exports, with its resource's attributes.
type collector struct {
	collectorpb.UnimplementedTraceServiceServer
	addr string

	mu struct {
		sync.Mutex
		spans   []collectedSpan
		changed chan struct{} // closed, and replaced, when spans arrive
	}
}

type collectedSpan struct {
	*tracepb.Span
	resource map[string]string
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{addr: ln.Addr().String()}
	c.mu.changed = make(chan struct{})
	srv := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(srv, c)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return c
}

func (c *collector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		res := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			res[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				c.mu.spans = append(c.mu.spans, collectedSpan{Span: sp, resource: res})
			}
		}
	}
	close(c.mu.changed)
	c.mu.changed = make(chan struct{})
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

// spans returns what the collector has received so far.
func (c *collector) spans() []collectedSpan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]collectedSpan(nil), c.mu.spans...)
}

// waitFor returns the spans once done says they are complete, waking at each export (the
// member's batches leave every 5 s by default), and fails the test after 60 s.
func (c *collector) waitFor(t *testing.T, what string, done func([]collectedSpan) bool) []collectedSpan {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		c.mu.Lock()
		spans, changed := append([]collectedSpan(nil), c.mu.spans...), c.mu.changed
		c.mu.Unlock()
		if done(spans) {
			return spans
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the collector did not receive %s within 60s; it has %s", what, describeSpans(spans))
		}
	}
}

func describeSpans(spans []collectedSpan) string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s (trace %x, parent %x, %v, resource %v)", s.GetName(), s.GetTraceId(), s.GetParentSpanId(), s.GetKind(), s.resource))
	}
	return fmt.Sprintf("%d spans: [%s]", len(spans), strings.Join(out, "; "))
}

func spanNamed(spans []collectedSpan, name string) *collectedSpan {
	for i := range spans {
		if spans[i].GetName() == name {
			return &spans[i]
		}
	}
	return nil
}

// withTraceParent makes ctx carry a W3C trace context to the member, as an instrumented
// client (otelgrpc's client handler) sends it: the client's span is the parent.
func withTraceParent(ctx context.Context, traceID, parentID string, sampled bool) context.Context {
	flags := "00"
	if sampled {
		flags = "01"
	}
	return metadata.AppendToOutgoingContext(ctx, "traceparent", "00-"+traceID+"-"+parentID+"-"+flags)
}

// TestDistributedTracing runs a member with etcd's tracing flags against a collector: each
// client request (clientv3's, the JSON gateway's) becomes a server span named after its
// method, with the service name and instance ID as resource attributes; a client's trace
// context that is not sampled is followed even at the full rate; stopping the member sends
// the spans still batched.
func TestDistributedTracing(t *testing.T) {
	col := startCollector(t)
	m := startMember(t, "--enable-distributed-tracing", "--distributed-tracing-address", col.addr,
		"--distributed-tracing-service-name", "metastore-e2e", "--distributed-tracing-instance-id", "m1-e2e",
		"--distributed-tracing-sampling-rate", "1000000")
	cli := m.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The client decided not to sample this trace: the member follows (parent-based).
	const unsampledTrace = "0af7651916cd43dd8448eb211c80319c"
	if _, err := cli.Put(withTraceParent(ctx, unsampledTrace, "b7ad6b7169203331", false), "unsampled", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	// The JSON gateway calls the member's own gRPC server: its requests are traced too.
	resp, err := http.Post("http://"+m.endpoint+"/v3/kv/txn", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gateway txn: status %d", resp.StatusCode)
	}
	names := []string{"etcdserverpb.KV/Put", "etcdserverpb.KV/Range", "etcdserverpb.KV/Txn"}
	spans := col.waitFor(t, "the Put, Range and gateway Txn spans", func(s []collectedSpan) bool {
		for _, name := range names {
			if spanNamed(s, name) == nil {
				return false
			}
		}
		return true
	})
	for _, name := range names {
		s := spanNamed(spans, name)
		if s.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("%s: kind %v, want a server span", name, s.GetKind())
		}
		if len(s.GetParentSpanId()) != 0 {
			t.Errorf("%s: parent %x, want a new trace (the client sent no trace context)", name, s.GetParentSpanId())
		}
		if got := s.resource["service.name"]; got != "metastore-e2e" {
			t.Errorf("%s: service.name %q, want the flag's metastore-e2e", name, got)
		}
		if got := s.resource["service.instance.id"]; got != "m1-e2e" {
			t.Errorf("%s: service.instance.id %q, want the flag's m1-e2e", name, got)
		}
	}

	// A request just before the member stops: its span leaves with the final flush, not
	// after the batch delay.
	if _, err := cli.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := m.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	spans = col.spans()
	if spanNamed(spans, "etcdserverpb.KV/DeleteRange") == nil {
		t.Errorf("after the member stopped, the collector lacks the DeleteRange span: %s", describeSpans(spans))
	}
	// Every span the member made has been sent: none is from the unsampled trace.
	for _, s := range spans {
		if hex.EncodeToString(s.GetTraceId()) == unsampledTrace {
			t.Errorf("a span of the trace the client did not sample was exported: %s", describeSpans([]collectedSpan{s}))
		}
	}
}

// TestDistributedTracingContinuesClientTrace: at etcd's default sampling rate, 0, a request
// without a trace context is not traced, but one whose client sampled its trace is: the
// server span continues that trace, a child of the client's span.
func TestDistributedTracingContinuesClientTrace(t *testing.T) {
	col := startCollector(t)
	m := startMember(t, "--enable-distributed-tracing", "--distributed-tracing-address", col.addr)
	cli := m.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if _, err := cli.Put(ctx, "untraced", "v"); err != nil {
		t.Fatal(err)
	}
	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	if _, err := cli.Put(withTraceParent(ctx, clientTrace, clientSpan, true), "traced", "v"); err != nil {
		t.Fatal(err)
	}
	spans := col.waitFor(t, "the span of the client's trace", func(s []collectedSpan) bool {
		for _, sp := range s {
			if hex.EncodeToString(sp.GetTraceId()) == clientTrace {
				return true
			}
		}
		return false
	})
	var got *collectedSpan
	for i := range spans {
		if hex.EncodeToString(spans[i].GetTraceId()) == clientTrace {
			got = &spans[i]
		}
	}
	if got.GetName() != "etcdserverpb.KV/Put" || hex.EncodeToString(got.GetParentSpanId()) != clientSpan || got.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("got %s; want a server span etcdserverpb.KV/Put whose parent is the client's span %s", describeSpans([]collectedSpan{*got}), clientSpan)
	}
	if s := got.resource["service.name"]; s != "etcd" {
		t.Errorf("service.name %q, want etcd's default etcd", s)
	}
	if _, ok := got.resource["service.instance.id"]; ok {
		t.Errorf("service.instance.id %q set; etcd sets none by default", got.resource["service.instance.id"])
	}
	// Once the member has stopped, every span it made has been sent: the request without a
	// trace context made none.
	if err := m.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if spans = col.spans(); len(spans) != 1 {
		t.Errorf("want only the client-traced Put's span at sampling rate 0, got %s", describeSpans(spans))
	}
}

// TestDistributedTracingFlags: the sampling rate is samples per million, refused outside
// 0..1000000 when tracing is on.
func TestDistributedTracingFlags(t *testing.T) {
	for _, rate := range []string{"-1", "1000001"} {
		out, err := runMetastore(t, "--enable-distributed-tracing", "--distributed-tracing-sampling-rate", rate)
		if err == nil || !strings.Contains(out, "--distributed-tracing-sampling-rate must be between 0 and 1000000") {
			t.Errorf("sampling rate %s: err %v, output %q; want a refusal naming the flag", rate, err, out)
		}
	}
}

var _ collectorpb.TraceServiceServer = (*collector)(nil)
