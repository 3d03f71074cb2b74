package findings

import (
	"strings"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

func obs(mod func(*instrument.Observation)) instrument.Observation {
	o := instrument.Observation{
		Class:      classify.Class{Verb: classify.VerbGet, Resource: "pods", Scope: classify.ScopeResource},
		Labels:     classify.Labels{Verb: "get", Resource: "pods", Scope: "resource", Key: "get/pods/resource"},
		StatusCode: 200, GotConn: true, ConnReused: true, Protocol: instrument.ProtoHTTP2,
	}
	if mod != nil {
		mod(&o)
	}
	return o
}

func TestFindings(t *testing.T) {
	clusterList := func(o *instrument.Observation) {
		o.Class = classify.Class{Verb: classify.VerbList, Resource: "pods", Scope: classify.ScopeCluster}
		o.Labels.Resource = "pods"
	}
	for _, tc := range []struct {
		name     string
		feed     func(a *Analyzer)
		want     []string // finding IDs
		evidence string
	}{
		{"healthy", func(a *Analyzer) {
			for range 100 {
				a.Report(obs(nil))
			}
		}, nil, ""},
		{"throttled per call", func(a *Analyzer) {
			for i := range 100 {
				a.Report(obs(func(o *instrument.Observation) {
					if i%10 == 0 {
						o.ThrottleWait = 200 * time.Millisecond
					}
				}))
			}
		}, []string{ClientThrottling}, "10 of 100 requests (10%) waited ≥ 10ms in the last 10m0s; mean wait 200ms, longest 200ms"},
		{"throttled from the client-go hook", func(a *Analyzer) {
			for range 40 {
				a.Report(obs(nil))
			}
			for range 4 {
				a.ReportRateLimiterWait(classify.Labels{}, 50*time.Millisecond)
			}
		}, []string{ClientThrottling}, "4 of 40 requests"},
		{"a little throttling is fine", func(a *Analyzer) {
			for i := range 100 {
				a.Report(obs(func(o *instrument.Observation) {
					if i < 2 {
						o.ThrottleWait = time.Second
					}
				}))
			}
		}, nil, ""},
		{"no connection reuse", func(a *Analyzer) {
			for i := range 40 {
				a.Report(obs(func(o *instrument.Observation) {
					o.ConnReused = i%5 == 0
					o.Protocol = instrument.ProtoHTTP1
				}))
			}
		}, []string{LowConnReuse}, "8 of 40 requests reused a connection (20%) in the last 10m0s; 40 used HTTP/1.1"},
		{"slow DNS", func(a *Analyzer) {
			for range 6 {
				a.Report(obs(func(o *instrument.Observation) { o.Phases[instrument.PhaseDNS] = 40 * time.Millisecond }))
			}
		}, []string{SlowDNS}, "6 lookups in the last 10m0s: mean 40ms, slowest 40ms"},
		{"one SYN retransmission", func(a *Analyzer) {
			a.Report(obs(func(o *instrument.Observation) { o.Phases[instrument.PhaseConnect] = 1003 * time.Millisecond }))
		}, []string{SlowConnect}, "1 took ≥ 1s"},
		{"connection refused", func(a *Analyzer) {
			for range 3 {
				a.Report(obs(func(o *instrument.Observation) {
					o.GotConn, o.StatusCode, o.Error = false, 0, instrument.ErrConnRefused
				}))
			}
		}, []string{SlowConnect}, "3 connection failures"},
		{"uncached cluster list", func(a *Analyzer) { a.Report(obs(clusterList)) }, []string{UncachedClusterLs}, "1 such LISTs in the last 10m0s, e.g. of pods"},
		{"cached or paginated cluster lists are fine", func(a *Analyzer) {
			a.Report(obs(func(o *instrument.Observation) { clusterList(o); o.Class.CacheRead = true }))
			a.Report(obs(func(o *instrument.Observation) { clusterList(o); o.Class.Paginated = true }))
			a.Report(obs(func(o *instrument.Observation) {
				clusterList(o)
				o.Class.Scope = classify.ScopeNamespace
			}))
		}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testingclock.NewFakeClock(time.Unix(1_800_000_000, 0))
			a := New(Options{Clock: clk})
			tc.feed(a)
			got := a.Findings()
			var ids []string
			for _, f := range got {
				ids = append(ids, f.ID)
				if f.Advice == "" || f.Title == "" || !f.Since.Equal(clk.Now()) {
					t.Errorf("finding %+v incomplete", f)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("findings %v, want %v", ids, tc.want)
			}
			if tc.evidence != "" && !strings.Contains(got[0].Evidence, tc.evidence) {
				t.Errorf("evidence %q, want it to contain %q", got[0].Evidence, tc.evidence)
			}
		})
	}
}

// TestFindingsWindow: a finding keeps its start time while it lasts and goes
// away once its signals leave the window.
func TestFindingsWindow(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Unix(1_800_000_000, 0))
	a := New(Options{Clock: clk})
	a.Report(obs(func(o *instrument.Observation) { o.Phases[instrument.PhaseConnect] = 3 * time.Second }))
	start := clk.Now()
	if f := a.Findings(); len(f) != 1 {
		t.Fatalf("at once: %+v", f)
	}
	clk.Step(5 * time.Minute)
	if f := a.Findings(); len(f) != 1 || !f[0].Since.Equal(start) {
		t.Fatalf("after 5m: %+v", f)
	}
	clk.Step(6 * time.Minute)
	if f := a.Findings(); len(f) != 0 {
		t.Fatalf("after the window: %+v", f)
	}
}
