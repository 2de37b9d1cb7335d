package metrics

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/mem"
)

type fakeSource struct{}

func (fakeSource) Leader() uint64         { return 0x8e9e05c52164694d }
func (fakeSource) MemberID() uint64       { return 0x8e9e05c52164694d }
func (fakeSource) CommittedIndex() uint64 { return 7 }
func (fakeSource) AppliedIndex() uint64   { return 7 }
func (fakeSource) Term() uint64           { return 2 }
func (fakeSource) DBSize() int64          { return 4096 }
func (fakeSource) DBSizeInUse() int64     { return 1024 }
func (fakeSource) Quota() int64           { return 2 << 30 }
func (fakeSource) Revision() int64        { return 5 }
func (fakeSource) CompactRevision() int64 { return 0 }
func (fakeSource) Watchers() int          { return 1 }
func (fakeSource) Keys() int              { return 3 }

// TestMetricsEtcdNames: each instrument fed through its hook shows under etcd's name, type,
// labels and buckets.
func TestMetricsEtcdNames(t *testing.T) {
	m := New(fakeSource{})
	m.BackendCommit.Observe(0.002)
	m.LeaderChanges.Inc()
	m.ProposalsPending.Add(1)
	m.ProposalsFailed.Inc()
	m.SlowApplies.Inc()
	m.SlowReadIndexes.Inc()
	m.PeerSent(0xfd422379fda50e48, 100)
	m.PeerReceived(0xfd422379fda50e48, 50)
	m.PeerSendFailed(0xfd422379fda50e48)
	m.PeerRoundTrip(0xfd422379fda50e48, time.Millisecond)
	// A request of 25 bytes in, a response of 35 out: each counts with its frame header.
	codec := m.ClientCodec()
	in, err := (&pb.PutRequest{Key: []byte("k"), Value: make([]byte, 20)}).Marshal()
	if err != nil || len(in) != 25 {
		t.Fatalf("a request of %d bytes (%v), want 25", len(in), err)
	}
	if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(in)}, &pb.PutRequest{}); err != nil {
		t.Fatal(err)
	}
	out, err := codec.Marshal(&pb.PutRequest{Key: []byte("k"), Value: make([]byte, 30)})
	if err != nil || out.Len() != 35 {
		t.Fatalf("a response of %d bytes (%v), want 35", out.Len(), err)
	}
	out.Free()

	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		got[f.GetName()] = f
	}
	const peerID = "fd422379fda50e48"
	for _, w := range []struct {
		name    string
		typ     dto.MetricType
		label   string // the label etcd gives it, if any, with its value
		value   string
		want    float64 // the value (a histogram's count)
		buckets []float64
	}{
		{"etcd_server_has_leader", dto.MetricType_GAUGE, "", "", 1, nil},
		{"etcd_server_is_leader", dto.MetricType_GAUGE, "", "", 1, nil},
		{"etcd_server_proposals_committed_total", dto.MetricType_GAUGE, "", "", 7, nil},
		{"etcd_server_proposals_applied_total", dto.MetricType_GAUGE, "", "", 7, nil},
		{"etcd_server_proposals_pending", dto.MetricType_GAUGE, "", "", 1, nil},
		{"etcd_server_proposals_failed_total", dto.MetricType_COUNTER, "", "", 1, nil},
		{"etcd_server_leader_changes_seen_total", dto.MetricType_COUNTER, "", "", 1, nil},
		{"etcd_server_slow_apply_total", dto.MetricType_COUNTER, "", "", 1, nil},
		{"etcd_server_slow_read_indexes_total", dto.MetricType_COUNTER, "", "", 1, nil},
		{"etcd_server_quota_backend_bytes", dto.MetricType_GAUGE, "", "", 2 << 30, nil},
		{"etcd_mvcc_db_total_size_in_bytes", dto.MetricType_GAUGE, "", "", 4096, nil},
		{"etcd_mvcc_db_total_size_in_use_in_bytes", dto.MetricType_GAUGE, "", "", 1024, nil},
		{"etcd_disk_backend_commit_duration_seconds", dto.MetricType_HISTOGRAM, "", "", 1, prometheus.ExponentialBuckets(0.001, 2, 14)},
		{"etcd_disk_wal_fsync_duration_seconds", dto.MetricType_HISTOGRAM, "", "", 0, prometheus.ExponentialBuckets(0.001, 2, 14)},
		{"etcd_network_client_grpc_received_bytes_total", dto.MetricType_COUNTER, "", "", 30, nil},
		{"etcd_network_client_grpc_sent_bytes_total", dto.MetricType_COUNTER, "", "", 40, nil},
		{"etcd_network_peer_sent_bytes_total", dto.MetricType_COUNTER, "To", peerID, 100, nil},
		{"etcd_network_peer_received_bytes_total", dto.MetricType_COUNTER, "From", peerID, 50, nil},
		{"etcd_network_peer_sent_failures_total", dto.MetricType_COUNTER, "To", peerID, 1, nil},
		{"etcd_network_peer_round_trip_time_seconds", dto.MetricType_HISTOGRAM, "To", peerID, 1, prometheus.ExponentialBuckets(0.0001, 2, 16)},
		{"process_resident_memory_bytes", dto.MetricType_GAUGE, "", "", -1, nil},
	} {
		f := got[w.name]
		if f == nil {
			t.Errorf("%s missing", w.name)
			continue
		}
		if f.GetType() != w.typ || len(f.Metric) != 1 {
			t.Errorf("%s: %v with %d series, want %v with 1", w.name, f.GetType(), len(f.Metric), w.typ)
			continue
		}
		mt := f.Metric[0]
		if w.label != "" && (len(mt.Label) != 1 || mt.Label[0].GetName() != w.label || mt.Label[0].GetValue() != w.value) {
			t.Errorf("%s: labels %v, want %s=%q", w.name, mt.Label, w.label, w.value)
		}
		var v float64
		switch w.typ {
		case dto.MetricType_GAUGE:
			v = mt.GetGauge().GetValue()
		case dto.MetricType_COUNTER:
			v = mt.GetCounter().GetValue()
		case dto.MetricType_HISTOGRAM:
			v = float64(mt.GetHistogram().GetSampleCount())
			var bounds []float64
			for _, b := range mt.GetHistogram().GetBucket() {
				bounds = append(bounds, b.GetUpperBound())
			}
			if !slices.Equal(bounds, w.buckets) {
				t.Errorf("%s: buckets %v, want etcd's %v", w.name, bounds, w.buckets)
			}
		}
		if w.want >= 0 && v != w.want {
			t.Errorf("%s = %v, want %v", w.name, v, w.want)
		}
	}
}
