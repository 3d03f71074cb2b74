package agent

import (
	"math"
	"sync"
	"time"

	"github.com/kubepulse/kubepulse/agent/findings"
	"github.com/kubepulse/kubepulse/agent/probe"
	"github.com/kubepulse/kubepulse/agent/status"
	"github.com/kubepulse/kubepulse/baseline"
	"github.com/kubepulse/kubepulse/exporters/prom"
)

// liveState is what the agent's loops report for the status page, the
// metrics and readiness. Safe for concurrent use.
type liveState struct {
	mu             sync.Mutex
	budget         status.Budget
	watch          status.Watch
	lastCheckpoint time.Time
	lastAPIAnswer  time.Time // any HTTP answer from the API server
	findings       []findings.Finding
}

func (s *liveState) probeDone(r probe.Result, enabled bool, clusterQPS float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := &s.budget
	b.Enabled, b.ClusterQPS = enabled, clusterQPS
	if r.ClusterNodes > 0 {
		b.Nodes = r.ClusterNodes
	}
	b.Interval, b.AgentQPS, b.LastProbe, b.NextProbe = r.Interval, r.QPS, r.At, r.Next
	b.ProbesSent++
	if r.Err != nil {
		b.ProbesFailed++
	}
	if r.Failed {
		b.Failures++
	} else {
		b.Failures = 0
	}
	if r.Code != 0 {
		s.lastAPIAnswer = r.At.Add(r.Duration)
	}
}

func (s *liveState) watchDelay(d time.Duration) {
	s.mu.Lock()
	s.watch.LastDelay = d
	s.watch.Events++
	s.mu.Unlock()
}

func (s *liveState) watchRestart(reason string) {
	s.mu.Lock()
	s.watch.Restarts++
	if reason == "expired" {
		s.watch.Relists++
	}
	s.mu.Unlock()
}

func (s *liveState) apiAnswered(at time.Time) {
	s.mu.Lock()
	if at.After(s.lastAPIAnswer) {
		s.lastAPIAnswer = at
	}
	s.mu.Unlock()
}

// snapshot builds the status page's view of everything the agent knows.
func (a *agent) snapshot() status.Snapshot {
	now := a.clock.Now()
	ready, reason := a.readiness(now)
	s := status.Snapshot{
		Node: a.cfg.NodeName, Pod: a.cfg.PodName, Namespace: a.cfg.PodNamespace,
		Version: a.opts.Version, Started: a.started, Now: now,
		Ready: ready, Reason: reason, Demo: a.opts.Demo,
		Alerts: a.alerts.Status(now),
		Splits: a.splits.list(),
	}
	a.live.mu.Lock()
	s.Budget, s.Watch = a.live.budget, a.live.watch
	s.Store.LastCheckpoint = a.live.lastCheckpoint
	active := a.live.findings
	a.live.mu.Unlock()
	c := a.conf()
	s.Budget.Enabled = c.Probe.Enabled
	s.Budget.ClusterQPS = c.Probe.ClusterQPS
	s.Watch.Enabled = c.Watch.Lease
	for _, f := range active {
		s.Findings = append(s.Findings, status.Finding{ID: f.ID, Severity: f.Severity, Title: f.Title,
			Advice: f.Advice, Evidence: f.Evidence, Since: f.Since})
	}
	st := a.tracker().Stats()
	s.Store.Keys, s.Store.MaxKeys, s.Store.Overflow, s.Store.Evictions = st.Keys, st.Cap, st.Overflow, st.Evictions
	minSamples := a.tracker().Config().Detector.MinSamples
	a.tracker().Snapshot(func(ks baseline.KeyStatus) {
		ki, ok := a.keys.get(ks.Key)
		if !ok {
			return
		}
		k := status.Key{
			Key: ks.Key, Verb: ki.Verb, Resource: ki.Resource, Scope: ki.Scope, Phase: ki.Phase, Probe: ki.Probe,
			State: ks.State.String(), Samples: int64(ks.Samples), MinSamples: minSamples,
			Current: ks.Current, Mean: ks.Mean, P50: ks.P50, P95: ks.P95, P99: ks.P99,
			Score: ks.Score, Z: ks.Z, Ratio: ks.Ratio, SLO: ki.SLO, LastSample: ks.LastSample,
		}
		k.Lower, k.Upper = band(ks)
		if !ks.FiringSince.IsZero() {
			fs := ks.FiringSince
			k.FiringSince = &fs
		}
		for _, p := range ki.history.points() {
			k.History = append(k.History, status.Point{T: time.Unix(0, p.t).UTC(), Value: float64(p.v),
				Lower: float64(p.low), Upper: float64(p.high)})
		}
		s.Keys = append(s.Keys, k)
	})
	return s
}

// readiness: ready while the API server answered within the last
// readyWindow (any HTTP status counts: the server is there), or while the
// agent is still starting.
func (a *agent) readiness(now time.Time) (bool, string) {
	a.live.mu.Lock()
	last := a.live.lastAPIAnswer
	a.live.mu.Unlock()
	window := max(a.readyWindow(), time.Minute)
	switch {
	case !last.IsZero() && now.Sub(last) <= window:
		return true, ""
	case last.IsZero() && now.Sub(a.started) < window+time.Duration(a.conf().Probe.StartupSpread):
		return true, "starting: no answer from the API server yet"
	case last.IsZero():
		return false, "the API server has not answered since the agent started"
	}
	return false, "no answer from the API server for " + now.Sub(last).Round(time.Second).String()
}

// readyWindow is three probe spacings: a single lost probe is not a reason
// to take the pod out of its Service.
func (a *agent) readyWindow() time.Duration {
	a.live.mu.Lock()
	defer a.live.mu.Unlock()
	if a.live.budget.AgentQPS > 0 {
		return time.Duration(3 / a.live.budget.AgentQPS * float64(time.Second))
	}
	return 3 * time.Duration(a.conf().Probe.Interval)
}

// eachBaseline adapts the tracker to the Prometheus baseline collector.
func (a *agent) eachBaseline(fn func(prom.Baseline)) {
	a.tracker().Snapshot(func(ks baseline.KeyStatus) {
		ki, ok := a.keys.get(ks.Key)
		if !ok {
			return
		}
		fn(prom.Baseline{
			Verb: ki.Verb, Resource: ki.Resource, Scope: ki.Scope, Phase: ki.Phase, Probe: ki.Probe,
			State: ks.State.String(), Samples: ks.Samples,
			Mean: ks.Mean, StdDev: ks.StdDev, P50: ks.P50, P95: ks.P95, P99: ks.P99, Score: nanTo0(ks.Score),
		})
	})
}

func nanTo0(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}
