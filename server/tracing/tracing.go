package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"google.golang.org/grpc/stats"
)

// MaxSamplingRatePerMillion is the highest sampling rate: every new trace is sampled.
const MaxSamplingRatePerMillion = 1_000_000

// Defaults of etcd's flags.
const (
	DefaultAddress     = "localhost:4317"
	DefaultServiceName = "etcd"
)

// Config configures tracing (etcd's --distributed-tracing-* flags). Its zero value, once
// withDefaults fills it in, sends to localhost:4317 as service "etcd" and samples only
// requests whose client sampled them.
type Config struct {
	// Address is the collector's OTLP/gRPC host:port, reached without TLS
	// (--distributed-tracing-address, default localhost:4317).
	Address string
	// ServiceName is the service.name resource attribute, the same on every member
	// (--distributed-tracing-service-name, default "etcd").
	ServiceName string
	// InstanceID, if set, is the service.instance.id resource attribute, unique per member
	// (--distributed-tracing-instance-id, default none).
	InstanceID string
	// SamplingRatePerMillion is how many of a million requests without a client's trace
	// context start a sampled trace, 0 to MaxSamplingRatePerMillion
	// (--distributed-tracing-sampling-rate, default 0).
	SamplingRatePerMillion int
}

func (c Config) withDefaults() Config {
	if c.Address == "" {
		c.Address = DefaultAddress
	}
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	return c
}

// Validate checks the sampling rate, the only setting that can be wrong before the
// collector is reached.
func (c Config) Validate() error {
	if c.SamplingRatePerMillion < 0 || c.SamplingRatePerMillion > MaxSamplingRatePerMillion {
		return fmt.Errorf("--distributed-tracing-sampling-rate must be between 0 and %d (samples per million), not %d",
			MaxSamplingRatePerMillion, c.SamplingRatePerMillion)
	}
	return nil
}

// Tracer is a running tracer provider with its exporter. Spans are sent in batches from the
// provider's own goroutine; Shutdown sends what is left and stops it.
type Tracer struct {
	provider *sdktrace.TracerProvider
	handler  stats.Handler
}

// Start builds the exporter and the provider. It does not wait for the collector: while it
// is unreachable, exports are retried and spans queue (2048 at most, then new ones are
// dropped); errors that end an export go to otel's error handler.
func Start(ctx context.Context, cfg Config) (*Tracer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithInsecure(), otlptracegrpc.WithEndpoint(cfg.Address))
	if err != nil {
		return nil, fmt.Errorf("distributed tracing exporter: %w", err)
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(cfg.ServiceName)}
	if cfg.InstanceID != "" {
		attrs = append(attrs, semconv.ServiceInstanceID(cfg.InstanceID))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		// Merged over OTEL_RESOURCE_ATTRIBUTES, as etcd's: the flags win.
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sampler(cfg.SamplingRatePerMillion)),
	)
	h := otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})),
		// Traces only, as etcd: otelgrpc's RPC metrics are not exported anywhere.
		otelgrpc.WithMeterProvider(noop.NewMeterProvider()),
	)
	return &Tracer{provider: tp, handler: h}, nil
}

// sampler is etcd's: a request with a client's trace context follows the client's decision
// (whatever the rate); one without starts a trace sampled by its trace ID at rate/1e6 (none
// at 0, every one at the maximum).
func sampler(perMillion int) sdktrace.Sampler {
	root := sdktrace.NeverSample()
	if perMillion > 0 {
		root = sdktrace.TraceIDRatioBased(float64(perMillion) / MaxSamplingRatePerMillion)
	}
	return sdktrace.ParentBased(root)
}

// ServerHandler is the stats handler to install on the client gRPC server
// (grpc.StatsHandler): it starts and ends a span per call.
func (t *Tracer) ServerHandler() stats.Handler { return t.handler }

// Shutdown exports the spans not yet sent and stops the provider and its exporter; ctx
// bounds the wait for an unreachable collector.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }
