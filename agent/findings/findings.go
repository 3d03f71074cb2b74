// Package findings turns what the instrumentation measures into concrete
// advice, each with the numbers that triggered it: client-side throttling,
// connections that are not reused, slow DNS, slow or failing TCP connects,
// and cluster-scoped LISTs that bypass the watch cache.
//
// An Analyzer is an instrument.Reporter (and takes client-go's rate-limiter
// hook); it keeps counters over a sliding window of a few minutes and derives
// findings on demand. Its lock is held for a few additions per request: the
// agent's own traffic is a handful of requests per second.
package findings

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

// IDs of the findings; stable, used as the kubepulse_finding{id} label.
const (
	ClientThrottling  = "client-throttling"
	LowConnReuse      = "low-connection-reuse"
	SlowDNS           = "slow-dns"
	SlowConnect       = "slow-connect"
	UncachedClusterLs = "uncached-cluster-list"
)

// Thresholds. They are deliberately conservative: a finding should be worth
// acting on.
const (
	throttledWait      = 10 * time.Millisecond // a request counts as throttled from this wait on
	throttledShare     = 0.05                  // of requests throttled
	throttleMinCount   = 20                    // requests needed to judge
	reuseMinCount      = 30                    // requests with a connection needed to judge
	reuseShare         = 0.5                   // below this share of reused connections
	dnsMinCount        = 5                     // lookups needed to judge
	dnsSlowMean        = 20 * time.Millisecond // mean lookup time that is slow
	dnsSlowMax         = time.Second           // one lookup this slow is a resolver timeout and retry
	connectMinCount    = 3                     // connects needed to judge the mean
	connectSlowMean    = 100 * time.Millisecond
	connectSYNRetry    = time.Second // Linux' initial SYN retransmission timeout: a connect this slow lost a SYN
	connectFailures    = 3
	uncachedListsCount = 1
)

// Finding is one piece of advice.
type Finding struct {
	ID       string
	Severity string // warning or info
	Title    string
	Advice   string
	Evidence string // the numbers
	// Value is the finding's main number and Threshold the limit it crossed
	// (for client throttling: the share of requests throttled, and 0.05).
	Value, Threshold float64
	Since            time.Time
}

// Options configure an Analyzer.
type Options struct {
	// Window is how far back findings look (default 10m), kept in Buckets
	// rotating buckets (default 10).
	Window  time.Duration
	Buckets int
	Clock   clock.PassiveClock
}

// Analyzer counts signals and derives findings. Safe for concurrent use.
type Analyzer struct {
	o       Options
	mu      sync.Mutex
	buckets []counts
	epoch   []int64 // bucket number each slot holds
	since   map[string]time.Time
}

// counts are the signals of one bucket.
type counts struct {
	requests, throttled int
	throttleWait        time.Duration
	maxThrottle         time.Duration
	conns, reused       int
	http1               int
	dns                 int
	dnsTotal, dnsMax    time.Duration
	connects            int
	connectTotal        time.Duration
	connectMax          time.Duration
	connectSlow         int // ≥ connectSYNRetry
	connectFailed       int
	uncachedLists       int
	uncachedExample     string
}

func (c *counts) add(o counts) {
	c.requests += o.requests
	c.throttled += o.throttled
	c.throttleWait += o.throttleWait
	c.maxThrottle = max(c.maxThrottle, o.maxThrottle)
	c.conns += o.conns
	c.reused += o.reused
	c.http1 += o.http1
	c.dns += o.dns
	c.dnsTotal += o.dnsTotal
	c.dnsMax = max(c.dnsMax, o.dnsMax)
	c.connects += o.connects
	c.connectTotal += o.connectTotal
	c.connectMax = max(c.connectMax, o.connectMax)
	c.connectSlow += o.connectSlow
	c.connectFailed += o.connectFailed
	c.uncachedLists += o.uncachedLists
	if c.uncachedExample == "" {
		c.uncachedExample = o.uncachedExample
	}
}

