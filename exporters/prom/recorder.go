package prom

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

// DurationBuckets are the classic buckets of request and phase latency:
// 100µs (a loopback round trip) to 60 s (client-go's longest default
// timeout), with the API-call SLO thresholds (1 s, 5 s, 30 s) as edges.
// Native histograms cover the same range at a 10% resolution.
var DurationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// LongRunningBuckets are the buckets of how long a watch or stream lasted.
var LongRunningBuckets = []float64{0.1, 1, 10, 30, 60, 120, 300, 600, 1800, 3600}

// DefaultExemplarInterval is how often a series gets a new exemplar at most.
// A scrape shows one exemplar per bucket, so replacing them faster is wasted work.
const DefaultExemplarInterval = time.Second

// RecorderOptions tune a Recorder; the zero value is the default.
type RecorderOptions struct {
	// ExemplarInterval is the least time between two exemplars on one series;
	// 0 means DefaultExemplarInterval, negative means every sampled request.
	ExemplarInterval time.Duration
}

// Recorder turns Observations into Prometheus metrics. It implements
// instrument.Reporter and instrument.ClientGoReporter.
//
// Report takes no lock once a class and status code have been seen: the
// series of each class are resolved once and found through an immutable map
// behind an atomic pointer.
type Recorder struct {
	duration  *prometheus.HistogramVec // verb, resource, scope, code
	phase     *prometheus.HistogramVec // verb, resource, phase
	requests  *prometheus.CounterVec   // verb, resource, code
	errs      *prometheus.CounterVec   // verb, resource, reason
	conns     [2]prometheus.Counter    // reused = false, true
	rlWait    *prometheus.HistogramVec // verb, resource
	retries   *prometheus.CounterVec   // method, code
	lrFirst   *prometheus.HistogramVec // verb, resource
	lrTotal   *prometheus.HistogramVec // verb, resource
	exemplarE int64                    // nanoseconds between exemplars; < 0: always

	mu      sync.Mutex // serialises inserts into classes
	classes atomic.Pointer[map[string]*classMetrics]
}

var (
	_ instrument.Reporter         = (*Recorder)(nil)
	_ instrument.ClientGoReporter = (*Recorder)(nil)
)

// NewRecorder returns a Recorder whose metrics are registered with reg (nil:
// not registered). Recorders may share a registry: the second one reuses the
// first one's metrics. It panics if reg holds different metrics of the same
// names, a programming error.
func NewRecorder(reg prometheus.Registerer) *Recorder {
	return NewRecorderWithOptions(reg, RecorderOptions{})
}

// NewRecorderWithOptions is NewRecorder with options.
func NewRecorderWithOptions(reg prometheus.Registerer, o RecorderOptions) *Recorder {
	hist := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            name,
			Help:                            help,
			Buckets:                         buckets,
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  160,
			NativeHistogramMinResetDuration: time.Hour,
		}, labels))
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
	}
	r := &Recorder{
		duration: hist("kubepulse_request_duration_seconds",
			"Kubernetes API request latency seen by the client, from sending the request to the end of the response body. Long-running requests (watch, exec, ...) are not included.",
			DurationBuckets, "verb", "resource", "scope", "code"),
		phase: hist("kubepulse_request_phase_seconds",
			"Kubernetes API request latency by phase: dns, connect, tls, conn_wait, server, transfer. Long-running requests are not included.",
			DurationBuckets, "verb", "resource", "phase"),
		requests: counter("kubepulse_requests_total",
			"Kubernetes API requests by status code (<error> when no response arrived), long-running ones included.",
			"verb", "resource", "code"),
		errs: counter("kubepulse_request_errors_total",
			"Kubernetes API requests that failed, by reason: canceled, timeout, dns, connection_refused, reset, eof, tls, network, http_auth, http_429, http_5xx, other.",
			"verb", "resource", "reason"),
		rlWait: hist("kubepulse_client_ratelimiter_wait_seconds",
			"Time requests waited in client-go's own QPS/Burst rate limiter before being sent (client-side throttling).",
			DurationBuckets, "verb", "resource"),
		retries: counter("kubepulse_client_retries_total",
			"Requests client-go sent again, by HTTP method and the status of the retried attempt.",
			"method", "code"),
		lrFirst: hist("kubepulse_longrunning_first_byte_seconds",
			"Time to the first response byte of long-running requests (watch, follow, exec, attach, portforward, proxy).",
			DurationBuckets, "verb", "resource"),
		lrTotal: hist("kubepulse_longrunning_duration_seconds",
			"How long long-running requests (watch, follow, exec, attach, portforward, proxy) lasted.",
			LongRunningBuckets, "verb", "resource"),
		exemplarE: int64(o.ExemplarInterval),
	}
	if r.exemplarE == 0 {
		r.exemplarE = int64(DefaultExemplarInterval)
	}
	conns := counter("kubepulse_connections_total",
		"Requests by whether their connection was reused from the pool (false: a new connection was made).",
		"reused")
	r.conns[0], r.conns[1] = conns.WithLabelValues("false"), conns.WithLabelValues("true")
	empty := map[string]*classMetrics{}
	r.classes.Store(&empty)
	return r
}

