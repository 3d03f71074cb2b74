package agent

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kubepulse/kubepulse/agent/alerts"
	"github.com/kubepulse/kubepulse/agent/findings"
	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
	"github.com/kubepulse/kubepulse/baseline"
	"github.com/kubepulse/kubepulse/exporters/alertmanager"
)

// Rule thresholds. They mirror the Prometheus-side rules in dashboards/
// so that teams alerting either way see the same alerts.
const (
	// unreachableAfter consecutive probes that got no answer at all fire
	// KubeAPIUnreachable; the first answer resolves it.
	unreachableAfter = 3
	// sloExitRatio resolves an SLO breach once the current value falls
	// below this share of the SLO.
	sloExitRatio = 0.8
	// Error rates: judged over errorWindow against the errorHistory before
	// it; fire when the recent rate is at least errorMinRate, errorMinFailed
	// requests failed, and the rate is errorFactor times the history's.
	errorWindow    = 5 * time.Minute
	errorHistory   = time.Hour
	errorMinRate   = 0.05
	errorMinFailed = 3
	errorFactor    = 3.0
	// errorExitRate resolves an error-rate alert (with no new failures).
	errorExitRate = 0.01
)

// errorRates counts requests and failures per key in one-minute buckets
// over errorHistory + errorWindow.
type errorRates struct {
	mu   sync.Mutex
	keys map[string]*errorKeyState
}

type errorKeyState struct {
	labels  classify.Labels
	probe   string
	buckets [65]struct {
		minute        int64
		total, failed int
		reasons       map[string]int
	}
}

func newErrorRates() *errorRates { return &errorRates{keys: map[string]*errorKeyState{}} }

// maxErrorKeys bounds the classes tracked (the agent's own traffic has a
// handful; the bound protects against a flood of CRD classes).
const maxErrorKeys = 512

func (e *errorRates) add(key string, o *instrument.Observation, at time.Time) {
	failed := failedForRate(o)
	m := at.Unix() / 60
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.keys[key]
	if !ok {
		if len(e.keys) >= maxErrorKeys {
			return
		}
		s = &errorKeyState{labels: o.Labels, probe: o.Origin}
		e.keys[key] = s
	}
	b := &s.buckets[m%int64(len(s.buckets))]
	if b.minute != m {
		b.minute, b.total, b.failed, b.reasons = m, 0, 0, nil
	}
	b.total++
	if failed {
		b.failed++
		if b.reasons == nil {
			b.reasons = map[string]int{}
		}
		reason := o.Error.String()
		if reason == "" {
			reason = fmt.Sprintf("http_%d", o.StatusCode)
		}
		b.reasons[reason]++
	}
}

// errorStat is one key's recent and historic error rate.
type errorStat struct {
	key                   string
	labels                classify.Labels
	probe                 string
	recentTotal, recentFa int
	histTotal, histFailed int
	reasons               map[string]int
}

func (e *errorRates) stats(now time.Time) []errorStat {
	m := now.Unix() / 60
	win := int64(errorWindow / time.Minute)
	hist := int64(errorHistory / time.Minute)
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []errorStat
	for k, s := range e.keys {
		st := errorStat{key: k, labels: s.labels, probe: s.probe, reasons: map[string]int{}}
		for _, b := range s.buckets {
			age := m - b.minute
			switch {
			case age < 0 || b.total == 0:
			case age < win:
				st.recentTotal += b.total
				st.recentFa += b.failed
				for r, n := range b.reasons {
					st.reasons[r] += n
				}
			case age < win+hist:
				st.histTotal += b.total
				st.histFailed += b.failed
			}
		}
		out = append(out, st)
	}
	return out
}

// ruleState is what the rules remember between evaluations.
type ruleState struct {
	mu                  sync.Mutex
	consecutiveFailures int
	firstFailure        time.Time
	lastError           string
	lastSuccess         time.Time
}

// probeResult records a probe's outcome for the unreachable rule: only a
// probe that got no HTTP answer at all counts as unreachable.
func (r *ruleState) probeResult(at time.Time, code int, err error) (failures int, since time.Time, lastErr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil || code != 0 {
		r.consecutiveFailures = 0
		r.lastSuccess = at
		return 0, time.Time{}, ""
	}
	if r.consecutiveFailures == 0 {
		r.firstFailure = at
	}
	r.consecutiveFailures++
	r.lastError = errorSummary(err)
	return r.consecutiveFailures, r.firstFailure, r.lastError
}

