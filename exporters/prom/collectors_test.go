package prom

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// baselines is a fixed BaselineSource.
type baselines []Baseline

func (b baselines) EachBaseline(fn func(Baseline)) {
	for _, x := range b {
		fn(x)
	}
}

var nan = math.NaN()

const (
	baselineHelp = `# HELP kubepulse_baseline_seconds Learned latency baseline of a kind of API call in one phase: stat is ewma_mean and ewma_stddev (slow time-decayed mean and spread), p50, p95 and p99 (quantiles of the sliding window). probe is empty for the process's own traffic.
# TYPE kubepulse_baseline_seconds gauge
`
	scoreHelp = `# HELP kubepulse_anomaly_score How anomalous the latency of a kind of API call in one phase is now, from 0 (within its baseline) through 0.5 (at the alerting threshold) towards 1.
# TYPE kubepulse_anomaly_score gauge
`
	samplesHelp = `# HELP kubepulse_baseline_samples Samples the baseline of a kind of API call in one phase has learned from.
# TYPE kubepulse_baseline_samples gauge
`
	stateHelp = `# HELP kubepulse_baseline_state State of the baseline of a kind of API call in one phase: 1 for the state it is in (learning, normal, pending or firing); the other states have no series.
# TYPE kubepulse_baseline_state gauge
`
)