// register registers c with reg, or returns the collector already there.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic("prom: register kubepulse metrics: " + err.Error())
	}
	return c
}

// Report records o. It never blocks and allocates nothing once o's class and
// status code have been seen, except for an exemplar's trace ID.
func (r *Recorder) Report(o instrument.Observation) {
	cm := r.class(o.Labels)
	code := cm.code(r, o.StatusCode)
	code.requests.Inc()
	if o.GotConn {
		r.conns[b2i(o.ConnReused)].Inc()
	}
	if o.Error != instrument.ErrNone {
		cm.errCounter(r, o.Error).Inc()
	}
	if o.LongRunning {
		lr := cm.longRunning(r)
		if ttfb, ok := o.TimeToFirstByte(); ok {
			lr.first.Observe(ttfb.Seconds())
		}
		lr.total.Observe(o.Total.Seconds())
		return
	}
	dur := code.durationObserver(r, cm)
	if o.Sampled && r.exemplarDue(&code.lastExemplar, o) {
		dur.(prometheus.ExemplarObserver).ObserveWithExemplar(o.Total.Seconds(),
			prometheus.Labels{"trace_id": o.TraceID.String()})
	} else {
		dur.Observe(o.Total.Seconds())
	}
	if o.StatusCode == 0 {
		return // no response: its phases would only skew the histograms
	}
	for p, d := range o.Phases {
		// A phase that did not happen (no DNS on a reused connection) is
		// not a zero-length phase: leave it out.
		if d > 0 || instrument.Phase(p) >= instrument.PhaseConnWait {
			cm.phase(r, instrument.Phase(p)).Observe(d.Seconds())
		}
	}
}

// exemplarDue reports whether a series last given an exemplar at *last may
// get one now, and claims the slot.
func (r *Recorder) exemplarDue(last *atomic.Int64, o instrument.Observation) bool {
	if r.exemplarE < 0 {
		return true
	}
	now := o.Start.UnixNano() + int64(o.Total)
	prev := last.Load()
	return now-prev >= r.exemplarE && last.CompareAndSwap(prev, now)
}

// ReportRateLimiterWait implements instrument.ClientGoReporter.
func (r *Recorder) ReportRateLimiterWait(l classify.Labels, wait time.Duration) {
	r.class(l).rateLimiter(r).Observe(wait.Seconds())
}