// errorSummary shortens an error for an alert description: the innermost
// cause, without URLs (they may carry query strings).
func errorSummary(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// evaluateUnreachable fires or resolves KubeAPIUnreachable after a probe.
func evaluateUnreachable(m *alerts.Manager, failures int, since time.Time, lastErr string, at time.Time) {
	firing := m.Firing(alertmanager.KubeAPIUnreachable, alerts.Target{})
	switch {
	case failures >= unreachableAfter:
		m.Apply(alerts.Change{
			Name: alertmanager.KubeAPIUnreachable, Firing: true, At: since,
			Numbers: alertmanager.Numbers{Stat: "consecutive failed probes", Unit: alertmanager.Count,
				Current: float64(failures), Reference: unreachableAfter, RefName: "threshold", Window: at.Sub(since)},
			Detail: "last error: " + lastErr,
		})
	case failures == 0 && firing:
		m.Apply(alerts.Change{Name: alertmanager.KubeAPIUnreachable, Firing: false, At: at})
	}
}

// evaluateSLO fires KubeAPILatencySLOBreach for every key whose current
// latency exceeds its upstream SLO — learning or not — and resolves it once
// the key is back under sloExitRatio of it.
func evaluateSLO(m *alerts.Manager, keys *registry, st baseline.KeyStatus) {
	ki, ok := keys.get(st.Key)
	if !ok || ki.SLO == 0 || st.Samples == 0 {
		return
	}
	target := ki.alertTarget()
	firing := m.Firing(alertmanager.KubeAPILatencySLOBreach, target)
	cur := st.Current
	nums := alertmanager.Numbers{Stat: "ewma", Unit: alertmanager.Seconds, Current: cur, Reference: ki.SLO,
		RefName: "SLO", Samples: int(st.Samples)}
	switch {
	case cur > ki.SLO:
		m.Apply(alerts.Change{Name: alertmanager.KubeAPILatencySLOBreach, Target: target, Firing: true, At: st.LastSample, Numbers: nums, P99: finite(st.P99)})
	case firing && cur < sloExitRatio*ki.SLO:
		m.Apply(alerts.Change{Name: alertmanager.KubeAPILatencySLOBreach, Target: target, At: st.LastSample, Numbers: nums})
	}
}

// evaluateErrors fires KubeAPIErrorRateDrift when a key's recent error rate
// is well above what it was in the hour before.
func evaluateErrors(m *alerts.Manager, stats []errorStat, now time.Time) {
	for _, s := range stats {
		target := classTarget(s.labels, s.probe)
		firing := m.Firing(alertmanager.KubeAPIErrorRateDrift, target)
		if s.recentTotal == 0 {
			if firing {
				m.Apply(alerts.Change{Name: alertmanager.KubeAPIErrorRateDrift, Target: target, At: now})
			}
			continue
		}
		rate := float64(s.recentFa) / float64(s.recentTotal)
		hist := 0.0
		if s.histTotal > 0 {
			hist = float64(s.histFailed) / float64(s.histTotal)
		}
		nums := alertmanager.Numbers{Stat: "error rate", Unit: alertmanager.Fraction, Current: rate,
			Reference: hist, Samples: s.recentTotal, Window: errorWindow}
		switch {
		case rate >= errorMinRate && s.recentFa >= errorMinFailed && rate >= errorFactor*hist:
			m.Apply(alerts.Change{Name: alertmanager.KubeAPIErrorRateDrift, Target: target, Firing: true, At: now,
				Numbers: nums, Detail: "errors: " + reasons(s.reasons)})
		case firing && rate <= max(errorExitRate, hist):
			m.Apply(alerts.Change{Name: alertmanager.KubeAPIErrorRateDrift, Target: target, At: now, Numbers: nums})
		}
	}
}

// evaluateThrottling mirrors the client-throttling finding as
// KubeAPIClientThrottled.
func evaluateThrottling(m *alerts.Manager, active []findings.Finding, now time.Time) {
	var f *findings.Finding
	for i := range active {
		if active[i].ID == findings.ClientThrottling {
			f = &active[i]
		}
	}
	firing := m.Firing(alertmanager.KubeAPIClientThrottled, alerts.Target{})
	switch {
	case f != nil:
		m.Apply(alerts.Change{Name: alertmanager.KubeAPIClientThrottled, Firing: true, At: f.Since,
			Numbers: alertmanager.Numbers{Stat: "throttled requests", Unit: alertmanager.Fraction,
				Current: f.Value, Reference: f.Threshold, RefName: "threshold"},
			Detail: f.Evidence})
	case firing:
		m.Apply(alerts.Change{Name: alertmanager.KubeAPIClientThrottled, At: now})
	}
}

func reasons(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// alertPhase is the phase label of an alert: none for the whole request, as
// exporters/alertmanager and the Prometheus rules name it.
func alertPhase(phase string) string {
	if phase == PhaseTotal {
		return ""
	}
	return phase
}
