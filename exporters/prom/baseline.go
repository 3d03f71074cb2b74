package prom

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
		k := newKeyBlock(&b)
		for i, v := range [...]float64{b.Mean, b.StdDev, b.P50, b.P95, b.P99} {
			if !math.IsNaN(v) {
				ch <- k.gauge(c.seconds, v, statPairs[i])
			}
		}
		if !math.IsNaN(b.Score) {
			ch <- k.gauge(c.score, b.Score, nil)
		}
		ch <- k.gauge(c.samples, float64(b.Samples), nil)
		if b.State != "" {
			ch <- k.gauge(c.stat, 1, k.statePair(b.State))
		}
	})
}

// Label names of a key in sorted order, as the exposition wants them; stat
// and state sort between scope and verb.
var sortedKeyLabels = [5]string{"phase", "probe", "resource", "scope", "verb"}

// statPairs are the stat labels of kubepulse_baseline_seconds, shared by
// every key and scrape (label pairs are immutable once collected).
var statPairs = func() (p [5]*dto.LabelPair) {
	for i, v := range [...]string{"ewma_mean", "ewma_stddev", "p50", "p95", "p99"} {
		p[i] = &dto.LabelPair{Name: new("stat"), Value: new(v)}
	}
	return p
}()

// statePairs are the state labels of kubepulse_baseline_state.
var statePairs = func() map[string]*dto.LabelPair {
	m := map[string]*dto.LabelPair{}
	for _, v := range []string{StateLearning, StateNormal, StatePending, StateFiring} {
		m[v] = &dto.LabelPair{Name: new("state"), Value: new(v)}
	}
	return m
}()

// keyBlock holds all series of one key for one scrape in a single
// allocation: the label pairs are made once per key, not once per series,
// and the metrics, gauges and values live in the block. A scrape of 10,000
// keys allocates 10,000 blocks instead of 250,000 small objects (see
// BenchmarkBaselineScrape).
type keyBlock struct {
	vals    [5]string // in sortedKeyLabels order
	pairs   [5]dto.LabelPair
	state   dto.LabelPair // a state without a shared pair
	labels  [8 * 6]*dto.LabelPair
	gauges  [8]dto.Gauge
	values  [8]float64
	metrics [8]blockGauge
	n       int
}

func newKeyBlock(b *Baseline) *keyBlock {
	k := &keyBlock{vals: [5]string{b.Phase, b.Probe, b.Resource, b.Scope, b.Verb}}
	for i := range k.pairs {
		k.pairs[i].Name, k.pairs[i].Value = &sortedKeyLabels[i], &k.vals[i]
	}
	return k
}

func (k *keyBlock) statePair(state string) *dto.LabelPair {
	if p, ok := statePairs[state]; ok {
		return p
	}
	k.state.Name, k.state.Value = new("state"), &state
	return &k.state
}

// gauge returns the key's next series: its labels plus extra (stat or state)
// if not nil.
func (k *keyBlock) gauge(desc *prometheus.Desc, v float64, extra *dto.LabelPair) prometheus.Metric {
	i := k.n
	k.n++
	l := append(k.labels[i*6:i*6:i*6+6], &k.pairs[0], &k.pairs[1], &k.pairs[2], &k.pairs[3])
	if extra != nil {
		l = append(l, extra)
	}
	l = append(l, &k.pairs[4])
	k.values[i] = v
	k.gauges[i].Value = &k.values[i]
	k.metrics[i] = blockGauge{desc: desc, labels: l, gauge: &k.gauges[i]}
	return &k.metrics[i]
}

// blockGauge is a gauge series of a keyBlock.
type blockGauge struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	gauge  *dto.Gauge
}

// Desc implements prometheus.Metric.
func (m *blockGauge) Desc() *prometheus.Desc { return m.desc }

// Write implements prometheus.Metric.
func (m *blockGauge) Write(out *dto.Metric) error {
	out.Label, out.Gauge = m.labels, m.gauge
	return nil
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