func TestBaselineCollector(t *testing.T) {
	tests := []struct {
		name string
		src  baselines
		want string
	}{
		{
			name: "no keys: no series",
			src:  nil,
			want: "",
		},
		{
			name: "firing key of the process's own traffic: every stat, empty probe",
			src: baselines{{Verb: "list", Resource: "pods", Scope: "namespace", Phase: "server", State: StateFiring,
				Samples: 1200, Mean: 0.01, StdDev: 0.002, P50: 0.009, P95: 0.02, P99: 0.03, Score: 0.8}},
			want: baselineHelp + `kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="ewma_mean",verb="list"} 0.01
kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="ewma_stddev",verb="list"} 0.002
kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="p50",verb="list"} 0.009
kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="p95",verb="list"} 0.02
kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="p99",verb="list"} 0.03
` + scoreHelp + `kubepulse_anomaly_score{phase="server",probe="",resource="pods",scope="namespace",verb="list"} 0.8
` + samplesHelp + `kubepulse_baseline_samples{phase="server",probe="",resource="pods",scope="namespace",verb="list"} 1200
` + stateHelp + `kubepulse_baseline_state{phase="server",probe="",resource="pods",scope="namespace",state="firing",verb="list"} 1
`,
		},
		{
			name: "learning probe key without samples: unknown stats left out, not NaN",
			src: baselines{{Verb: "get", Resource: "nodes", Scope: "resource", Phase: "total", Probe: "node_get_cached",
				State: StateLearning, Mean: nan, StdDev: nan, P50: nan, P95: nan, P99: nan}},
			want: scoreHelp + `kubepulse_anomaly_score{phase="total",probe="node_get_cached",resource="nodes",scope="resource",verb="get"} 0
` + samplesHelp + `kubepulse_baseline_samples{phase="total",probe="node_get_cached",resource="nodes",scope="resource",verb="get"} 0
` + stateHelp + `kubepulse_baseline_state{phase="total",probe="node_get_cached",resource="nodes",scope="resource",state="learning",verb="get"} 1
`,
		},
		{
			name: "same call namespaced and cluster-wide: scope keeps them apart",
			src: baselines{
				{Verb: "list", Resource: "pods", Scope: "namespace", Phase: "total", State: StateNormal, Samples: 50,
					Mean: 0.01, StdDev: nan, P50: nan, P95: nan, P99: 0.02, Score: 0.1},
				{Verb: "list", Resource: "pods", Scope: "cluster", Phase: "total", State: StatePending, Samples: 60,
					Mean: 0.2, StdDev: nan, P50: nan, P95: nan, P99: 0.5, Score: 0.6},
			},
			want: baselineHelp + `kubepulse_baseline_seconds{phase="total",probe="",resource="pods",scope="namespace",stat="ewma_mean",verb="list"} 0.01
kubepulse_baseline_seconds{phase="total",probe="",resource="pods",scope="namespace",stat="p99",verb="list"} 0.02
kubepulse_baseline_seconds{phase="total",probe="",resource="pods",scope="cluster",stat="ewma_mean",verb="list"} 0.2
kubepulse_baseline_seconds{phase="total",probe="",resource="pods",scope="cluster",stat="p99",verb="list"} 0.5
` + scoreHelp + `kubepulse_anomaly_score{phase="total",probe="",resource="pods",scope="namespace",verb="list"} 0.1
kubepulse_anomaly_score{phase="total",probe="",resource="pods",scope="cluster",verb="list"} 0.6
` + samplesHelp + `kubepulse_baseline_samples{phase="total",probe="",resource="pods",scope="namespace",verb="list"} 50
kubepulse_baseline_samples{phase="total",probe="",resource="pods",scope="cluster",verb="list"} 60
` + stateHelp + `kubepulse_baseline_state{phase="total",probe="",resource="pods",scope="namespace",state="normal",verb="list"} 1
kubepulse_baseline_state{phase="total",probe="",resource="pods",scope="cluster",state="pending",verb="list"} 1
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := testutil.CollectAndCompare(NewBaselineCollector(tt.src), strings.NewReader(tt.want)); err != nil {
				t.Error(err)
			}
			// A pedantic registry also checks every series against its Desc
			// (label names, type): the hand-built series must pass.
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(NewBaselineCollector(tt.src))
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestBaselineCollectorSeriesAreIndependent: keys share nothing mutable, so
// the values and labels of one never leak into another's series, and two
// scrapes in a row give the same exposition.
func TestBaselineCollectorSeriesAreIndependent(t *testing.T) {
	src := baselines{
		{Verb: "get", Resource: "pods", Scope: "resource", Phase: "server", State: "resyncing", Samples: 3,
			Mean: 1, StdDev: 2, P50: 3, P95: 4, P99: 5, Score: 0.25},
		{Verb: "list", Resource: "nodes", Scope: "cluster", Phase: "tls", Probe: "node_list", State: StatePending, Samples: 7,
			Mean: 6, StdDev: 7, P50: 8, P95: 9, P99: 10, Score: 0.5},
	}
	want := baselineHelp + `kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="resource",stat="ewma_mean",verb="get"} 1
kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="resource",stat="ewma_stddev",verb="get"} 2
kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="resource",stat="p50",verb="get"} 3
kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="resource",stat="p95",verb="get"} 4
kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="resource",stat="p99",verb="get"} 5
kubepulse_baseline_seconds{phase="tls",probe="node_list",resource="nodes",scope="cluster",stat="ewma_mean",verb="list"} 6
kubepulse_baseline_seconds{phase="tls",probe="node_list",resource="nodes",scope="cluster",stat="ewma_stddev",verb="list"} 7
kubepulse_baseline_seconds{phase="tls",probe="node_list",resource="nodes",scope="cluster",stat="p50",verb="list"} 8
kubepulse_baseline_seconds{phase="tls",probe="node_list",resource="nodes",scope="cluster",stat="p95",verb="list"} 9
kubepulse_baseline_seconds{phase="tls",probe="node_list",resource="nodes",scope="cluster",stat="p99",verb="list"} 10
` + scoreHelp + `kubepulse_anomaly_score{phase="server",probe="",resource="pods",scope="resource",verb="get"} 0.25
kubepulse_anomaly_score{phase="tls",probe="node_list",resource="nodes",scope="cluster",verb="list"} 0.5
` + samplesHelp + `kubepulse_baseline_samples{phase="server",probe="",resource="pods",scope="resource",verb="get"} 3
kubepulse_baseline_samples{phase="tls",probe="node_list",resource="nodes",scope="cluster",verb="list"} 7
` + stateHelp + `kubepulse_baseline_state{phase="server",probe="",resource="pods",scope="resource",state="resyncing",verb="get"} 1
kubepulse_baseline_state{phase="tls",probe="node_list",resource="nodes",scope="cluster",state="pending",verb="list"} 1
`
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewBaselineCollector(src))
	for i := range 2 {
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
			t.Errorf("scrape %d: %v", i+1, err)
		}
	}
}

// TestBaselineCollectorReadsAtScrapeTime: a key evicted between two scrapes
// is gone from the second one, with nothing to delete.
func TestBaselineCollectorReadsAtScrapeTime(t *testing.T) {
	src := baselines{{Verb: "get", Resource: "pods", Scope: "namespace", Phase: "total", State: StateNormal, Samples: 10,
		Mean: 0.01, StdDev: 0.001, P50: 0.01, P95: 0.02, P99: 0.03}}
	var cur baselines = src
	c := NewBaselineCollector(BaselineSourceFunc(func(fn func(Baseline)) { cur.EachBaseline(fn) }))
	if n := testutil.CollectAndCount(c); n != 8 {
		t.Fatalf("one key: %d series, want 8 (5 stats, score, samples, state)", n)
	}
	cur = nil
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("after eviction: %d series, want 0", n)
	}
}

func TestStoreCollector(t *testing.T) {
	const help = `# HELP kubepulse_baseline_evictions_total Keys removed from the baseline store after being idle for store.idleTimeout.
