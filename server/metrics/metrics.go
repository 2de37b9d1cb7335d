// Package metrics exposes a member's Prometheus metrics on /metrics, under etcd's metric
// names, types, labels and buckets where etcd has one, so that existing dashboards and alerts
// (etcd's Grafana dashboard and alerting rules, contrib/mixin) keep working.
//
// What the member cannot see from its state (events, durations, traffic) it is told of
// through small observer funcs: node.Config's Observe* fields, peer.Observer, and the client
// server's codec (ClientCodec); server.go wires them to the instruments here.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	"github.com/metastore/metastore/server/grpccodec"
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
	// Quota is the backend quota in bytes (negative: none).
	Quota() int64
	Revision() int64
	CompactRevision() int64
	Watchers() int
	Keys() int
}

// Metrics holds a member's registry and the instruments fed from the request path.
type Metrics struct {
	Registry *prometheus.Registry
	// GRPC counts and times every RPC (grpc_server_started_total, grpc_server_handled_total,
	// grpc_server_handling_seconds, ...).
	GRPC *GRPCMetrics
	// WALFsync times each fsync of the Raft log (etcd_disk_wal_fsync_duration_seconds).
	WALFsync prometheus.Histogram
	// BackendCommit times each commit and flush of the backend
	// (etcd_disk_backend_commit_duration_seconds).
	BackendCommit prometheus.Histogram
	// LeaderChanges counts the new leaders this member saw (etcd_server_leader_changes_seen_total).
	LeaderChanges prometheus.Counter
	// ProposalsPending is the proposals waiting to apply (etcd_server_proposals_pending).
	ProposalsPending prometheus.Gauge
	// ProposalsFailed counts failed proposals (etcd_server_proposals_failed_total).
	ProposalsFailed prometheus.Counter
	// SlowApplies counts applies slower than --warning-apply-duration (etcd_server_slow_apply_total).
	SlowApplies prometheus.Counter
	// SlowReadIndexes counts ReadIndex answers too late or missing
	// (etcd_server_slow_read_indexes_total).
	SlowReadIndexes prometheus.Counter

	clientSent, clientReceived prometheus.Counter
	peerSent, peerReceived     *prometheus.CounterVec
	peerSentFailures           *prometheus.CounterVec
	peerRTT                    *prometheus.HistogramVec
}

// New registers the member's metrics.
func New(src Source) *Metrics {
	reg := prometheus.NewRegistry()
	counter := func(ns, sub, name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help})
	}
	m := &Metrics{
		Registry: reg,
		GRPC:     newGRPCMetrics(),
		WALFsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "etcd", Subsystem: "disk", Name: "wal_fsync_duration_seconds",
			Help:    "The latency distributions of fsync called by WAL.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		BackendCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "etcd", Subsystem: "disk", Name: "backend_commit_duration_seconds",
			Help:    "The latency distributions of commit called by backend.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		LeaderChanges: counter("etcd", "server", "leader_changes_seen_total", "The number of leader changes seen."),
		ProposalsPending: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "etcd", Subsystem: "server",
			Name: "proposals_pending", Help: "The current number of pending proposals to commit."}),
		ProposalsFailed: counter("etcd", "server", "proposals_failed_total", "The total number of failed proposals seen."),
		SlowApplies: counter("etcd", "server", "slow_apply_total",
			"The total number of slow apply requests (likely overloaded from slow disk)."),
		SlowReadIndexes: counter("etcd", "server", "slow_read_indexes_total",
			"The total number of pending read indexes not in sync with leader's or timed out read index requests."),
		clientSent: counter("etcd", "network", "client_grpc_sent_bytes_total",
			"The total number of bytes sent to grpc clients."),
		clientReceived: counter("etcd", "network", "client_grpc_received_bytes_total",
			"The total number of bytes received from grpc clients."),
		peerSent: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "network",
			Name: "peer_sent_bytes_total", Help: "The total number of bytes sent to peers."}, []string{"To"}),
		peerReceived: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "network",
			Name: "peer_received_bytes_total", Help: "The total number of bytes received from peers."}, []string{"From"}),
		peerSentFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "etcd", Subsystem: "network",
			Name: "peer_sent_failures_total", Help: "The total number of send failures from peers."}, []string{"To"}),
		peerRTT: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "etcd", Subsystem: "network",
			Name: "peer_round_trip_time_seconds", Help: "Round-Trip-Time histogram between peers",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"To"}),
	}
	gauge := func(ns, sub, name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, f)
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
		m.GRPC, m.WALFsync, m.BackendCommit,
		m.LeaderChanges, m.ProposalsPending, m.ProposalsFailed, m.SlowApplies, m.SlowReadIndexes,
		m.clientSent, m.clientReceived, m.peerSent, m.peerReceived, m.peerSentFailures, m.peerRTT,
		gauge("etcd", "server", "has_leader", "Whether or not a leader exists. 1 is existence, 0 is not.",
			func() float64 { return b2f(src.Leader() != 0) }),
		gauge("etcd", "server", "is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise.",
			func() float64 { return b2f(src.Leader() == src.MemberID()) }),
		// Gauges in etcd, despite the names.
		gauge("etcd", "server", "proposals_committed_total", "The total number of consensus proposals committed.",
			func() float64 { return float64(src.CommittedIndex()) }),
		gauge("etcd", "server", "proposals_applied_total", "The total number of consensus proposals applied.",
			func() float64 { return float64(src.AppliedIndex()) }),
		gauge("etcd", "server", "term", "The current raft term.", func() float64 { return float64(src.Term()) }),
		gauge("etcd", "server", "quota_backend_bytes", "Current backend storage quota size in bytes.",
			func() float64 { return float64(src.Quota()) }),
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

