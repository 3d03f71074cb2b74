package probe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Kind names one probe. The names appear in metrics, logs and the status page.
type Kind string

// The probes an agent runs. Each is chosen to be cheap for the API server and
// meaningful for workloads on the node (see the package doc).
const (
	NodeCached  Kind = "node_get_cached"  // GET this Node, resourceVersion=0: served from the watch cache
	NodeQuorum  Kind = "node_get_quorum"  // GET this Node, quorum read: goes to etcd
	PodsOnNode  Kind = "pods_list_node"   // LIST pods in our namespace, fieldSelector=spec.nodeName (kubelet's shape)
	ClusterList Kind = "nodes_list_limit" // LIST nodes, limit=1, metadata only: cluster-scoped list; yields the node count
	Readyz      Kind = "readyz"           // GET /readyz: the server's own health, no storage
)

// Spec says how often a probe runs: on every cycle whose number c has
// c % Every == Offset.
type Spec struct {
	Kind   Kind
	Every  int
	Offset int
}

// DefaultSpecs is the default probe mix: cheap cache reads every cycle, the
// reads that reach etcd every sixth cycle, staggered so no cycle carries both.
var DefaultSpecs = []Spec{
	{Kind: NodeCached, Every: 1},
	{Kind: PodsOnNode, Every: 1},
	{Kind: Readyz, Every: 1},
	{Kind: ClusterList, Every: 6, Offset: 0},
	{Kind: NodeQuorum, Every: 6, Offset: 3},
}

// BudgetOptions bound the probe rate of the whole cluster. The zero value of
// each field means its default.
type BudgetOptions struct {
	// ClusterQPS is the most probe requests per second that all agents of the
	// cluster together may send (default 20).
	ClusterQPS float64
	// Interval is the wanted time for one agent to send every probe once (a
	// cycle) when the budget allows it (default 10s); large clusters stretch it.
	Interval time.Duration
	// StartupSpread spreads the first request of agents that do not yet know
	// the node count (no checkpoint) uniformly over this time (default 5m). A
	// cold start of every agent at once stays within budget for up to
	// ClusterQPS × StartupSpread nodes (6,000 with the defaults).
	StartupSpread time.Duration
	// MaxBackoff caps the exponential backoff after failed probes (default 5m);
	// the backoff is never shorter than the budgeted interval.
	MaxBackoff time.Duration
	// Jitter is the ± fraction by which each interval is randomised (default 0.2).
	Jitter float64
}

// Budget defaults.
const (
	DefaultClusterQPS    = 20
	DefaultInterval      = 10 * time.Second
	DefaultStartupSpread = 5 * time.Minute
	DefaultMaxBackoff    = 5 * time.Minute
	DefaultJitter        = 0.2

	// headroom keeps the mean rate below the budget so that the random
	// alignment of thousands of agents' schedules does not push a minute over it.
	headroom = 0.85
)

