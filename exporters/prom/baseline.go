package prom

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Key states: the values of the state label of kubepulse_baseline_state, the
// names of baseline.State.
const (
	StateLearning = "learning"
	StateNormal   = "normal"
	StatePending  = "pending"
	StateFiring   = "firing"
)

// Baseline is what the agent has learned about one key: one kind of call
// (verb, resource, scope), made by one probe or by the process's own
// traffic, in one phase. Durations are in seconds; NaN where nothing is known
// yet (the quantiles of an empty window, the mean before the first sample) —
// such a stat is left out of the scrape rather than exported as NaN.
type Baseline struct {
	// Verb, Resource, Scope and Phase are the labels of the request metrics
	// (phase "total" for the whole request). Probe is the agent's probe that
	// sends the call, empty for a controller's or the agent's own traffic.
	// Together they identify the key: two keys with the same five values
	// would be one series twice, which Prometheus rejects.
	Verb, Resource, Scope, Phase, Probe string
	// State is StateLearning, StateNormal, StatePending or StateFiring.
	State string
	// Samples is how many samples the key has seen.
	Samples uint64
	// Mean and StdDev are the slowly moving EWMA baseline; P50, P95 and P99
	// are quantiles of the sliding window.
	Mean, StdDev  float64
	P50, P95, P99 float64
	// Score is how anomalous the key is now, in [0, 1]: 0 within its
	// baseline, 0.5 at the detector's threshold, towards 1 far beyond it.
	Score float64
}

// BaselineSource lists the learned keys at scrape time.
type BaselineSource interface {
	// EachBaseline calls fn once for every key. fn must not retain b; two
	// calls must not carry the same five labels (see Baseline).
	EachBaseline(fn func(b Baseline))
}

// BaselineSourceFunc adapts a function to BaselineSource.
type BaselineSourceFunc func(fn func(Baseline))

// EachBaseline implements BaselineSource.
func (f BaselineSourceFunc) EachBaseline(fn func(Baseline)) { f(fn) }

// keyLabels are the labels of every per-key metric, in this order.
var keyLabels = []string{"verb", "resource", "scope", "phase", "probe"}

// BaselineCollector exports the learned baselines, read from a BaselineSource
// at scrape time: thousands of keys cost nothing between scrapes, and a key
// that is evicted simply disappears (no stale series to delete).
//
// Per key it exports
//
//	kubepulse_baseline_seconds{verb,resource,scope,phase,probe,stat}  stat ∈ ewma_mean, ewma_stddev, p50, p95, p99
//	kubepulse_anomaly_score{verb,resource,scope,phase,probe}          in [0, 1]
//	kubepulse_baseline_samples{verb,resource,scope,phase,probe}
//	kubepulse_baseline_state{verb,resource,scope,phase,probe,state}   1, for the current state only
//
// scope (cluster, namespace, resource) is kept because the agent learns
// "list pods in a namespace" and "list pods cluster-wide" as different keys:
// without it they would collide. Dashboards aggregate it away with max by.
//
// kubepulse_baseline_state has one series per key, for the state it is in
// (not four with 0/1 values as kube-state-metrics does): at the default cap of
// 10,000 keys that saves 30,000 series per agent, while
// `count by (state) (kubepulse_baseline_state)` and
// `kubepulse_baseline_state{state="learning"}` read the same. When the state
// changes, the old series ends (Prometheus marks it stale at the next scrape).
type BaselineCollector struct {
	src                           BaselineSource
	seconds, score, samples, stat *prometheus.Desc
}

// NewBaselineCollector returns a collector of src's baselines.
func NewBaselineCollector(src BaselineSource) *BaselineCollector {
	return &BaselineCollector{
		src: src,
		seconds: prometheus.NewDesc("kubepulse_baseline_seconds",
			"Learned latency baseline of a kind of API call in one phase: stat is ewma_mean and ewma_stddev (slow time-decayed mean and spread), p50, p95 and p99 (quantiles of the sliding window). probe is empty for the process's own traffic.",
			append(keyLabels[:len(keyLabels):len(keyLabels)], "stat"), nil),
		score: prometheus.NewDesc("kubepulse_anomaly_score",
			"How anomalous the latency of a kind of API call in one phase is now, from 0 (within its baseline) through 0.5 (at the alerting threshold) towards 1.",
			keyLabels, nil),
		samples: prometheus.NewDesc("kubepulse_baseline_samples",
			"Samples the baseline of a kind of API call in one phase has learned from.",
			keyLabels, nil),
		stat: prometheus.NewDesc("kubepulse_baseline_state",
			"State of the baseline of a kind of API call in one phase: 1 for the state it is in (learning, normal, pending or firing); the other states have no series.",
			append(keyLabels[:len(keyLabels):len(keyLabels)], "state"), nil),
	}
}

