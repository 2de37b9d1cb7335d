//go:build !js

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// scrape fetches a member's /metrics and parses the exposition format.
func scrape(t *testing.T, m *member) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := httpGet(t, "http://"+m.endpoint+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics of %s: status %d", m.endpoint, code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics of %s does not parse: %v", m.endpoint, err)
	}
	return fams
}

// metricWant is a series etcd's dashboard or alerts query: its name as queried (a
// histogram's _bucket), the type etcd gives it, labels it must have (a value "" only names
// the label), and whether the traffic the test made must have moved it.
type metricWant struct {
	name   string
	typ    dto.MetricType
	labels map[string]string
	moved  bool
}

// check returns what the scrape lacks: families missing or of the wrong type, no series
// with the labels, or series that should have moved at zero.
func (w metricWant) check(fams map[string]*dto.MetricFamily) string {
	family := w.name
	if w.typ == dto.MetricType_HISTOGRAM {
		family = strings.TrimSuffix(w.name, "_bucket")
	}
	f := fams[family]
	if f == nil {
		return w.name + " missing"
	}
	if f.GetType() != w.typ {
		return fmt.Sprintf("%s is a %v, etcd's is a %v", family, f.GetType(), w.typ)
	}
	found, sum := false, 0.0
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range w.labels {
			if got, has := have[k]; !has || (v != "" && got != v) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		found = true
		switch w.typ {
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			sum += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	switch {
	case !found:
		return fmt.Sprintf("%s has no series with labels %v", w.name, w.labels)
	case w.moved && sum == 0:
		return fmt.Sprintf("%s%v is 0 after traffic", w.name, w.labels)
	}
	return ""
}

// waitMetrics polls m's /metrics until every want holds, and reports (t.Errorf) those that
// still do not after timeout. It returns the last scrape.
func waitMetrics(t *testing.T, m *member, wants []metricWant, timeout time.Duration) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		fams := scrape(t, m)
		var problems []string
		for _, w := range wants {
			if p := w.check(fams); p != "" {
				problems = append(problems, p)
			}
		}
		if len(problems) == 0 {
			return fams
		}
		if time.Now().After(deadline) {
			t.Errorf("%s /metrics after %v:\n  %s", m.endpoint, timeout, strings.Join(problems, "\n  "))
			return fams
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func gaugeValue(fams map[string]*dto.MetricFamily, name string) float64 {
	if f := fams[name]; f != nil && len(f.Metric) == 1 {
		return f.Metric[0].GetGauge().GetValue()
	}
	return -1
}

func hexID(id uint64) string { return strconv.FormatUint(id, 16) }

// TestMetricsDashboard: every series etcd's Grafana dashboard and alerting rules
// (etcd-io/etcd contrib/mixin) query is on each member's /metrics of a 3-member cluster,
// with etcd's type and labels, and moved by real traffic; then the failure counters move
// when members die.
func TestMetricsDashboard(t *testing.T) {
	// Every apply counts as slow, so etcd_server_slow_apply_total has something to count.
	c := startCluster(t, 3, "--warning-apply-duration", "1ns")
	ids := make([]uint64, len(c.members))
	for i, m := range c.members {
		ids[i] = memberIDOf(t, m)
	}
	// Client traffic on every member: unary KV calls (a linearizable Get goes through
	// ReadIndex), a watch stream and a lease keep-alive stream.
	for i, m := range c.members {
		cl := m.client(t)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		wctx, wcancel := context.WithCancel(ctx)
		wch := cl.Watch(wctx, fmt.Sprintf("k%d", i))
		for j := range 5 {
			if _, err := cl.Put(ctx, fmt.Sprintf("k%d", i), strings.Repeat("v", 100*j)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := cl.Get(ctx, "k", clientv3.WithPrefix()); err != nil {
			t.Fatal(err)
		}
		if resp := <-wch; resp.Err() != nil || len(resp.Events) == 0 {
			t.Fatalf("watch on %s: %v", m.endpoint, resp.Err())
		}
		lease, err := cl.Grant(ctx, 60)
		if err != nil {
			t.Fatal(err)
		}
		// Through a follower, the keep-alive reaches the leader, which waits until it has
		// applied the grant (as etcd's LeaseRenew): no retry needed.
		if _, err := cl.KeepAliveOnce(ctx, lease.ID); err != nil {
			t.Fatalf("keep-alive on %s right after the grant: %v", m.endpoint, err)
		}
		wcancel()
		cancel()
	}

	lead := c.leader()
	for i, m := range c.members {
		wants := []metricWant{
			// The dashboard (contrib/mixin/dashboards/targets.libsonnet).
			{"etcd_server_has_leader", dto.MetricType_GAUGE, nil, true},
			{"grpc_server_started_total", dto.MetricType_COUNTER, map[string]string{"grpc_type": "unary", "grpc_service": "etcdserverpb.KV"}, true},
			{"grpc_server_handled_total", dto.MetricType_COUNTER, map[string]string{"grpc_type": "unary", "grpc_code": "OK", "grpc_service": "etcdserverpb.KV"}, true},
			{"grpc_server_started_total", dto.MetricType_COUNTER, map[string]string{"grpc_type": "bidi_stream", "grpc_service": "etcdserverpb.Watch"}, true},
			{"grpc_server_handled_total", dto.MetricType_COUNTER, map[string]string{"grpc_type": "bidi_stream", "grpc_service": "etcdserverpb.Watch", "grpc_code": ""}, false},
			{"grpc_server_started_total", dto.MetricType_COUNTER, map[string]string{"grpc_type": "bidi_stream", "grpc_service": "etcdserverpb.Lease"}, true},
			{"grpc_server_handled_total", dto.MetricType_COUNTER, map[string]string{"grpc_type": "bidi_stream", "grpc_service": "etcdserverpb.Lease", "grpc_code": ""}, false},
			{"etcd_mvcc_db_total_size_in_bytes", dto.MetricType_GAUGE, nil, true},
			{"etcd_disk_wal_fsync_duration_seconds_bucket", dto.MetricType_HISTOGRAM, nil, true},
			{"etcd_disk_backend_commit_duration_seconds_bucket", dto.MetricType_HISTOGRAM, nil, true},
			{"process_resident_memory_bytes", dto.MetricType_GAUGE, nil, true},
			{"etcd_network_client_grpc_received_bytes_total", dto.MetricType_COUNTER, nil, true},
			{"etcd_network_client_grpc_sent_bytes_total", dto.MetricType_COUNTER, nil, true},
			{"etcd_server_leader_changes_seen_total", dto.MetricType_COUNTER, nil, true},
			// The alerts (contrib/mixin/alerts/alerts.libsonnet) and the brief's extras.
			{"grpc_server_handling_seconds_bucket", dto.MetricType_HISTOGRAM, map[string]string{"grpc_type": "unary", "grpc_method": "Put", "grpc_service": "etcdserverpb.KV"}, true},
			{"etcd_mvcc_db_total_size_in_use_in_bytes", dto.MetricType_GAUGE, nil, true},
			{"etcd_server_quota_backend_bytes", dto.MetricType_GAUGE, nil, true},
			{"etcd_server_proposals_failed_total", dto.MetricType_COUNTER, nil, false},
			{"etcd_server_proposals_pending", dto.MetricType_GAUGE, nil, false},
			{"etcd_server_proposals_committed_total", dto.MetricType_GAUGE, nil, true},
			{"etcd_server_proposals_applied_total", dto.MetricType_GAUGE, nil, true},
			{"etcd_server_slow_apply_total", dto.MetricType_COUNTER, nil, true},
			{"etcd_server_slow_read_indexes_total", dto.MetricType_COUNTER, nil, false},
		}
		// The peer series, labelled with the other members' IDs in hex as etcd's. Raft
		// messages go between the leader and each follower (two followers need not have
		// exchanged any); every pair is probed for its round trip, every 4 s, the first
		// right away.
		for j, id := range ids {
			if j == i {
				continue
			}
			if i == lead || j == lead {
				wants = append(wants,
					metricWant{"etcd_network_peer_sent_bytes_total", dto.MetricType_COUNTER, map[string]string{"To": hexID(id)}, true},
					metricWant{"etcd_network_peer_received_bytes_total", dto.MetricType_COUNTER, map[string]string{"From": hexID(id)}, true})
			}
			wants = append(wants,
				metricWant{"etcd_network_peer_round_trip_time_seconds_bucket", dto.MetricType_HISTOGRAM, map[string]string{"To": hexID(id)}, true})
		}
		fams := waitMetrics(t, m, wants, 20*time.Second)
		if v := gaugeValue(fams, "etcd_server_has_leader"); v != 1 {
			t.Errorf("%s: etcd_server_has_leader = %v", m.endpoint, v)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// A member dies: the others count failed sends to it (etcdMembersDown).
	c.members[2].kill()
	for _, m := range c.members[:2] {
		waitMetrics(t, m, []metricWant{{"etcd_network_peer_sent_failures_total", dto.MetricType_COUNTER, map[string]string{"To": hexID(ids[2])}, true}}, 20*time.Second)
	}

	// Another dies: the last one has no quorum, so a write fails and a linearizable read
	// gets no ReadIndex answer (it times out after 5 s + 2 election timeouts).
	c.members[1].kill()
	cl := c.members[0].client(t)
	pctx, pcancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := cl.Put(pctx, "k", "no quorum")
	pcancel()
	if err == nil {
		t.Fatal("a write without quorum succeeded")
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err = cl.Get(rctx, "k")
	rcancel()
	if err == nil {
		t.Fatal("a linearizable read without quorum succeeded")
	}
	fams := waitMetrics(t, c.members[0], []metricWant{
		{"etcd_server_proposals_failed_total", dto.MetricType_COUNTER, nil, true},
		{"etcd_server_slow_read_indexes_total", dto.MetricType_COUNTER, nil, true},
	}, 20*time.Second)
	if v := gaugeValue(fams, "etcd_server_has_leader"); v != 0 {
		t.Errorf("etcd_server_has_leader = %v without quorum", v)
	}
}
