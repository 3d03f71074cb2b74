package prom

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAgentMetricsProbes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewAgentMetrics(reg)
	steps := []struct {
		probe       string
		ok          bool
		consecutive float64
	}{
		{"node_get_cached", false, 1},
		{"node_get_quorum", false, 2}, // any probe counts towards the run
		{"node_get_cached", false, 3},
		{"node_list", true, 0}, // one success ends it
		{"node_get_cached", false, 1},
	}
	for i, s := range steps {
		m.ObserveProbe(s.probe, s.ok)
		if got := testutil.ToFloat64(m.failures); got != s.consecutive {
			t.Fatalf("step %d: consecutive failures %v, want %v", i, got, s.consecutive)
		}
	}
	m.SetBudget(20, 400, 20*time.Second)
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kubepulse_probes_total Synthetic probe requests this agent sent to the API server, by probe and result (success or failure).
# TYPE kubepulse_probes_total counter
kubepulse_probes_total{probe="node_get_cached",result="failure"} 3
kubepulse_probes_total{probe="node_get_quorum",result="failure"} 1
kubepulse_probes_total{probe="node_list",result="success"} 1
# HELP kubepulse_probe_consecutive_failures Probes that failed in a row since the last successful one (any probe); 0 after a success.
# TYPE kubepulse_probe_consecutive_failures gauge
kubepulse_probe_consecutive_failures 1
# HELP kubepulse_probe_budget_qps Cluster-wide probe budget in requests per second (probe.clusterQPS) that all agents share; this agent's share is this divided by kubepulse_probe_cluster_nodes.
# TYPE kubepulse_probe_budget_qps gauge
kubepulse_probe_budget_qps 20
# HELP kubepulse_probe_cluster_nodes Node count the probe budget is divided by.
# TYPE kubepulse_probe_cluster_nodes gauge
kubepulse_probe_cluster_nodes 400
# HELP kubepulse_probe_interval_seconds Time between two rounds of probes of this agent, after the cluster-wide budget stretched it.
# TYPE kubepulse_probe_interval_seconds gauge
kubepulse_probe_interval_seconds 20
`), "kubepulse_probes_total", "kubepulse_probe_consecutive_failures", "kubepulse_probe_budget_qps",
		"kubepulse_probe_cluster_nodes", "kubepulse_probe_interval_seconds")
	if err != nil {
		t.Error(err)
	}
}

func TestAgentMetricsProbeNamesBounded(t *testing.T) {
	m := NewAgentMetrics(nil)
	for i := range MaxProbeNames + 10 {
		m.ObserveProbe(fmt.Sprintf("probe-%d", i), true)
	}
	m.ObserveProbe("probe-0", true) // a known name stays itself
	if n := testutil.CollectAndCount(m.probes); n != MaxProbeNames+1 {
		t.Errorf("%d series, want %d names + other", n, MaxProbeNames+1)
	}
	if got := testutil.ToFloat64(m.probes.WithLabelValues("other", "success")); got != 10 {
		t.Errorf("other = %v, want 10", got)
	}
	if got := testutil.ToFloat64(m.probes.WithLabelValues("probe-0", "success")); got != 2 {
		t.Errorf("probe-0 = %v, want 2", got)
	}
}

func TestAgentMetricsWatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewAgentMetrics(reg)
	for _, r := range []string{WatchClosed, WatchClosed, WatchExpired, WatchError, "something-new"} {
		m.WatchRestart(r)
	}
	m.ObserveWatchDelay(3 * time.Millisecond)
	m.ObserveWatchDelay(-time.Microsecond) // rounding of renewTime: 0
	m.ObserveWatchDelay(2 * time.Second)
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kubepulse_watch_restarts_total Times the watch on this node's Lease was restarted, by reason: closed (the server ended it), error, expired (410 Gone: relisted).
# TYPE kubepulse_watch_restarts_total counter
kubepulse_watch_restarts_total{reason="closed"} 2
kubepulse_watch_restarts_total{reason="error"} 2
kubepulse_watch_restarts_total{reason="expired"} 1
# HELP kubepulse_watch_relists_total Times the watch on this node's Lease had to read it again because its resourceVersion expired (410 Gone).
# TYPE kubepulse_watch_relists_total counter
kubepulse_watch_relists_total 1
# HELP kubepulse_watch_delivery_delay_seconds Watch delivery delay of this node's Lease: when the renewal event arrived minus its spec.renewTime (same node, same clock).
# TYPE kubepulse_watch_delivery_delay_seconds histogram
kubepulse_watch_delivery_delay_seconds_bucket{le="0.001"} 1
kubepulse_watch_delivery_delay_seconds_bucket{le="0.0025"} 1
kubepulse_watch_delivery_delay_seconds_bucket{le="0.005"} 2
kubepulse_watch_delivery_delay_seconds_bucket{le="0.01"} 2
kubepulse_watch_delivery_delay_seconds_bucket{le="0.025"} 2
kubepulse_watch_delivery_delay_seconds_bucket{le="0.05"} 2
kubepulse_watch_delivery_delay_seconds_bucket{le="0.1"} 2
kubepulse_watch_delivery_delay_seconds_bucket{le="0.25"} 2
kubepulse_watch_delivery_delay_seconds_bucket{le="0.5"} 2
kubepulse_watch_delivery_delay_seconds_bucket{le="1"} 2
kubepulse_watch_delivery_delay_seconds_bucket{le="2.5"} 3
kubepulse_watch_delivery_delay_seconds_bucket{le="5"} 3
kubepulse_watch_delivery_delay_seconds_bucket{le="10"} 3
kubepulse_watch_delivery_delay_seconds_bucket{le="30"} 3
kubepulse_watch_delivery_delay_seconds_bucket{le="60"} 3
kubepulse_watch_delivery_delay_seconds_bucket{le="+Inf"} 3
kubepulse_watch_delivery_delay_seconds_sum 2.003
kubepulse_watch_delivery_delay_seconds_count 3
`), "kubepulse_watch_restarts_total", "kubepulse_watch_relists_total", "kubepulse_watch_delivery_delay_seconds")
	if err != nil {
		t.Error(err)
	}

	// The same histogram is native too: protobuf scrapes get its
	// exponential buckets (schema 3: factor 1.09 ≤ 1.1).
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kubepulse_watch_delivery_delay_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		if h.GetSchema() != 3 || len(h.GetPositiveSpan()) == 0 || h.GetZeroCount() != 1 {
			t.Errorf("native histogram: schema %d, %d positive spans, zero count %d; want schema 3, spans, 1 zero",
				h.GetSchema(), len(h.GetPositiveSpan()), h.GetZeroCount())
		}
		return
	}
	t.Fatal("kubepulse_watch_delivery_delay_seconds not gathered")
}

// TestAgentMetricsConcurrent: probes ending together on many goroutines
// (run with -race) leave consistent counts.
func TestAgentMetricsConcurrent(t *testing.T) {
	m := NewAgentMetrics(prometheus.NewRegistry())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				m.ObserveProbe(fmt.Sprintf("p%d", g), i%2 == 0)
				m.ObserveWatchDelay(time.Duration(i) * time.Microsecond)
				m.WatchRestart(WatchClosed)
			}
		})
	}
	wg.Wait()
	if got := testutil.ToFloat64(m.restarts.WithLabelValues(WatchClosed)); got != 4000 {
		t.Errorf("restarts = %v, want 4000", got)
	}
	var total float64
	for g := range 8 {
		for _, r := range []string{"success", "failure"} {
			total += testutil.ToFloat64(m.probes.WithLabelValues(fmt.Sprintf("p%d", g), r))
		}
	}
	if total != 4000 {
		t.Errorf("probes = %v, want 4000", total)
	}
}