// New returns an Analyzer.
func New(o Options) *Analyzer {
	if o.Window == 0 {
		o.Window = 10 * time.Minute
	}
	if o.Buckets == 0 {
		o.Buckets = 10
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return &Analyzer{o: o, buckets: make([]counts, o.Buckets), epoch: make([]int64, o.Buckets), since: map[string]time.Time{}}
}

// bucket returns the current bucket, reset if it held an older period; a.mu
// must be held.
func (a *Analyzer) bucket(now time.Time) *counts {
	n := now.UnixNano() / int64(a.o.Window/time.Duration(a.o.Buckets))
	i := int(n % int64(len(a.buckets)))
	if a.epoch[i] != n {
		a.buckets[i] = counts{}
		a.epoch[i] = n
	}
	return &a.buckets[i]
}

// Report counts one finished request.
func (a *Analyzer) Report(o instrument.Observation) {
	var c counts
	c.requests = 1
	if o.ThrottleWait >= throttledWait {
		c.throttled = 1
	}
	c.throttleWait = o.ThrottleWait
	c.maxThrottle = o.ThrottleWait
	if o.GotConn {
		c.conns = 1
		if o.ConnReused {
			c.reused = 1
		}
		if o.Protocol == instrument.ProtoHTTP1 {
			c.http1 = 1
		}
	}
	if d := o.Phases[instrument.PhaseDNS]; d > 0 {
		c.dns, c.dnsTotal, c.dnsMax = 1, d, d
	}
	if d := o.Phases[instrument.PhaseConnect]; d > 0 && o.GotConn {
		c.connects, c.connectTotal, c.connectMax = 1, d, d
		if d >= connectSYNRetry {
			c.connectSlow = 1
		}
	}
	if !o.GotConn && (o.Error == instrument.ErrConnRefused || o.Error == instrument.ErrNetwork || o.Error == instrument.ErrTimeout) {
		c.connectFailed = 1
	}
	if uncachedClusterList(o.Class) {
		c.uncachedLists = 1
		c.uncachedExample = o.Labels.Resource
	}
	a.mu.Lock()
	a.bucket(a.o.Clock.Now()).add(c)
	a.mu.Unlock()
}

// ReportRateLimiterWait counts a wait in client-go's rate limiter reported
// by its tools/metrics hook (calls made without instrument.TrackCall).
func (a *Analyzer) ReportRateLimiterWait(_ classify.Labels, wait time.Duration) {
	if wait < throttledWait {
		return
	}
	a.mu.Lock()
	b := a.bucket(a.o.Clock.Now())
	b.throttled++
	b.throttleWait += wait
	b.maxThrottle = max(b.maxThrottle, wait)
	a.mu.Unlock()
}

// ReportRetry is part of instrument.ClientGoReporter; retries are not a
// finding of their own.
func (a *Analyzer) ReportRetry(string, string) {}

// uncachedClusterList is a cluster-scoped LIST that is neither paginated nor
// allowed to be served from the watch cache: each one reads every object from
// etcd.
func uncachedClusterList(c classify.Class) bool {
	return c.Verb == classify.VerbList && c.Scope == classify.ScopeCluster && !c.NonResource &&
		!c.CacheRead && !c.Paginated
}

// Findings returns the active findings, most severe first.
func (a *Analyzer) Findings() []Finding {
	now := a.o.Clock.Now()
	a.mu.Lock()
	var c counts
	period := int64(a.o.Window / time.Duration(a.o.Buckets))
	cur := now.UnixNano() / period
	for i := range a.buckets {
		if cur-a.epoch[i] < int64(len(a.buckets)) {
			c.add(a.buckets[i])
		}
	}
	a.mu.Unlock()

	var out []Finding
	add := func(id, severity, title, advice, evidence string) *Finding {
		out = append(out, Finding{ID: id, Severity: severity, Title: title, Advice: advice, Evidence: evidence})
		return &out[len(out)-1]
	}
	win := a.o.Window
	if c.requests >= throttleMinCount && float64(c.throttled) >= throttledShare*float64(c.requests) {
		f := add(ClientThrottling, "warning", "Client-side throttling",
			"Requests wait in client-go's own rate limiter (rest.Config QPS/Burst), not in the API server. Raise QPS and Burst, or read through informers (a shared cache) instead of repeated GET/LIST calls.",
			fmt.Sprintf("%d of %d requests (%.0f%%) waited ≥ %v in the last %v; mean wait %v, longest %v",
				c.throttled, c.requests, 100*float64(c.throttled)/float64(c.requests), throttledWait, win,
				(c.throttleWait/time.Duration(max(c.throttled, 1))).Round(time.Millisecond), c.maxThrottle.Round(time.Millisecond)))
		f.Value, f.Threshold = float64(c.throttled)/float64(c.requests), throttledShare
	}
	if c.conns >= reuseMinCount && float64(c.reused) < reuseShare*float64(c.conns) {
		add(LowConnReuse, "warning", "Connections are not reused",
			"Most requests open a new connection (TCP + TLS handshakes each time). The transport is not pooled: share one http.Transport / rest.Config per process and raise MaxIdleConnsPerHost (Go's default keeps only 2 idle connections per host on HTTP/1.1).",
			fmt.Sprintf("%d of %d requests reused a connection (%.0f%%) in the last %v; %d used HTTP/1.1",
				c.reused, c.conns, 100*float64(c.reused)/float64(c.conns), win, c.http1))
	}
	if c.dns >= dnsMinCount && (c.dnsTotal/time.Duration(c.dns) >= dnsSlowMean || c.dnsMax >= dnsSlowMax) {
		add(SlowDNS, "warning", "Slow DNS lookups",
			"Resolving the API server's name is slow from this node. Run NodeLocal DNSCache, check ndots/search domains in resolv.conf (use a fully qualified name with a trailing dot), or address the API server by IP.",
			fmt.Sprintf("%d lookups in the last %v: mean %v, slowest %v", c.dns, win,
				(c.dnsTotal/time.Duration(c.dns)).Round(100*time.Microsecond), c.dnsMax.Round(100*time.Microsecond)))
	}
	slowMean := c.connects >= connectMinCount && c.connectTotal/time.Duration(c.connects) >= connectSlowMean
	if slowMean || c.connectSlow > 0 || c.connectFailed >= connectFailures {
		add(SlowConnect, "warning", "Slow or failing TCP connects",
			"Connecting to the API server is slow or fails. A connect of about 1 s or 3 s means a SYN was lost and retransmitted (net.ipv4.tcp_syn_retries): check the network path, conntrack table, load balancer health and security groups between this node and the API server.",
			fmt.Sprintf("%d connects in the last %v: mean %v, slowest %v, %d took ≥ 1s; %d connection failures", c.connects, win,
				(c.connectTotal/time.Duration(max(c.connects, 1))).Round(100*time.Microsecond), c.connectMax.Round(time.Millisecond), c.connectSlow, c.connectFailed))
	}
	if c.uncachedLists >= uncachedListsCount {
		add(UncachedClusterLs, "info", "Cluster-scoped LISTs bypass the watch cache",
			"Cluster-wide LIST calls without resourceVersion=0 (and without pagination) read every object from etcd. Use an informer (one LIST, then a watch), or set resourceVersion=0 so the API server answers from its cache.",
			fmt.Sprintf("%d such LISTs in the last %v, e.g. of %s", c.uncachedLists, win, c.uncachedExample))
	}

	a.mu.Lock()
	active := map[string]bool{}
	for i := range out {
		active[out[i].ID] = true
		s, ok := a.since[out[i].ID]
		if !ok {
			s = now
			a.since[out[i].ID] = s
		}
		out[i].Since = s
	}
	for id := range a.since {
		if !active[id] {
			delete(a.since, id)
		}
	}
	a.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Severity == "warning" && out[j].Severity != "warning" })
	return out
}
