package probe

import (
	"container/heap"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// simulation drives one Plan per simulated agent with an event queue: hours of
// schedule for thousands of agents run in milliseconds, deterministically.
type simulation struct {
	budget  BudgetOptions
	nodes   func(t time.Duration) int  // cluster size at t (what the count probe returns)
	failing func(t time.Duration) bool // API server down at t
	joinAt  func(i int) time.Duration  // when agent i starts
	known   int                        // node count from a checkpoint at start (0 = none)
	length  time.Duration
	agents  int
	seed    uint64
}

type simResult struct {
	perSecond []int // requests started in each second
	intervals []time.Duration
}

type event struct {
	at    time.Duration
	agent int
}
type eventQueue []event

func (q eventQueue) Len() int           { return len(q) }
func (q eventQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q eventQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)        { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func (s simulation) run(t *testing.T) simResult {
	t.Helper()
	epoch := time.Unix(0, 0)
	res := simResult{perSecond: make([]int, int(s.length/time.Second)+1)}
	plans := make([]*Plan, s.agents)
	q := &eventQueue{}
	for i := range plans {
		p, err := NewPlan(s.budget, DefaultSpecs, s.known, rand.New(rand.NewPCG(s.seed, uint64(i))))
		if err != nil {
			t.Fatal(err)
		}
		plans[i] = p
		join := s.joinAt(i)
		heap.Push(q, event{at: p.Start(epoch.Add(join)).Sub(epoch), agent: i})
	}
	for q.Len() > 0 {
		e := heap.Pop(q).(event)
		if e.at >= s.length {
			continue
		}
		p := plans[e.agent]
		var o Outcome
		res.perSecond[int(e.at/time.Second)]++
		switch {
		case s.failing(e.at):
			o.Failed = true
		case p.Next() == ClusterList:
			o.Nodes = s.nodes(e.at)
		}
		next := p.Done(epoch.Add(e.at), o).Sub(epoch)
		heap.Push(q, event{at: next, agent: e.agent})
	}
	for _, p := range plans {
		res.intervals = append(res.intervals, p.Interval())
	}
	return res
}

// window sums requests over every window of w seconds.
func (r simResult) window(w int) []int {
	var out []int
	sum := 0
	for i, n := range r.perSecond {
		sum += n
		if i >= w {
			sum -= r.perSecond[i-w]
		}
		if i >= w-1 {
			out = append(out, sum)
		}
	}
	return out
}

func (r simResult) meanQPS(from, to time.Duration) float64 {
	n := 0
	for _, c := range r.perSecond[int(from/time.Second):int(to/time.Second)] {
		n += c
	}
	return float64(n) / (to - from).Seconds()
}

func never(time.Duration) bool   { return false }
func together(int) time.Duration { return 0 }

// TestClusterBudget is the simulation the issue asks for: 10 to 5,000 nodes,
// every agent cold-started at the same instant with no checkpoint, three
// simulated hours; no minute may exceed ClusterQPS × 60 requests.
func TestClusterBudget(t *testing.T) {
	const qps = 20
	for _, n := range []int{10, 100, 500, 1000, 2000, 5000} {
		t.Run(strconv.Itoa(n)+"-nodes", func(t *testing.T) {
			s := simulation{
				budget:  BudgetOptions{ClusterQPS: qps},
				nodes:   func(time.Duration) int { return n },
				failing: never, joinAt: together,
				length: 3 * time.Hour, agents: n, seed: 42,
			}
			r := s.run(t)
			worst := slices.Max(r.window(60))
			if worst > qps*60 {
				t.Errorf("%d nodes: busiest minute had %d requests, budget %d", n, worst, qps*60)
			}
			steady := r.meanQPS(time.Hour, 3*time.Hour)
			wantInterval := max(DefaultInterval, time.Duration(float64(n)*(3+2.0/6)/(qps*headroom)*float64(time.Second)))
			for i, iv := range r.intervals {
				if iv != wantInterval {
					t.Fatalf("agent %d interval %v, want %v", i, iv, wantInterval)
				}
			}
			// The budget must also be used: small clusters probe at the wanted
			// interval, large ones near the budget (not throttled needlessly).
			if float64(n)*(3+2.0/6)/DefaultInterval.Seconds() < qps*headroom { // budget not binding
				want := float64(n) * (3 + 2.0/6) / DefaultInterval.Seconds()
				if steady < 0.9*want || steady > 1.1*want {
					t.Errorf("%d nodes: steady rate %.2f req/s, want ≈ %.2f", n, steady, want)
				}
			} else if steady < 0.75*qps {
				t.Errorf("%d nodes: steady rate %.2f req/s uses too little of the %d req/s budget", n, steady, qps)
			}
			t.Logf("%5d nodes: interval %v, steady %.2f req/s, busiest minute %d (budget %d)", n, wantInterval, steady, worst, qps*60)
		})
	}
}

// TestClusterBudgetRolloutAndGrowth: installing the DaemonSet on a 3,000-node
// cluster (pods start over 10 minutes); a 2,600-node cluster growing to 3,000
// in 30 minutes (agents learn a count that is still rising); every agent
// restarting at once with its checkpointed count.
//
// Growth is the one case the budget bounds only approximately: an agent learns
// the count every sixth cycle (about 1.2 × nodes seconds), so the rate can
// exceed its 85% target by the growth within that time; the headroom absorbs
// up to 17% growth per count period (+400 nodes in 52 minutes here).
func TestClusterBudgetRolloutAndGrowth(t *testing.T) {
	const n, qps = 3000, 20
	rollout := 10 * time.Minute
	base := simulation{
		budget:  BudgetOptions{ClusterQPS: qps},
		nodes:   func(time.Duration) int { return n },
		failing: never,
		length:  2 * time.Hour, agents: n, seed: 7,
	}
	for _, tc := range []struct {
		name string
		sim  func(simulation) simulation
	}{
		{"rollout", func(s simulation) simulation {
			s.joinAt = func(i int) time.Duration { return time.Duration(float64(rollout) * float64(i) / n) }
			return s
		}},
		{"growth", func(s simulation) simulation {
			const first, grow = 2600, 30 * time.Minute
			s.nodes = func(at time.Duration) int {
				return first + int(float64(n-first)*min(1, max(0, (at-time.Hour).Seconds()/grow.Seconds())))
			}
			s.joinAt = func(i int) time.Duration {
				if i < first {
					return 0
				}
				return time.Hour + time.Duration(float64(grow)*float64(i-first)/float64(n-first))
			}
			return s
		}},
		{"restart-with-checkpoint", func(s simulation) simulation {
			s.known, s.joinAt = n, together
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.sim(base).run(t)
			worst := slices.Max(r.window(60))
			if worst > qps*60 {
				t.Errorf("busiest minute had %d requests, budget %d", worst, qps*60)
			}
			t.Logf("busiest minute %d requests (budget %d)", worst, qps*60)
		})
	}
}

// TestBackoffDuringOutage: the API server fails for 30 minutes. Agents back
// off exponentially (the rate falls far below the budget), and when it comes
// back they do not return as a thundering herd.
func TestBackoffDuringOutage(t *testing.T) {
	const n, qps = 1000, 20
	down := func(at time.Duration) bool { return at >= time.Hour && at < 90*time.Minute }
	s := simulation{
		budget:  BudgetOptions{ClusterQPS: qps},
		nodes:   func(time.Duration) int { return n },
		failing: down, joinAt: together, known: n,
		length: 3 * time.Hour, agents: n, seed: 3,
	}
	r := s.run(t)
	if worst := slices.Max(r.window(60)); worst > qps*60 {
		t.Errorf("busiest minute had %d requests, budget %d", worst, qps*60)
	}
	before := r.meanQPS(40*time.Minute, time.Hour)
	late := r.meanQPS(80*time.Minute, 90*time.Minute)
	if late > before/4 {
		t.Errorf("late in the outage the rate is %.2f req/s, want well below the normal %.2f", late, before)
	}
	t.Logf("normal %.2f req/s, late in outage %.2f req/s", before, late)
}

func TestPlanSequenceAndBackoff(t *testing.T) {
	p, err := NewPlan(BudgetOptions{}, DefaultSpecs, 0, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	p.Start(now)
	if got := p.Next(); got != ClusterList {
		t.Fatalf("first probe without a node count = %v, want %s", got, ClusterList)
	}
	// A cold start sends nothing else until StartupSpread has passed.
	if next := p.Done(now, Outcome{Nodes: 3}); next.Before(now.Add(DefaultStartupSpread - time.Second)) {
		t.Errorf("second probe at %v, want after the cold-start phase", next.Sub(now))
	}
	// Six cycles of the default mix: 3 probes every cycle, 2 every sixth.
	seen := map[Kind]int{}
	for range 20 {
		seen[p.Next()]++
		d := p.Done(now, Outcome{}).Sub(now)
		if want := p.Spacing(); d < want*8/10 || d > want*12/10 {
			t.Errorf("spacing %v, want %v ± 20%%", d, want)
		}
	}
	want := map[Kind]int{NodeCached: 6, PodsOnNode: 6, Readyz: 6, NodeQuorum: 1, ClusterList: 1}
	if !maps.Equal(seen, want) {
		t.Errorf("six cycles sent %v, want %v", seen, want)
	}
	if got, want := p.Spacing(), DefaultInterval*6/20; got != want {
		t.Errorf("spacing %v, want %v (20 probes per 6 cycles of 10s)", got, want)
	}

	// Consecutive failures double the delay (jitter in [½, 1]) up to the cap,
	// never below the interval; Retry-After is honoured when longer.
	prev := time.Duration(0)
	for i := 1; i <= 8; i++ {
		d := p.Done(now, Outcome{Failed: true}).Sub(now)
		if d < DefaultInterval || d > DefaultMaxBackoff {
			t.Fatalf("failure %d: backoff %v outside [%v, %v]", i, d, DefaultInterval, DefaultMaxBackoff)
		}
		if i <= 4 && d < prev/2 {
			t.Errorf("failure %d: backoff %v shrank from %v", i, d, prev)
		}
		prev = d
	}
	if d := p.Done(now, Outcome{Failed: true, RetryAfter: time.Hour}).Sub(now); d != time.Hour {
		t.Errorf("Retry-After 1h gave %v", d)
	}
	if d := p.Done(now, Outcome{}).Sub(now); d > p.Spacing()*12/10 || p.Failures() != 0 {
		t.Errorf("success did not reset the backoff: next in %v, failures %d", d, p.Failures())
	}
}

func TestBudgetValidate(t *testing.T) {
	for _, tc := range []struct {
		o    BudgetOptions
		want string
	}{
		{BudgetOptions{ClusterQPS: -1}, "clusterQPS: want > 0"},
		{BudgetOptions{Interval: 100 * time.Millisecond}, "interval: want ≥ 1s, got 100ms"},
		{BudgetOptions{Interval: time.Hour, MaxBackoff: time.Minute}, "maxBackoff: want ≥ interval"},
		{BudgetOptions{Jitter: 1.5}, "jitter: want in [0, 1)"},
	} {
		err := tc.o.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.o, err, tc.want)
		}
	}
	if _, err := NewPlan(BudgetOptions{}, []Spec{{Kind: Readyz, Every: 2, Offset: 2}}, 0, rand.New(rand.NewPCG(1, 1))); err == nil ||
		!strings.Contains(err.Error(), "specs[0] (readyz)") {
		t.Errorf("bad spec: %v", err)
	}
}
