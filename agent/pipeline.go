package agent

import (
	"math"
	"time"

	"github.com/kubepulse/kubepulse/agent/alerts"
	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
	"github.com/kubepulse/kubepulse/baseline"
	"github.com/kubepulse/kubepulse/exporters/alertmanager"
)

// pipeline is where every finished request goes: Prometheus metrics,
// findings, error-rate counts, and — for requests that carry a latency —
// one baseline sample per measured phase, whose drift events become alerts.
// It runs on the request's goroutine and never blocks.
type pipeline struct {
	reporters []instrument.Reporter // Recorder, findings analyzer
	trk       *trackerRef
	keys      *registry
	alerts    *alerts.Manager
	errors    *errorRates
	splits    *splits
}

// Report implements instrument.Reporter.
func (p *pipeline) Report(o instrument.Observation) {
	for _, r := range p.reporters {
		r.Report(o)
	}
	if o.Labels.Verb == "" {
		return
	}
	p.errors.add(errorKey(&o), &o, o.Start.Add(o.Total))
	// Watches and streams have no latency; failed requests' durations are
	// timeouts and refusals, not latency: both stay out of the baselines.
	if o.LongRunning || o.Failed() || o.StatusCode >= 500 {
		return
	}
	if p.splits != nil {
		p.splits.add(errorKey(&o), &o)
	}
	at := o.Start.Add(o.Total)
	p.observe(&o, PhaseTotal, o.Total, at)
	for ph := range instrument.NumPhases {
		// A phase that did not happen (no new connection: no dns, connect,
		// tls) is not a zero-latency sample.
		if d := o.Phases[ph]; d > 0 {
			p.observe(&o, ph.String(), d, at)
		}
	}
}

// observe feeds one phase of a request to its baseline.
func (p *pipeline) observe(o *instrument.Observation, phase string, d time.Duration, at time.Time) {
	key := seriesKey(o, phase)
	ki := p.keys.info(key, series{
		Verb: o.Labels.Verb, Resource: o.Labels.Resource, Scope: o.Labels.Scope,
		Phase: phase, Probe: o.Origin, SLO: sloFor(o.Class, phase),
	})
	p.sample(key, ki, d.Seconds(), at)
}

// sample feeds one value to the tracker, records it for the chart and turns
// a drift event into an alert change. While a key's drift alert fires, each
// sample refreshes the alert's numbers (as Prometheus re-evaluates an
// alert's annotations): an alert fires while the fast EWMA is still on its
// way up, and the page and Alertmanager's resends should show where it got.
func (p *pipeline) sample(key string, ki *keyInfo, v float64, at time.Time) {
	tracker := p.trk.get()
	ev, ok := tracker.Observe(key, v, at)
	refresh := !ok && ki.driftFiring.Load()
	// The chart's band needs the key's status (window quantiles): only for
	// keys that keep a chart, or whose alert numbers are refreshed.
	var st baseline.KeyStatus
	found := false
	if ki.history != nil || refresh {
		st, found = tracker.Status(key)
	}
	if found && ki.history != nil {
		low, high := band(st)
		ki.history.add(point{t: at.UnixNano(), v: float32(v), low: float32(low), high: float32(high)})
	}
	if refresh && found && st.State == baseline.StateFiring && st.Reason == baseline.ReasonDrift {
		p.alerts.Apply(alerts.Change{
			Name: alertmanager.KubeAPILatencyDrift, Target: ki.alertTarget(), Firing: true, At: at,
			Numbers: driftNumbers(st.Current, st.Mean, st.Z, st.Ratio, st.Samples), P99: finite(st.P99),
		})
		return
	}
	if !ok || ev.Reason != baseline.ReasonDrift {
		return // SLO breaches are judged by the rules, learning or not
	}
	ki.driftFiring.Store(ev.Kind == baseline.KindFiring)
	p.alerts.Apply(alerts.Change{
		Name:    alertmanager.KubeAPILatencyDrift,
		Target:  ki.alertTarget(),
		Firing:  ev.Kind == baseline.KindFiring,
		At:      ev.At,
		Numbers: driftNumbers(ev.Current, ev.BaselineMean, ev.Z, ev.Ratio, ev.Samples),
		P99:     finite(ev.BaselineP99),
		Detail:  acceptedNote(ev),
	})
}

// driftNumbers are a drift alert's numbers: the fast EWMA against the
// learned baseline.
func driftNumbers(current, baselineMean, z, ratio float64, samples uint64) alertmanager.Numbers {
	return alertmanager.Numbers{
		Stat: "ewma", Unit: alertmanager.Seconds, Current: current, Reference: baselineMean,
		Z: z, Ratio: ratio, Samples: int(samples),
	}
}

func acceptedNote(ev baseline.Event) string {
	if ev.Accepted {
		return "resolved because the new level lasted long enough to become the baseline"
	}
	return ""
}

// band is the range a sample is expected in: three standard deviations
// around the baseline, in the space the key is learned in (log or linear).
func band(st baseline.KeyStatus) (low, high float64) {
	m, sd := st.Mean, st.StdDev
	if !(m > 0) || math.IsNaN(sd) {
		return math.NaN(), math.NaN()
	}
	if st.Transform == baseline.TransformLog {
		s := sd / m // the delta-method spread of log(value)
		return m * math.Exp(-3*s), m * math.Exp(3*s)
	}
	return max(m-3*sd, 0), m + 3*sd
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// errorKey groups requests for error rates: by probe, else by class.
func errorKey(o *instrument.Observation) string {
	if o.Origin != "" {
		return o.Origin
	}
	return o.Labels.Key
}

// failedForRate: a request counts as failed for the error rate when it got
// no answer or a 5xx/429; 4xx answers are the caller's business.
func failedForRate(o *instrument.Observation) bool {
	if o.Error == instrument.ErrCanceled {
		return false
	}
	return o.StatusCode == 0 || o.StatusCode >= 500 || o.StatusCode == 429
}

// classTarget is the alert target of an error-rate key.
func classTarget(l classify.Labels, probe string) alerts.Target {
	return alerts.Target{Verb: l.Verb, Resource: l.Resource, Probe: probe}
}