# TYPE kubepulse_baseline_evictions_total counter
kubepulse_baseline_evictions_total 4
# HELP kubepulse_baseline_keys Keys (kinds of call × phase) whose baseline is being learned.
# TYPE kubepulse_baseline_keys gauge
kubepulse_baseline_keys 2
# HELP kubepulse_baseline_keys_max The most keys the baseline store keeps (store.maxKeys); samples of new keys beyond it are dropped.
# TYPE kubepulse_baseline_keys_max gauge
kubepulse_baseline_keys_max 10000
# HELP kubepulse_baseline_overflow_total Samples of new keys dropped because the baseline store was full (store.maxKeys).
# TYPE kubepulse_baseline_overflow_total counter
kubepulse_baseline_overflow_total 3
# HELP kubepulse_checkpoint_errors_total Checkpoints of the baselines that failed to be written.
# TYPE kubepulse_checkpoint_errors_total counter
kubepulse_checkpoint_errors_total 1
`
	const last = `# HELP kubepulse_checkpoint_last_success_timestamp_seconds When the baselines were last written to the checkpoint file, in seconds since the epoch; absent until the first success. Age: time() - this.
# TYPE kubepulse_checkpoint_last_success_timestamp_seconds gauge
kubepulse_checkpoint_last_success_timestamp_seconds 1.7672256005e+09
`
	stats := StoreStats{Keys: 2, MaxKeys: 10000, Overflow: 3, Evictions: 4, CheckpointErrors: 1}
	for _, tt := range []struct {
		name string
		last time.Time
		want string
	}{
		{"before the first checkpoint: no timestamp", time.Time{}, help},
		{"after a checkpoint: its time in seconds", time.Unix(1767225600, 500e6), help + last},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := stats
			s.LastCheckpoint = tt.last
			c := NewStoreCollector(StoreSourceFunc(func() StoreStats { return s }))
			if err := testutil.CollectAndCompare(c, strings.NewReader(tt.want)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAlertsCollector(t *testing.T) {
	const alertsHelp = `# HELP kubepulse_alerts Alerts this agent holds, by alert name and state (pending: above its baseline, not yet for long enough; firing: sent to Alertmanager).
# TYPE kubepulse_alerts gauge
`
	const findingsHelp = `# HELP kubepulse_findings 1 while a finding (advice such as client_throttling or low_connection_reuse) holds; the status page says why, with the numbers.
# TYPE kubepulse_findings gauge
`
	tests := []struct {
		name     string
		alerts   AlertSource
		findings FindingSource
		known    []string
		want     string
	}{
		{
			name:  "known names start at zero in both states",
			known: []string{"KubeAPILatencyDrift", "KubeAPIUnreachable"},
			want: alertsHelp + `kubepulse_alerts{alertname="KubeAPILatencyDrift",state="firing"} 0
