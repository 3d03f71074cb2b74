// Package alerts keeps the agent's alert state: which alerts fire, since
// when and with which numbers. Baseline events and the agent's own rules
// (unreachable, throttled, error rate, SLO) come in; every change goes out
// to Alertmanager, the log, the console (demo) and the status page.
// Only firing and resolved alerts are ever sent: pending and learning keys
// stay inside the agent.
package alerts

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kubepulse/kubepulse/agent/status"
	"github.com/kubepulse/kubepulse/exporters/alertmanager"
)

// Sink receives alert changes; *alertmanager.Client is one. Calls must not
// block.
type Sink interface {
	Firing(alertmanager.Alert) error
	Resolved(alertmanager.Alert, time.Time) error
}

// Target says what an alert is about: the call, the phase, and the probe
// that measured it (a label beyond the standard set, so that a cache read and
// a quorum read of the same resource are different alerts).
type Target struct {
	Verb     string
	Resource string
	Phase    string
	Probe    string
}

// Change is one alert starting or ending.
type Change struct {
	Name    string
	Target  Target
	Firing  bool
	At      time.Time
	Numbers alertmanager.Numbers
	// P99 is the window's 99th percentile, shown on the status page (0: none).
	P99 float64
	// Detail is extra text for the description (e.g. the error classes seen).
	Detail string
}

// Options configure a Manager.
type Options struct {
	Node    string
	Sink    Sink      // nil: alerts are kept and shown, not sent
	Console io.Writer // nil: no console lines (the demo prints them)
	Logger  *slog.Logger
	// KeepResolved is how long resolved alerts stay on the status page
	// (default 1h); at most MaxResolved of them (default 100).
	KeepResolved time.Duration
	MaxResolved  int
	// RunbookBaseURL is passed through to runbook_url annotations.
	RunbookBaseURL string
}

// Manager holds the alert state. Safe for concurrent use.
type Manager struct {
	o        Options
	mu       sync.Mutex
	active   map[string]*entry // by fingerprint
	resolved []*entry          // newest last
}

type entry struct {
	change   Change
	alert    alertmanager.Alert
	since    time.Time
	resolved time.Time
}

// New returns a Manager.
func New(o Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.KeepResolved == 0 {
		o.KeepResolved = time.Hour
	}
	if o.MaxResolved == 0 {
		o.MaxResolved = 100
	}
	return &Manager{o: o, active: map[string]*entry{}}
}

func fingerprint(name string, t Target) string {
	return strings.Join([]string{name, t.Verb, t.Resource, t.Phase, t.Probe}, "\x00")
}

// Apply records a change. A firing alert that is already firing refreshes
// its numbers (and is re-sent with them); a resolve of an alert that is not
// firing is ignored.
func (m *Manager) Apply(c Change) {
	fp := fingerprint(c.Name, c.Target)
	m.mu.Lock()
	e, firing := m.active[fp]
	switch {
	case c.Firing && firing:
		e.change = c
		e.alert = m.build(c, e.since)
	case c.Firing:
		e = &entry{change: c, since: c.At}
		e.alert = m.build(c, c.At)
		m.active[fp] = e
	case firing:
		delete(m.active, fp)
		e.change.Numbers, e.change.P99 = c.Numbers, c.P99
		e.resolved = c.At
		e.alert = m.build(e.change, e.since)
		m.resolved = append(m.resolved, e)
		if len(m.resolved) > m.o.MaxResolved {
			m.resolved = slices.Delete(m.resolved, 0, len(m.resolved)-m.o.MaxResolved)
		}
	default:
		m.mu.Unlock()
		return
	}
	newFiring := c.Firing && !firing
	alert := e.alert
	m.mu.Unlock()

	if m.o.Sink != nil {
		var err error
		if c.Firing {
			err = m.o.Sink.Firing(alert)
		} else {
			err = m.o.Sink.Resolved(alert, c.At)
		}
		if err != nil {
			m.o.Logger.Error("alert not sent", "alertname", c.Name, "err", err)
		}
	}
	if newFiring || !c.Firing {
		state := "resolved"
		if c.Firing {
			state = "firing"
		}
		desc := alert.Annotations[alertmanager.AnnotationDescription]
		m.o.Logger.Info("alert "+state, "alertname", c.Name, "verb", c.Target.Verb, "resource", c.Target.Resource,
			"phase", c.Target.Phase, "probe", c.Target.Probe, "description", desc)
		if m.o.Console != nil {
			fmt.Fprintf(m.o.Console, "%s  %-8s %s  %s\n          %s\n", c.At.Format("15:04:05"), strings.ToUpper(state),
				c.Name, alert.Annotations[alertmanager.AnnotationSummary], desc)
		}
	}
}

