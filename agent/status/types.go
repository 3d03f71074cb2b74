// Package status serves what the agent knows to people and programs: an HTML
// status page (inline SVG charts, no JavaScript framework, no external assets)
// at / and the same data as JSON at /api/v1/status.
//
// The agent builds a Snapshot on each request through a Source; this package
// only renders it, so it can be tested on fixed snapshots (golden files) and
// in a real browser.
package status

import "time"

// Source returns the current snapshot; it must be cheap and safe to call
// concurrently.
type Source interface {
	Snapshot() Snapshot
}

// SourceFunc adapts a function to Source.
type SourceFunc func() Snapshot

// Snapshot implements Source.
func (f SourceFunc) Snapshot() Snapshot { return f() }

// Snapshot is everything the status page and /api/v1/status show. JSON field
// names are part of the API: add fields, never rename them.
type Snapshot struct {
	Node      string    `json:"node"`
	Pod       string    `json:"pod,omitempty"`
	Namespace string    `json:"namespace,omitempty"`
	Version   string    `json:"version"`
	Started   time.Time `json:"started"`
	Now       time.Time `json:"now"`
	// Ready is true when the API server answered recently; Reason says why
	// not.
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
	// Demo is set when the data comes from `kubepulse demo`'s simulated API
	// server.
	Demo bool `json:"demo,omitempty"`

	Keys     []Key     `json:"keys"`
	Splits   []Split   `json:"splits"`
	Alerts   []Alert   `json:"alerts"`
	Findings []Finding `json:"findings"`
	Budget   Budget    `json:"budget"`
	Watch    Watch     `json:"watch"`
	Store    Store     `json:"store"`
}

// Key is one learned series: a kind of call and one of its phases.
type Key struct {
	Key      string `json:"key"` // e.g. "get/nodes/resource/node_get_cached/server"
	Verb     string `json:"verb"`
	Resource string `json:"resource"`
	Scope    string `json:"scope"`
	Phase    string `json:"phase"`           // total, server, tls, ... or "delivery" for the watch
	Probe    string `json:"probe,omitempty"` // the probe that sends it, if any
	// State is learning, normal, pending or firing.
	State string `json:"state"`
	// Samples seen, and MinSamples needed before the key stops learning.
	Samples    int64 `json:"samples"`
	MinSamples int   `json:"minSamples"`
	// Latest values in seconds: the current (fast) value, the learned band
	// and the window quantiles.
	Current float64 `json:"current"`
	Mean    float64 `json:"mean"`
	Lower   float64 `json:"lower"` // band: what the detector accepts as normal
	Upper   float64 `json:"upper"`
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	// Score in [0,1], z and ratio of the detector on the latest sample.
	Score float64 `json:"score"`
	Z     float64 `json:"z"`
	Ratio float64 `json:"ratio"`
	// SLO is the upstream API-call SLO this call is held to, 0 if none.
	SLO         float64    `json:"slo,omitempty"`
	FiringSince *time.Time `json:"firingSince,omitempty"`
	LastSample  time.Time  `json:"lastSample"`
	// History is the recent past, oldest first, for the chart.
	History []Point `json:"history"`
}

// Split is where one kind of call spends its time, as exponentially
// weighted means of its recent successful requests, in seconds: in the
// client (client-go's rate limiter, a new connection's DNS + TCP + TLS, the
// wait for a pooled connection or HTTP/2 stream), in the server (request
// written → first response byte: API server time plus one network round
// trip) and in the transfer of the body. Total is the caller's view: the
// sum of the parts.
type Split struct {
	Call     string  `json:"call"` // the probe, or verb/resource/scope
	Verb     string  `json:"verb"`
	Resource string  `json:"resource"`
	Scope    string  `json:"scope"`
	Probe    string  `json:"probe,omitempty"`
	Requests int64   `json:"requests"`
	Total    float64 `json:"total"`
	Throttle float64 `json:"throttle"`
	Connect  float64 `json:"connect"`
	ConnWait float64 `json:"connWait"`
	Server   float64 `json:"server"`
	Transfer float64 `json:"transfer"`
}

// ClientShare is the part of Total spent in the client (throttle, connect
// and connection wait), in [0, 1].
func (s Split) ClientShare() float64 {
	if !(s.Total > 0) {
		return 0
	}
	return min(1, (s.Throttle+s.Connect+s.ConnWait)/s.Total)
}

// Point is one sample in a key's chart: the value and the band around it.
type Point struct {
	T     time.Time `json:"t"`
	Value float64   `json:"v"`
	Lower float64   `json:"lo"`
	Upper float64   `json:"hi"`
}

// Alert is an alert the agent fires or recently resolved, with its numbers.
type Alert struct {
	Name        string            `json:"name"`  // KubeAPILatencyDrift, ...
	State       string            `json:"state"` // firing or resolved
	Severity    string            `json:"severity"`
	Labels      map[string]string `json:"labels"`
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
	Since       time.Time         `json:"since"`
	Resolved    *time.Time        `json:"resolved,omitempty"`
	Current     float64           `json:"current"`
	Baseline    float64           `json:"baseline"`
	P99         float64           `json:"p99"`
	Z           float64           `json:"z"`
	Ratio       float64           `json:"ratio"`
	Samples     int64             `json:"samples"`
	RunbookURL  string            `json:"runbookURL,omitempty"`
}

// Finding is concrete advice derived from what the agent measured.
type Finding struct {
	ID       string    `json:"id"` // stable, e.g. "client-throttling"
	Severity string    `json:"severity"`
	Title    string    `json:"title"`
	Advice   string    `json:"advice"`
	Evidence string    `json:"evidence"` // the numbers that triggered it
	Since    time.Time `json:"since"`
}

// Budget is the probe budget this agent uses.
type Budget struct {
	Enabled      bool          `json:"enabled"`
	ClusterQPS   float64       `json:"clusterQPS"`
	Nodes        int           `json:"nodes"`
	Interval     time.Duration `json:"interval"` // one round of probes
	AgentQPS     float64       `json:"agentQPS"` // this agent's share
	Failures     int           `json:"failures"` // consecutive failed probes
	LastProbe    time.Time     `json:"lastProbe"`
	NextProbe    time.Time     `json:"nextProbe"`
	ProbesSent   int64         `json:"probesSent"`
	ProbesFailed int64         `json:"probesFailed"`
}

// Watch is the health of the node Lease watch.
type Watch struct {
	Enabled   bool          `json:"enabled"`
	LastDelay time.Duration `json:"lastDelay"`
	Events    int64         `json:"events"`
	Restarts  int64         `json:"restarts"`
	Relists   int64         `json:"relists"`
}

// Store is the baseline store's size and limits.
type Store struct {
	Keys           int       `json:"keys"`
	MaxKeys        int       `json:"maxKeys"`
	Overflow       uint64    `json:"overflow"`
	Evictions      uint64    `json:"evictions"`
	LastCheckpoint time.Time `json:"lastCheckpoint,omitempty"`
}