kubepulse_alerts{alertname="KubeAPILatencyDrift",state="pending"} 0
kubepulse_alerts{alertname="KubeAPIUnreachable",state="firing"} 0
kubepulse_alerts{alertname="KubeAPIUnreachable",state="pending"} 0
`,
		},
		{
			name: "counts of one name and state are summed; findings once each",
			alerts: AlertSourceFunc(func() []AlertCount {
				return []AlertCount{{"KubeAPILatencyDrift", StateFiring, 2}, {"KubeAPILatencyDrift", StateFiring, 1},
					{"KubeAPILatencyDrift", StatePending, 1}, {"KubeAPIErrorRateDrift", StateFiring, 1}}
			}),
			findings: FindingSourceFunc(func() []Finding {
				return []Finding{{"client_throttling", "warning"}, {"low_connection_reuse", "info"}, {"client_throttling", "warning"}}
			}),
			known: []string{"KubeAPILatencyDrift"},
			want: alertsHelp + `kubepulse_alerts{alertname="KubeAPILatencyDrift",state="firing"} 3
kubepulse_alerts{alertname="KubeAPILatencyDrift",state="pending"} 1
kubepulse_alerts{alertname="KubeAPIErrorRateDrift",state="firing"} 1
` + findingsHelp + `kubepulse_findings{finding="client_throttling",severity="warning"} 1
kubepulse_findings{finding="low_connection_reuse",severity="info"} 1
`,
		},
		{
			name:     "no active findings: no series",
			findings: FindingSourceFunc(func() []Finding { return nil }),
			want:     "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewAlertsCollector(tt.alerts, tt.findings, tt.known...)
			if err := testutil.CollectAndCompare(c, strings.NewReader(tt.want)); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestAlertmanagerCollector(t *testing.T) {
	src := AlertmanagerSourceFunc(func() []AlertmanagerStats {
		return []AlertmanagerStats{
			// Credentials and a query must never reach a label, even if
			// the client forgot to redact them.
			{URL: "https://admin:hunter2@am-0.monitoring:9093/api?token=s3cret#frag", QueueLength: 1, QueueCapacity: 10000,
				Sent: 5, Dropped: 1, SendErrors: 2, LastSuccess: time.Unix(1767225600, 0)},
			{URL: "https://am-0.monitoring:9093/api"},                                             // the same replica again: once
			{URL: "http://am-1.monitoring:9093", QueueCapacity: 10000, Dropped: 7, SendErrors: 9}, // never reached
		}
	})
	want := `# HELP kubepulse_alertmanager_alerts_dropped_total Alerts given up for this Alertmanager replica: queue full (oldest first), rejected, or still queued at shutdown.
# TYPE kubepulse_alertmanager_alerts_dropped_total counter
kubepulse_alertmanager_alerts_dropped_total{url="https://am-0.monitoring:9093/api"} 1
kubepulse_alertmanager_alerts_dropped_total{url="http://am-1.monitoring:9093"} 7
# HELP kubepulse_alertmanager_alerts_sent_total Alerts this Alertmanager replica accepted.
# TYPE kubepulse_alertmanager_alerts_sent_total counter
kubepulse_alertmanager_alerts_sent_total{url="https://am-0.monitoring:9093/api"} 5
kubepulse_alertmanager_alerts_sent_total{url="http://am-1.monitoring:9093"} 0
# HELP kubepulse_alertmanager_last_success_timestamp_seconds When this Alertmanager replica last accepted alerts, in seconds since the epoch; absent until the first success.
# TYPE kubepulse_alertmanager_last_success_timestamp_seconds gauge
kubepulse_alertmanager_last_success_timestamp_seconds{url="https://am-0.monitoring:9093/api"} 1.7672256e+09
# HELP kubepulse_alertmanager_queue_capacity The most alerts that can wait for this Alertmanager replica; beyond it the oldest are dropped.
# TYPE kubepulse_alertmanager_queue_capacity gauge
kubepulse_alertmanager_queue_capacity{url="https://am-0.monitoring:9093/api"} 10000
kubepulse_alertmanager_queue_capacity{url="http://am-1.monitoring:9093"} 10000
# HELP kubepulse_alertmanager_queue_length Alerts waiting to be sent to this Alertmanager replica.
# TYPE kubepulse_alertmanager_queue_length gauge
kubepulse_alertmanager_queue_length{url="https://am-0.monitoring:9093/api"} 1
kubepulse_alertmanager_queue_length{url="http://am-1.monitoring:9093"} 0
# HELP kubepulse_alertmanager_send_errors_total POSTs to this Alertmanager replica that failed (each may be retried).
# TYPE kubepulse_alertmanager_send_errors_total counter
kubepulse_alertmanager_send_errors_total{url="https://am-0.monitoring:9093/api"} 2
kubepulse_alertmanager_send_errors_total{url="http://am-1.monitoring:9093"} 9
`
	if err := testutil.CollectAndCompare(NewAlertmanagerCollector(src), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

func TestSafeURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://am:9093":                     "http://am:9093",
		"https://user:pass@am:9093/x?a=b#c":  "https://am:9093/x",
		"https://user@am:9093/?":             "https://am:9093/",
		"http://am:9093/%zz":                 "<unparsable URL>",
		"postgres://u:p@db/?sslmode=require": "postgres://db/",
	} {
		if got := safeURL(in); got != want {
			t.Errorf("safeURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOTLPCollector(t *testing.T) {
	src := OTLPSourceFunc(func() OTLPStats {
		return OTLPStats{SpansExported: 1, SpansFailed: 2, SpansDropped: 3, ExportErrors: 4, QueueLength: 5, QueueCapacity: 2048}
	})
	want := `# HELP kubepulse_otlp_export_errors_total OTLP export calls that failed.