// memberID is a member ID as etcd's peer metrics label it (types.ID: hex).
func memberID(id uint64) string { return strconv.FormatUint(id, 16) }

// PeerSent counts bytes sent to member to (etcd_network_peer_sent_bytes_total).
func (m *Metrics) PeerSent(to uint64, bytes int) {
	m.peerSent.WithLabelValues(memberID(to)).Add(float64(bytes))
}

// PeerReceived counts bytes received from member from (etcd_network_peer_received_bytes_total).
func (m *Metrics) PeerReceived(from uint64, bytes int) {
	m.peerReceived.WithLabelValues(memberID(from)).Add(float64(bytes))
}

// PeerSendFailed counts a failed send to member to (etcd_network_peer_sent_failures_total).
func (m *Metrics) PeerSendFailed(to uint64) { m.peerSentFailures.WithLabelValues(memberID(to)).Inc() }

// PeerRoundTrip records a round trip to member to (etcd_network_peer_round_trip_time_seconds).
func (m *Metrics) PeerRoundTrip(to uint64, d time.Duration) {
	m.peerRTT.WithLabelValues(memberID(to)).Observe(d.Seconds())
}

// ClientCodec is the client gRPC server's codec (grpccodec), counting the bytes
// of every message it decodes and encodes, each with the 5-byte frame header that goes with
// it on the wire (etcd_network_client_grpc_received_bytes_total, ..._sent_bytes_total; a
// compressed message counts its size before compression). A stats handler saw the same
// bytes, but any stats handler makes gRPC build and time an event for every step of every
// call: 14% of the server's CPU per linearizable range (make bench-cpu).
func (m *Metrics) ClientCodec() encoding.CodecV2 {
	return clientCodec{CodecV2: grpccodec.New(), m: m}
}

type clientCodec struct {
	encoding.CodecV2
	m *Metrics
}

// frameHeader is gRPC's length-prefixed message header: a flag byte and a 4-byte length.
const frameHeader = 5

func (c clientCodec) Marshal(v any) (mem.BufferSlice, error) {
	out, err := c.CodecV2.Marshal(v)
	if err == nil {
		c.m.clientSent.Add(float64(out.Len() + frameHeader))
	}
	return out, err
}

func (c clientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	c.m.clientReceived.Add(float64(data.Len() + frameHeader))
	return c.CodecV2.Unmarshal(data, v)
}
