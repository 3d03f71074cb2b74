package prom

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxProbeNames bounds the probe label of kubepulse_probes_total: probe names
// come from configuration, and a name beyond the first MaxProbeNames is
// counted as "other".
const MaxProbeNames = 64

// Watch restart reasons, the values of kubepulse_watch_restarts_total's
// reason label (agent/leasewatch's Reason* constants).
const (
	WatchClosed  = "closed"  // the server ended the watch; resumed
	WatchError   = "error"   // the watch failed to start or sent an error
	WatchExpired = "expired" // 410 Gone: the Lease was read again (a relist)
)

// AgentMetrics are the agent's probe and watch metrics, updated by the agent
// as things happen (unlike the collectors, which read state at scrape time).
// Names, types and labels are those dashboards/metrics.go proposes:
//
//	kubepulse_probes_total{probe,result}        result ∈ success, failure
//	kubepulse_probe_consecutive_failures        0 after a success
//	kubepulse_probe_budget_qps                  the cluster-wide budget (probe.clusterQPS)
//	kubepulse_probe_cluster_nodes               the node count the budget is divided by
//	kubepulse_probe_interval_seconds            this agent's probe round after the budget stretched it
//	kubepulse_watch_delivery_delay_seconds      histogram, classic and native
//	kubepulse_watch_restarts_total{reason}      reason ∈ closed, error, expired
//	kubepulse_watch_relists_total               restarts that read the Lease again (expired)
//
// This agent's share of the budget is
// kubepulse_probe_budget_qps / kubepulse_probe_cluster_nodes. All methods are
// safe for concurrent use and never block.
type AgentMetrics struct {
	probes   *prometheus.CounterVec
	failures prometheus.Gauge
	budget   prometheus.Gauge
	nodes    prometheus.Gauge
	interval prometheus.Gauge
	delay    prometheus.Histogram
	restarts *prometheus.CounterVec
	relists  prometheus.Counter

	mu          sync.Mutex
	consecutive int
	names       map[string]bool
}

// WatchDelayBuckets are the classic buckets of the watch delivery delay: a
// healthy watch delivers in milliseconds; seconds mean a backed-up watch
// cache or a congested connection.
var WatchDelayBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// NewAgentMetrics returns the agent's metrics, registered with reg (nil: not
// registered). It panics if reg already holds different metrics of these
// names, a programming error.
func NewAgentMetrics(reg prometheus.Registerer) *AgentMetrics {
	gauge := func(name, help string) prometheus.Gauge {
		return register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
	}
	m := &AgentMetrics{
		probes: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubepulse_probes_total",
			Help: "Synthetic probe requests this agent sent to the API server, by probe and result (success or failure).",
		}, []string{"probe", "result"})),
		failures: gauge("kubepulse_probe_consecutive_failures",
			"Probes that failed in a row since the last successful one (any probe); 0 after a success."),
		budget: gauge("kubepulse_probe_budget_qps",
			"Cluster-wide probe budget in requests per second (probe.clusterQPS) that all agents share; this agent's share is this divided by kubepulse_probe_cluster_nodes."),
		nodes: gauge("kubepulse_probe_cluster_nodes", "Node count the probe budget is divided by."),
		interval: gauge("kubepulse_probe_interval_seconds",
			"Time between two rounds of probes of this agent, after the cluster-wide budget stretched it."),
		delay: register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:                            "kubepulse_watch_delivery_delay_seconds",
			Help:                            "Watch delivery delay of this node's Lease: when the renewal event arrived minus its spec.renewTime (same node, same clock).",
			Buckets:                         WatchDelayBuckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		})),
		restarts: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubepulse_watch_restarts_total",
			Help: "Times the watch on this node's Lease was restarted, by reason: closed (the server ended it), error, expired (410 Gone: relisted).",
		}, []string{"reason"})),
		relists: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubepulse_watch_relists_total",
			Help: "Times the watch on this node's Lease had to read it again because its resourceVersion expired (410 Gone).",
		})),
		names: map[string]bool{},
	}
	// Known label values start at 0, so rate() and increase() see the first
	// restart.
	for _, r := range []string{WatchClosed, WatchError, WatchExpired} {
		m.restarts.WithLabelValues(r)
	}
	return m
}

// ObserveProbe counts one probe request of the named probe and whether it
// succeeded, and keeps the consecutive-failure gauge.
func (m *AgentMetrics) ObserveProbe(probe string, ok bool) {
	result := "success"
	if !ok {
		result = "failure"
	}
	m.mu.Lock()
	if !m.names[probe] {
		if len(m.names) < MaxProbeNames {
			m.names[probe] = true
		} else {
			probe = "other"
		}
	}
	if ok {
		m.consecutive = 0
	} else {
		m.consecutive++
	}
	// Set under the lock: two probes ending together must not leave the
	// gauge at the older value.
	m.failures.Set(float64(m.consecutive))
	m.mu.Unlock()
	m.probes.WithLabelValues(probe, result).Inc()
}

// SetBudget records the probe budget: the cluster-wide QPS, the node count it
// is divided by, and the resulting time between this agent's probe rounds.
func (m *AgentMetrics) SetBudget(clusterQPS float64, nodes int, interval time.Duration) {
	m.budget.Set(clusterQPS)
	m.nodes.Set(float64(nodes))
	m.interval.Set(interval.Seconds())
}

// ObserveWatchDelay records the delivery delay of one Lease renewal. A
// negative delay (clock rounding: renewTime has microseconds) counts as 0.
func (m *AgentMetrics) ObserveWatchDelay(d time.Duration) {
	m.delay.Observe(max(d, 0).Seconds())
}

// WatchRestart counts one restart of the Lease watch; reason is WatchClosed,
// WatchError or WatchExpired (which also counts a relist). Any other reason is
// counted as WatchError, keeping the label bounded.
func (m *AgentMetrics) WatchRestart(reason string) {
	switch reason {
	case WatchClosed, WatchError:
	case WatchExpired:
		m.relists.Inc()
	default:
		reason = WatchError
	}
	m.restarts.WithLabelValues(reason).Inc()
}