// ReportRetry implements instrument.ClientGoReporter.
func (r *Recorder) ReportRetry(method, code string) {
	r.retries.WithLabelValues(method, code).Inc()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// classMetrics are the resolved series of one class (one Labels.Key). Each
// group is created on first use, so a watch class has no phase series.
type classMetrics struct {
	l     classify.Labels
	mu    sync.Mutex // serialises creating the groups below
	codes atomic.Pointer[[]*codeMetrics]
	ph    [instrument.NumPhases]atomic.Pointer[prometheus.Observer]
	lr    atomic.Pointer[longRunningMetrics]
	rl    atomic.Pointer[prometheus.Observer]
	errs  [instrument.NumErrorClasses]atomic.Pointer[prometheus.Counter]
}

type codeMetrics struct {
	code         int
	label        string
	requests     prometheus.Counter
	duration     atomic.Pointer[prometheus.Observer] // made on first use: long-running classes have none
	lastExemplar atomic.Int64
}

func (c *codeMetrics) durationObserver(r *Recorder, cm *classMetrics) prometheus.Observer {
	if o := c.duration.Load(); o != nil {
		return *o
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if o := c.duration.Load(); o != nil {
		return *o
	}
	o := r.duration.WithLabelValues(cm.l.Verb, cm.l.Resource, cm.l.Scope, c.label)
	c.duration.Store(&o)
	return o
}

type longRunningMetrics struct{ first, total prometheus.Observer }

// class finds or creates the metrics of l.
func (r *Recorder) class(l classify.Labels) *classMetrics {
	if cm, ok := (*r.classes.Load())[l.Key]; ok {
		return cm
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.classes.Load()
	if cm, ok := old[l.Key]; ok {
		return cm
	}
	cm := &classMetrics{l: l}
	empty := []*codeMetrics{}
	cm.codes.Store(&empty)
	next := make(map[string]*classMetrics, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[l.Key] = cm
	r.classes.Store(&next)
	return cm
}

// code finds or creates the per-status-code series of a class.
func (cm *classMetrics) code(r *Recorder, status int) *codeMetrics {
	for _, c := range *cm.codes.Load() {
		if c.code == status {
			return c
		}
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	old := *cm.codes.Load()
	for _, c := range old {
		if c.code == status {
			return c
		}
	}
	label := "<error>"
	if status != 0 {
		label = strconv.Itoa(status)
	}
	c := &codeMetrics{
		code:     status,
		label:    label,
		requests: r.requests.WithLabelValues(cm.l.Verb, cm.l.Resource, label),
	}
	next := append(append(make([]*codeMetrics, 0, len(old)+1), old...), c)
	cm.codes.Store(&next)
	return c
}

func (cm *classMetrics) phase(r *Recorder, p instrument.Phase) prometheus.Observer {
	if o := cm.ph[p].Load(); o != nil {
		return *o
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if o := cm.ph[p].Load(); o != nil {
		return *o
	}
	o := r.phase.WithLabelValues(cm.l.Verb, cm.l.Resource, p.String())
	cm.ph[p].Store(&o)
	return o
}

func (cm *classMetrics) longRunning(r *Recorder) *longRunningMetrics {
	if lr := cm.lr.Load(); lr != nil {
		return lr
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if lr := cm.lr.Load(); lr != nil {
		return lr
	}
	lr := &longRunningMetrics{
		first: r.lrFirst.WithLabelValues(cm.l.Verb, cm.l.Resource),
		total: r.lrTotal.WithLabelValues(cm.l.Verb, cm.l.Resource),
	}
	cm.lr.Store(lr)
	return lr
}

func (cm *classMetrics) rateLimiter(r *Recorder) prometheus.Observer {
	if o := cm.rl.Load(); o != nil {
		return *o
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if o := cm.rl.Load(); o != nil {
		return *o
	}
	o := r.rlWait.WithLabelValues(cm.l.Verb, cm.l.Resource)
	cm.rl.Store(&o)
	return o
}

func (cm *classMetrics) errCounter(r *Recorder, e instrument.ErrorClass) prometheus.Counter {
	if e >= instrument.NumErrorClasses {
		e = instrument.ErrOther
	}
	if c := cm.errs[e].Load(); c != nil {
		return *c
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if c := cm.errs[e].Load(); c != nil {
		return *c
	}
	c := r.errs.WithLabelValues(cm.l.Verb, cm.l.Resource, e.String())
	cm.errs[e].Store(&c)
	return c
}
