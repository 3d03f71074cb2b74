package dashboards

import "slices"

// Source says which program exports a metric.
type Source string

// Sources of the metrics the dashboards and rules read.
const (
	Agent     Source = "kubepulse"      // the kubepulse agent (or a controller using the library)
	APIServer Source = "kube-apiserver" // the Kubernetes API server's own /metrics
)

// Type is a metric's Prometheus type.
type Type string

// Metric types. A histogram may be exposed as a classic histogram (_bucket,
// _sum, _count series), a native histogram (one series), or both; every
// query here reads either.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Metric is one metric family that a dashboard panel or a rule reads.
type Metric struct {
	Name   string
	Type   Type
	Source Source
	// Labels are the labels the exporter itself sets. Scrape-time labels
	// (ScrapeLabels) come on top.
	Labels []string
	// Proposed is true for names this package defines ahead of the agent
	// (kubepulse_probe_*, kubepulse_watch_*, kubepulse_findings): the agent
	// must export exactly these names, types and labels. The others are the
	// fixed core set of docs/DESIGN.md or the API server's.
	Proposed bool
	Help     string
}

// Metric names, as exported. Queries are built from these constants only.
const (
	RequestDuration      = "kubepulse_request_duration_seconds"
	RequestPhase         = "kubepulse_request_phase_seconds"
	Requests             = "kubepulse_requests_total"
	RequestErrors        = "kubepulse_request_errors_total"
	Connections          = "kubepulse_connections_total"
	RateLimiterWait      = "kubepulse_client_ratelimiter_wait_seconds"
	Baseline             = "kubepulse_baseline_seconds"
	AnomalyScore         = "kubepulse_anomaly_score"
	Alerts               = "kubepulse_alerts"
	Probes               = "kubepulse_probes_total"
	ProbeFailures        = "kubepulse_probe_consecutive_failures"
	ProbeInterval        = "kubepulse_probe_interval_seconds"
	ProbeClusterNodes    = "kubepulse_probe_cluster_nodes"
	ProbeBudget          = "kubepulse_probe_budget_qps"
	WatchDelay           = "kubepulse_watch_delivery_delay_seconds"
	WatchRestarts        = "kubepulse_watch_restarts_total"
	WatchRelists         = "kubepulse_watch_relists_total"
	Findings             = "kubepulse_findings"
	APIServerSLIDuration = "apiserver_request_sli_duration_seconds"
)

// Metrics is every metric that a dashboard or rule of this package uses, and
// nothing else: a test parses every query and fails on a name not listed here.
var Metrics = []Metric{
	{Name: RequestDuration, Type: Histogram, Source: Agent, Labels: []string{"verb", "resource", "scope", "code"},
		Help: "Latency of API requests that are not long-running, from the client's side (classic and native histogram)."},
	{Name: RequestPhase, Type: Histogram, Source: Agent, Labels: []string{"verb", "resource", "phase"},
		Help: "Time per request phase: dns, connect, tls, conn_wait, server, transfer."},
	{Name: Requests, Type: Counter, Source: Agent, Labels: []string{"verb", "resource", "code"},
		Help: "API requests made, by HTTP status code."},
	{Name: RequestErrors, Type: Counter, Source: Agent, Labels: []string{"verb", "resource", "reason"},
		Help: "API requests that failed, by reason."},
	{Name: Connections, Type: Counter, Source: Agent, Labels: []string{"reused"},
		Help: "Connections used by requests; reused=\"true\" when taken from the idle pool."},
	{Name: RateLimiterWait, Type: Histogram, Source: Agent,
		Help: "Time requests waited in client-go's own QPS/Burst rate limiter."},
	{Name: Baseline, Type: Gauge, Source: Agent, Labels: []string{"verb", "resource", "scope", "phase", "probe", "stat"},
		Help: "Learned latency baseline; stat is ewma_mean, ewma_stddev, p50, p95 or p99."},
	{Name: AnomalyScore, Type: Gauge, Source: Agent, Labels: []string{"verb", "resource", "scope", "phase", "probe"},
		Help: "How anomalous recent latency is, in [0, 1]: 0 within its baseline, 0.5 at the detector's alert threshold, towards 1 far beyond."},
	{Name: Alerts, Type: Gauge, Source: Agent, Labels: []string{"alertname", "state"},
		Help: "Alerts the agent holds, by name and state (firing, pending)."},

	{Name: Probes, Type: Counter, Source: Agent, Labels: []string{"probe", "result"}, Proposed: true,
		Help: "Synthetic probe requests sent by this agent; probe is the probe kind, result success or failure."},
	{Name: ProbeFailures, Type: Gauge, Source: Agent, Proposed: true,
		Help: "Probes that failed in a row since the last successful one (any probe kind); 0 after a success."},
	{Name: ProbeInterval, Type: Gauge, Source: Agent, Proposed: true,
		Help: "Current probe cycle interval after the cluster-wide budget stretched it."},
	{Name: ProbeClusterNodes, Type: Gauge, Source: Agent, Proposed: true,
		Help: "Node count the probe budget is computed from."},
	{Name: ProbeBudget, Type: Gauge, Source: Agent, Proposed: true,
		Help: "Configured cluster-wide probe budget (probe.clusterQPS)."},
	{Name: WatchDelay, Type: Histogram, Source: Agent, Proposed: true,
		Help: "Watch delivery delay of this node's Lease: event received minus its renewTime."},
	{Name: WatchRestarts, Type: Counter, Source: Agent, Proposed: true,
		Help: "Times the watch on this node's Lease was restarted."},
	{Name: WatchRelists, Type: Counter, Source: Agent, Proposed: true,
		Help: "Times the watch on this node's Lease had to relist (resourceVersion too old)."},
	{Name: Findings, Type: Gauge, Source: Agent, Labels: []string{"finding"}, Proposed: true,
		Help: "1 while a finding (advice such as client_throttling or low_connection_reuse) holds."},

	{Name: APIServerSLIDuration, Type: Histogram, Source: APIServer,
		Labels: []string{"verb", "group", "version", "resource", "subresource", "scope", "component"},
		Help:   "The API server's own SLI latency (excludes webhooks and priority-and-fairness queueing)."},
}

// ScrapeLabels are the labels that Prometheus adds at scrape time and that
// queries may use: node (relabeled from __meta_kubernetes_pod_node_name),
// cluster (external label or relabeling; may be absent), the usual target
// labels, and le for classic histogram buckets.
var ScrapeLabels = []string{"cluster", "node", "job", "instance", "namespace", "pod", "container", "service", "endpoint", "le"}

// Lookup returns the metric of a series name: the family itself, or a classic
// histogram's _bucket, _sum or _count series.
func Lookup(series string) (Metric, bool) {
	for _, m := range Metrics {
		if m.Name == series {
			return m, true
		}
		if m.Type == Histogram {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if series == m.Name+suffix {
					return m, true
				}
			}
		}
	}
	return Metric{}, false
}

// HasLabel reports whether a query may match or group on label for m.
func (m Metric) HasLabel(label string) bool {
	return label == "__name__" || slices.Contains(m.Labels, label) || slices.Contains(ScrapeLabels, label)
}