// build makes the Alertmanager alert for a change.
func (m *Manager) build(c Change, since time.Time) alertmanager.Alert {
	t := alertmanager.Target{Node: m.o.Node, Verb: c.Target.Verb, Resource: c.Target.Resource, Phase: c.Target.Phase}
	a := alertmanager.NewAlert(c.Name, t, c.Numbers, since)
	if c.Target.Probe != "" {
		a.Labels["probe"] = c.Target.Probe
	}
	if c.Detail != "" {
		a.Annotations[alertmanager.AnnotationDescription] += "; " + c.Detail
	}
	a.Annotations[alertmanager.AnnotationRunbookURL] = alertmanager.RunbookURL(m.o.RunbookBaseURL, c.Name)
	return a
}

// Firing reports whether an alert is firing.
func (m *Manager) Firing(name string, t Target) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.active[fingerprint(name, t)]
	return ok
}

// Counts returns the number of alerts by name and state (firing, resolved
// within KeepResolved) for the kubepulse_alerts metric; every name is present.
func (m *Manager) Counts(now time.Time) map[string]map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]map[string]int{}
	for _, n := range alertmanager.Names() {
		out[n] = map[string]int{"firing": 0, "resolved": 0}
	}
	for _, e := range m.active {
		out[e.change.Name]["firing"]++
	}
	for _, e := range m.resolved {
		if now.Sub(e.resolved) <= m.o.KeepResolved {
			out[e.change.Name]["resolved"]++
		}
	}
	return out
}

// Status lists firing alerts (newest first) then recently resolved ones
// (newest first), for the status page.
func (m *Manager) Status(now time.Time) []status.Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	var firing, resolved []status.Alert
	for _, e := range m.active {
		firing = append(firing, e.status())
	}
	for _, e := range m.resolved {
		if now.Sub(e.resolved) <= m.o.KeepResolved {
			resolved = append(resolved, e.status())
		}
	}
	sort.Slice(firing, func(i, j int) bool { return firing[i].Since.After(firing[j].Since) })
	sort.Slice(resolved, func(i, j int) bool { return resolved[i].Resolved.After(*resolved[j].Resolved) })
	return append(firing, resolved...)
}

func (e *entry) status() status.Alert {
	n := e.change.Numbers
	s := status.Alert{
		Name:        e.change.Name,
		State:       "firing",
		Severity:    e.alert.Labels[alertmanager.LabelSeverity],
		Labels:      maps.Clone(e.alert.Labels),
		Summary:     e.alert.Annotations[alertmanager.AnnotationSummary],
		Description: e.alert.Annotations[alertmanager.AnnotationDescription],
		Since:       e.since,
		Current:     n.Current,
		Baseline:    n.Reference,
		P99:         e.change.P99,
		Z:           n.Z,
		Ratio:       n.Ratio,
		Samples:     int64(n.Samples),
		RunbookURL:  e.alert.Annotations[alertmanager.AnnotationRunbookURL],
	}
	if s.Ratio == 0 && n.Reference != 0 {
		s.Ratio = n.Current / n.Reference
	}
	if !e.resolved.IsZero() {
		s.State = "resolved"
		r := e.resolved
		s.Resolved = &r
	}
	return s
}