// WithDefaults returns o with zero fields set to their defaults.
func (o BudgetOptions) WithDefaults() BudgetOptions {
	if o.ClusterQPS == 0 {
		o.ClusterQPS = DefaultClusterQPS
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.StartupSpread == 0 {
		o.StartupSpread = DefaultStartupSpread
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Jitter == 0 {
		o.Jitter = DefaultJitter
	}
	return o
}

// Validate names the first field that is out of range.
func (o BudgetOptions) Validate() error {
	switch {
	case o.ClusterQPS <= 0 || math.IsInf(o.ClusterQPS, 0) || math.IsNaN(o.ClusterQPS):
		return fmt.Errorf("clusterQPS: want > 0, got %v", o.ClusterQPS)
	case o.Interval < time.Second:
		return fmt.Errorf("interval: want ≥ 1s, got %v", o.Interval)
	case o.StartupSpread < 0:
		return fmt.Errorf("startupSpread: want ≥ 0, got %v", o.StartupSpread)
	case o.MaxBackoff < o.Interval:
		return fmt.Errorf("maxBackoff: want ≥ interval (%v), got %v", o.Interval, o.MaxBackoff)
	case o.Jitter < 0 || o.Jitter >= 1:
		return fmt.Errorf("jitter: want in [0, 1), got %v", o.Jitter)
	}
	return nil
}

// Outcome is what one probe learned.
type Outcome struct {
	// Nodes is the cluster's node count if the probe measured it, else 0.
	Nodes int
	// Failed is set when the probe got a 429, a 5xx, a timeout or a
	// connection error: the agent backs off.
	Failed bool
	// RetryAfter is the server's Retry-After, if it sent one.
	RetryAfter time.Duration
}

// Plan decides when one agent sends its next probe and which probe it is, so
// that all agents together stay within the cluster budget. The probe mix is
// unrolled into a sequence (one "cycle" is one pass over the probes that are
// due in it) and the probes are sent one at a time, evenly spaced and
// jittered: a cycle's requests never leave in a burst, and thousands of agents
// add up to a smooth rate. Plan is pure — no clock, no I/O — so a simulation
// of thousands of agents can drive it. Not safe for concurrent use.
type Plan struct {
	opts     BudgetOptions
	seq      []Kind  // the probe mix, unrolled over one repetition
	perCycle float64 // mean requests per cycle
	step     int     // position in seq
	nodes    int     // 0 = not known yet
	failures int
	rnd      *rand.Rand
	// coldUntil ends the cold-start phase: while agents without a node count
	// spread their one counting request over StartupSpread, no other probe runs.
	coldUntil time.Time
}

// NewPlan returns a plan for one agent. knownNodes is the node count from a
// checkpoint (0 if none); rnd drives jitter and must not be shared between
// goroutines.
func NewPlan(opts BudgetOptions, specs []Spec, knownNodes int, rnd *rand.Rand) (*Plan, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("probe budget: %w", err)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("probe budget: no probes")
	}
	cycles := 1
	for i, s := range specs {
		if s.Every < 1 || s.Offset < 0 || s.Offset >= s.Every {
			return nil, fmt.Errorf("probe budget: specs[%d] (%s): want every ≥ 1 and 0 ≤ offset < every, got every=%d offset=%d", i, s.Kind, s.Every, s.Offset)
		}
		cycles = lcm(cycles, s.Every)
	}
	p := &Plan{opts: opts, nodes: max(knownNodes, 0), rnd: rnd}
	for c := range cycles {
		for _, s := range specs {
			if c%s.Every == s.Offset {
				p.seq = append(p.seq, s.Kind)
			}
		}
	}
	p.perCycle = float64(len(p.seq)) / float64(cycles)
	// A random place in the sequence, so that the rarer probes of agents that
	// started together do not coincide.
	p.step = rnd.IntN(len(p.seq))
	return p, nil
}

// Start is when the first probe runs. An agent that does not know the node
// count yet waits a random part of StartupSpread, and sends no other probe
// until StartupSpread has passed: the whole cluster's counting requests alone
// fill that phase, within budget for up to ClusterQPS × headroom ×
// StartupSpread nodes starting at once. One that knows the count (from a
// checkpoint) starts at a random point of its spacing.
func (p *Plan) Start(now time.Time) time.Time {
	if p.nodes > 0 {
		return now.Add(p.firstOffset())
	}
	p.coldUntil = now.Add(p.opts.StartupSpread)
	return now.Add(p.jitter(p.opts.StartupSpread, 0, 1))
}

// Next is the probe to send now. While the node count is unknown it is the
// probe that measures it.
func (p *Plan) Next() Kind {
	if p.nodes == 0 {
		return ClusterList
	}
	return p.seq[p.step]
}

// Done records the outcome of the probe Next returned and says when to send
// the next one.
func (p *Plan) Done(now time.Time, o Outcome) time.Time {
	counting := p.nodes == 0
	if o.Nodes > 0 {
		p.nodes = o.Nodes
	}
	if o.Failed {
		p.failures++
		return now.Add(max(p.backoff(), o.RetryAfter))
	}
	p.failures = 0
	switch {
	case p.nodes == 0:
		return now.Add(p.Interval()) // no count in the answer: ask again later
	case counting && !p.coldUntil.IsZero():
		start := p.coldUntil
		p.coldUntil = time.Time{}
		if now.After(start) {
			start = now
		}
		return start.Add(p.firstOffset())
	case counting:
		return now.Add(p.firstOffset())
	}
	p.step = (p.step + 1) % len(p.seq)
	return now.Add(p.jitter(p.Spacing(), 1-p.opts.Jitter, 1+p.opts.Jitter))
}

// firstOffset is the wait before an agent's first regular probe, drawn from
// the stationary distribution of the time to the next arrival of a process
// whose spacings are uniform in [1−j, 1+j]·Spacing: pick a spacing with
// probability proportional to its length, then a uniform point within it.
// Agents that start together then add up to the steady rate at once, instead
// of crowding where their first and second probes overlap.
func (p *Plan) firstOffset() time.Duration {
	lo, hi := 1-p.opts.Jitter, 1+p.opts.Jitter
	length := math.Sqrt(lo*lo + p.rnd.Float64()*(hi*hi-lo*lo))
	return time.Duration(p.rnd.Float64() * length * float64(p.Spacing()))
}

// jitter returns a uniformly random duration in [lo·d, hi·d).
func (p *Plan) jitter(d time.Duration, lo, hi float64) time.Duration {
	return time.Duration(float64(d) * (lo + (hi-lo)*p.rnd.Float64()))
}

// backoff doubles with each consecutive failure, up to MaxBackoff (or four
// intervals in clusters so large that the interval nears MaxBackoff), with
// jitter between half and all of it so that agents that failed together do
// not retry together. It is never shorter than the budgeted interval.
func (p *Plan) backoff() time.Duration {
	limit := max(p.opts.MaxBackoff, 4*p.Interval())
	d := float64(p.Interval()) * math.Exp2(float64(min(p.failures-1, 16)))
	d = min(d, float64(limit))
	return max(p.jitter(time.Duration(d), 0.5, 1), p.Interval())
}

// Interval is the time one pass over the probes takes (a cycle) at the
// current node count: the wanted interval, stretched so that nodes ×
// requests per cycle / interval stays below the cluster budget.
func (p *Plan) Interval() time.Duration {
	n := max(p.nodes, 1)
	need := time.Duration(float64(n) * p.perCycle / (p.opts.ClusterQPS * headroom) * float64(time.Second))
	return max(p.opts.Interval, need)
}

// Spacing is the mean time between two probes of this agent.
func (p *Plan) Spacing() time.Duration {
	return time.Duration(float64(p.Interval()) / p.perCycle)
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

// Nodes is the last node count learned (0 if none yet).
func (p *Plan) Nodes() int { return p.nodes }

// RequestsPerSecond is this agent's mean probe rate: its share of the cluster
// budget.
func (p *Plan) RequestsPerSecond() float64 {
	return 1 / p.Spacing().Seconds()
}

// Failures is the number of consecutive failed probes.
func (p *Plan) Failures() int { return p.failures }
