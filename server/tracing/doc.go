// Package tracing exports OpenTelemetry traces of a member's client gRPC requests to an
// OTLP/gRPC collector, as etcd's --enable-distributed-tracing does: one server span per
// request, named by otelgrpc after the method ("etcdserverpb.KV/Put"), continuing the trace a
// client propagated in its W3C traceparent metadata.
//
// Sampling is etcd's: a request whose client sent a trace context follows the client's
// decision (sampled upstream, recorded here, whatever the rate); a request without one starts
// a new trace, sampled with probability SamplingRatePerMillion/1e6 (0: never).
//
// With tracing off the server has no provider and no stats handler, so it costs nothing.
package tracing
