// Package metrics exposes a member's Prometheus metrics on /metrics, under etcd's metric
// names where etcd has one, so that existing dashboards and alerts keep working.
package metrics

import (
	"net/http"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is what the metrics read from the member.
type Source interface {
	Leader() uint64
	MemberID() uint64
	CommittedIndex() uint64
	AppliedIndex() uint64
	Term() uint64
	DBSize() int64
	DBSizeInUse() int64
	Revision() int64
	CompactRevision() int64
	Watchers() int
	Keys() int
}

// Metrics holds a member's registry and the instruments fed from the request path.
type Metrics struct {
	Registry *prometheus.Registry
	// GRPC counts and times every RPC (grpc_server_handled_total, grpc_server_handling_seconds).
	GRPC *grpcprom.ServerMetrics
	// WALFsync times each fsync of the Raft log (etcd_disk_wal_fsync_duration_seconds).
	WALFsync prometheus.Histogram
}

// New registers the member's metrics.
func New(src Source) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		GRPC: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets(prometheus.ExponentialBuckets(0.0001, 2, 16)))),
		WALFsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "etcd", Subsystem: "disk", Name: "wal_fsync_duration_seconds",
			Help:    "The latency distributions of fsync called by WAL.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
	gauge := func(ns, sub, name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, f)
	}
	counter := func(ns, sub, name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, f)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.GRPC, m.WALFsync,
		gauge("etcd", "server", "has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
			func() float64 { return b2f(src.Leader() != 0) }),
		gauge("etcd", "server", "is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
			func() float64 { return b2f(src.Leader() == src.MemberID()) }),
		counter("etcd", "server", "proposals_committed_total", "The total number of consensus proposals committed.",
			func() float64 { return float64(src.CommittedIndex()) }),
		counter("etcd", "server", "proposals_applied_total", "The total number of consensus proposals applied.",
			func() float64 { return float64(src.AppliedIndex()) }),
		gauge("etcd", "server", "term", "The current raft term.", func() float64 { return float64(src.Term()) }),
		gauge("etcd", "mvcc", "db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes.",
			func() float64 { return float64(src.DBSize()) }),
		gauge("etcd", "mvcc", "db_total_size_in_use_in_bytes", "Total size of the underlying database logically in use in bytes.",
			func() float64 { return float64(src.DBSizeInUse()) }),
		gauge("etcd_debugging", "mvcc", "current_revision", "The current revision of store.",
			func() float64 { return float64(src.Revision()) }),
		gauge("etcd_debugging", "mvcc", "compact_revision", "The revision of the last compaction in store.",
			func() float64 { return float64(src.CompactRevision()) }),
		gauge("etcd_debugging", "mvcc", "watcher_total", "Total number of watchers.",
			func() float64 { return float64(src.Watchers()) }),
		gauge("etcd_debugging", "mvcc", "keys_total", "Total number of keys.",
			func() float64 { return float64(src.Keys()) }),
	)
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}