# TYPE kubepulse_otlp_export_errors_total counter
kubepulse_otlp_export_errors_total 4
# HELP kubepulse_otlp_queue_capacity The most spans held for export; beyond it new spans are dropped.
# TYPE kubepulse_otlp_queue_capacity gauge
kubepulse_otlp_queue_capacity 2048
# HELP kubepulse_otlp_queue_length Spans held for export now: queued, being batched or exported.
# TYPE kubepulse_otlp_queue_length gauge
kubepulse_otlp_queue_length 5
# HELP kubepulse_otlp_spans_dropped_total Spans never sent: the export queue was full, or shutdown had begun.
# TYPE kubepulse_otlp_spans_dropped_total counter
kubepulse_otlp_spans_dropped_total 3
# HELP kubepulse_otlp_spans_exported_total Spans the OTLP receiver accepted.
# TYPE kubepulse_otlp_spans_exported_total counter
kubepulse_otlp_spans_exported_total 1
# HELP kubepulse_otlp_spans_failed_total Spans in OTLP exports that failed (receiver down, timeout, rejected).
# TYPE kubepulse_otlp_spans_failed_total counter
kubepulse_otlp_spans_failed_total 2
`
	if err := testutil.CollectAndCompare(NewOTLPCollector(src), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}

// TestCollectorsLint runs client_golang's promlint (Prometheus' naming
// conventions: units, _total on counters, help present) over every metric
// this package defines, and checks that they register together.
func TestCollectorsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewBaselineCollector(baselines{{Verb: "get", Resource: "pods", Scope: "namespace", Phase: "total", State: StateNormal,
			Samples: 1, Mean: 1, StdDev: 1, P50: 1, P95: 1, P99: 1, Score: 0.1}}),
		NewStoreCollector(StoreSourceFunc(func() StoreStats { return StoreStats{LastCheckpoint: time.Unix(1, 0)} })),
		NewAlertsCollector(nil, FindingSourceFunc(func() []Finding { return []Finding{{"x", "info"}} }), "KubeAPILatencyDrift"),
		NewAlertmanagerCollector(AlertmanagerSourceFunc(func() []AlertmanagerStats {
			return []AlertmanagerStats{{URL: "http://am", LastSuccess: time.Unix(1, 0)}}
		})),
		NewOTLPCollector(OTLPSourceFunc(func() OTLPStats { return OTLPStats{} })),
	)
	m := NewAgentMetrics(reg)
	m.ObserveProbe("p", true)
	m.ObserveWatchDelay(time.Millisecond)
	NewRecorder(reg)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestNewRegistryHasRuntimeCollectors(t *testing.T) {
	reg := NewRegistry()
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_start_time_seconds", "process_resident_memory_bytes"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s: %d series, err %v; want 1", name, n, err)
		}
	}
	// Our own registry: nothing leaks into or from the global default one.
	if reg == prometheus.DefaultGatherer {
		t.Fatal("NewRegistry returned the default registry")
	}
}
