package tracing

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

func TestValidate(t *testing.T) {
	for rate, ok := range map[int]bool{-1: false, 0: true, 1: true, MaxSamplingRatePerMillion: true, MaxSamplingRatePerMillion + 1: false} {
		if err := (Config{SamplingRatePerMillion: rate}).Validate(); (err == nil) != ok {
			t.Errorf("rate %d: Validate() = %v, want ok %v", rate, err, ok)
		}
	}
}

// TestSampler pins etcd's sampling: the client's decision, when it sent a trace context,
// wins over the rate both ways; without one, the rate decides.
func TestSampler(t *testing.T) {
	remote := func(sampled bool) context.Context {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true})
		if sampled {
			sc = sc.WithTraceFlags(trace.FlagsSampled)
		}
		return trace.ContextWithRemoteSpanContext(context.Background(), sc)
	}
	tests := []struct {
		name string
		rate int
		ctx  context.Context
		want bool
	}{
		{"rate 0, no parent", 0, context.Background(), false},
		{"rate 0, sampled client", 0, remote(true), true},
		{"rate 0, unsampled client", 0, remote(false), false},
		{"full rate, no parent", MaxSamplingRatePerMillion, context.Background(), true},
		{"full rate, sampled client", MaxSamplingRatePerMillion, remote(true), true},
		{"full rate, unsampled client", MaxSamplingRatePerMillion, remote(false), false},
	}
	for _, tt := range tests {
		res := sampler(tt.rate).ShouldSample(sdktrace.SamplingParameters{
			ParentContext: tt.ctx, TraceID: trace.TraceID{0xff}, Name: "etcdserverpb.KV/Put", Kind: trace.SpanKindServer})
		if got := res.Decision == sdktrace.RecordAndSample; got != tt.want {
			t.Errorf("%s: decision %v, want sampled %v", tt.name, res.Decision, tt.want)
		}
	}
}