// Describe implements prometheus.Collector.
func (c *BaselineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.seconds
	ch <- c.score
	ch <- c.samples
	ch <- c.stat
}

// Collect implements prometheus.Collector.
func (c *BaselineCollector) Collect(ch chan<- prometheus.Metric) {
	c.src.EachBaseline(func(b Baseline) {
		k := [...]string{b.Verb, b.Resource, b.Scope, b.Phase, b.Probe, ""}
		for _, s := range [...]struct {
			name string
			v    float64
		}{{"ewma_mean", b.Mean}, {"ewma_stddev", b.StdDev}, {"p50", b.P50}, {"p95", b.P95}, {"p99", b.P99}} {
			if math.IsNaN(s.v) {
				continue
			}
			k[5] = s.name
			ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, s.v, k[:]...)
		}
		if !math.IsNaN(b.Score) {
			ch <- prometheus.MustNewConstMetric(c.score, prometheus.GaugeValue, b.Score, k[:5]...)
		}
		ch <- prometheus.MustNewConstMetric(c.samples, prometheus.GaugeValue, float64(b.Samples), k[:5]...)
		if b.State != "" {
			k[5] = b.State
			ch <- prometheus.MustNewConstMetric(c.stat, prometheus.GaugeValue, 1, k[:]...)
		}
	})
}

// StoreStats describe the baseline store and its checkpoints.
type StoreStats struct {
	// Keys is how many keys are tracked, MaxKeys the cap (store.maxKeys).
	Keys, MaxKeys int
	// Overflow counts samples dropped because the cap was reached;
	// Evictions counts keys removed for being idle.
	Overflow, Evictions uint64
	// LastCheckpoint is when a checkpoint was last written successfully
	// (zero: none yet); CheckpointErrors counts failed ones.
	LastCheckpoint   time.Time
	CheckpointErrors uint64
}

// StoreSource returns the store's statistics at scrape time.
type StoreSource interface {
	StoreStats() StoreStats
}

// StoreSourceFunc adapts a function to StoreSource.
type StoreSourceFunc func() StoreStats

// StoreStats implements StoreSource.
func (f StoreSourceFunc) StoreStats() StoreStats { return f() }

// StoreCollector exports the baseline store's size, limits and checkpoint
// health:
//
//	kubepulse_baseline_keys, kubepulse_baseline_keys_max
//	kubepulse_baseline_overflow_total, kubepulse_baseline_evictions_total
//	kubepulse_checkpoint_last_success_timestamp_seconds, kubepulse_checkpoint_errors_total
//
// The checkpoint's age is computed in PromQL, so it stays right between
// scrapes and when the agent hangs:
// `time() - kubepulse_checkpoint_last_success_timestamp_seconds`. Until the
// first success that series is absent (not 0, which would read as 56 years
// old); failures before it show in kubepulse_checkpoint_errors_total.
type StoreCollector struct {
	src                                           StoreSource
	keys, keysMax, overflow, evictions, last, err *prometheus.Desc
}

// NewStoreCollector returns a collector of src's statistics.
func NewStoreCollector(src StoreSource) *StoreCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &StoreCollector{
		src:     src,
		keys:    d("kubepulse_baseline_keys", "Keys (kinds of call × phase) whose baseline is being learned."),
		keysMax: d("kubepulse_baseline_keys_max", "The most keys the baseline store keeps (store.maxKeys); samples of new keys beyond it are dropped."),
		overflow: d("kubepulse_baseline_overflow_total",
			"Samples of new keys dropped because the baseline store was full (store.maxKeys)."),
		evictions: d("kubepulse_baseline_evictions_total", "Keys removed from the baseline store after being idle for store.idleTimeout."),
		last: d("kubepulse_checkpoint_last_success_timestamp_seconds",
			"When the baselines were last written to the checkpoint file, in seconds since the epoch; absent until the first success. Age: time() - this."),
		err: d("kubepulse_checkpoint_errors_total", "Checkpoints of the baselines that failed to be written."),
	}
}

// Describe implements prometheus.Collector.
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.keys, c.keysMax, c.overflow, c.evictions, c.last, c.err} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.StoreStats()
	ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, float64(s.Keys))
	ch <- prometheus.MustNewConstMetric(c.keysMax, prometheus.GaugeValue, float64(s.MaxKeys))
	ch <- prometheus.MustNewConstMetric(c.overflow, prometheus.CounterValue, float64(s.Overflow))
	ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(s.Evictions))
	if !s.LastCheckpoint.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.last, prometheus.GaugeValue, unixSeconds(s.LastCheckpoint))
	}
	ch <- prometheus.MustNewConstMetric(c.err, prometheus.CounterValue, float64(s.CheckpointErrors))
}

// unixSeconds is t in seconds since the epoch, with sub-second precision.
func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
