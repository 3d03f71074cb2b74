package alertmanager

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// entry is what the Client knows of one alert.
type entry struct {
	labels       map[string]string // with external labels; never modified once set
	annotations  map[string]string // replaced, never modified, when the caller updates it
	generatorURL string
	startsAt     time.Time
	resolvedAt   time.Time // zero while firing
	nextSend     time.Time // when the alert is due to be (re-)sent
}

// store holds the alerts being sent and decides when each is due: the resend
// schedule. It never blocks for long: callers are the detector and the
// scheduler.
type store struct {
	external     map[string]string
	generatorURL string
	runbookBase  string
	resend       time.Duration
	window       time.Duration

	mu      sync.Mutex
	entries map[string]*entry // by key (the labels)
}

func newStore(o Options) *store {
	return &store{
		external:     maps.Clone(o.ExternalLabels),
		generatorURL: o.GeneratorURL,
		runbookBase:  o.RunbookBaseURL,
		resend:       o.ResendInterval,
		window:       o.ResolvedResendWindow,
		entries:      map[string]*entry{},
	}
}

// labelNames returns, sorted, the names of the labels a carries once external
// labels are added: a's own labels with a value (an empty value removes a
// label, as in Alertmanager, external ones included) and the external labels
// a does not set. names is scratch space, so that no allocation is needed.
func (s *store) labelNames(a *Alert, names []string) []string {
	for k, v := range a.Labels {
		if v != "" {
			names = append(names, k)
		}
	}
	for k := range s.external {
		if _, own := a.Labels[k]; !own {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}

// labelValue is the value of a label name returned by labelNames.
func (s *store) labelValue(a *Alert, name string) string {
	if v, own := a.Labels[name]; own {
		return v
	}
	return s.external[name]
}

// appendKey appends the identity of a (its final labels) to b.
func (s *store) appendKey(b []byte, a *Alert, names []string) []byte {
	for _, k := range names {
		b = append(b, k...)
		b = append(b, 0xff)
		b = append(b, s.labelValue(a, k)...)
		b = append(b, 0xff)
	}
	return b
}

// labelsOf builds the final label set of a new entry.
func (s *store) labelsOf(a *Alert, names []string) map[string]string {
	l := make(map[string]string, len(names))
	for _, k := range names {
		l[k] = s.labelValue(a, k)
	}
	return l
}

// annotationsOf returns a's annotations with runbook_url added for kubepulse's
// own alert names; prev when they are the same, so that re-firing an alert
// with unchanged numbers costs no copy.
func (s *store) annotationsOf(a *Alert, prev map[string]string) map[string]string {
	name := a.Labels[LabelAlertName]
	_, hasRunbook := a.Annotations[AnnotationRunbookURL]
	addRunbook := !hasRunbook && slices.Contains(Names(), name)
	if prev != nil && sameAnnotations(a.Annotations, prev, addRunbook) {
		return prev
	}
	ann := make(map[string]string, len(a.Annotations)+1)
	for k, v := range a.Annotations {
		ann[k] = v
	}
	if addRunbook {
		ann[AnnotationRunbookURL] = RunbookURL(s.runbookBase, name)
	}
	return ann
}

// sameAnnotations reports whether prev equals given (plus runbook_url, which
// only the Client adds and never changes).
func sameAnnotations(given, prev map[string]string, addRunbook bool) bool {
	n := len(given)
	if addRunbook {
		n++
	}
	if n != len(prev) {
		return false
	}
	for k, v := range given {
		if pv, ok := prev[k]; !ok || pv != v {
			return false
		}
	}
	return true
}

func (s *store) generatorURLOf(a *Alert) string {
	if a.GeneratorURL != "" {
		return a.GeneratorURL
	}
	return s.generatorURL
}

// firing records that a is firing; it reports whether a must be sent now (it
// is new, or fires again after it resolved). For an alert already firing it
// allocates nothing unless its annotations changed.
func (s *store) firing(a *Alert, now time.Time) (sendNow bool) {
	var scratch [16]string
	var kb [256]byte
	names := s.labelNames(a, scratch[:0])
	key := s.appendKey(kb[:0], a, names)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[string(key)] // no allocation for the lookup
	if e != nil && e.resolvedAt.IsZero() {
		// Still firing: the new numbers travel with the next resend.
		e.annotations, e.generatorURL = s.annotationsOf(a, e.annotations), s.generatorURLOf(a)
		return false
	}
	start := a.StartsAt
	if start.IsZero() {
		start = now
	}
	s.entries[string(key)] = &entry{labels: s.labelsOf(a, names), annotations: s.annotationsOf(a, nil),
		generatorURL: s.generatorURLOf(a), startsAt: start, nextSend: now}
	return true
}

// resolved records that a resolved at "at"; it reports whether a must be sent
// now. An alert never seen firing is still sent resolved (the agent may have
// restarted since it fired), unless it resolved longer ago than the window.
func (s *store) resolved(a *Alert, at, now time.Time) (sendNow bool) {
	var scratch [16]string
	var kb [256]byte
	names := s.labelNames(a, scratch[:0])
	key := s.appendKey(kb[:0], a, names)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[string(key)]
	switch {
	case e != nil && !e.resolvedAt.IsZero():
		return false // already resolved: keep the first resolution time
	case e == nil:
		if now.Sub(at) > s.window {
			return false
		}
		start := a.StartsAt
		if start.IsZero() || start.After(at) {
			start = at
		}
		e = &entry{labels: s.labelsOf(a, names), startsAt: start}
		s.entries[string(key)] = e
	}
	if at.Before(e.startsAt) {
		at = e.startsAt // Alertmanager rejects endsAt before startsAt
	}
	e.annotations, e.generatorURL = s.annotationsOf(a, e.annotations), s.generatorURLOf(a)
	e.resolvedAt, e.nextSend = at, now
	return true
}

// due returns the alerts to send at now, schedules their next send, and
// forgets resolved alerts whose window has passed.
func (s *store) due(now time.Time) []item {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []item
	for key, e := range s.entries {
		if !e.resolvedAt.IsZero() && now.Sub(e.resolvedAt) > s.window {
			delete(s.entries, key)
			continue
		}
		if e.nextSend.After(now) {
			continue
		}
		out = append(out, s.encode(key, e, now))
		e.nextSend = now.Add(s.resend)
	}
	slices.SortFunc(out, func(a, b item) int { return strings.Compare(a.key, b.key) })
	return out
}

// all returns every alert still to be told to a replica (for one that just
// appeared), without changing the schedule.
func (s *store) all(now time.Time) []item {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]item, 0, len(s.entries))
	for key, e := range s.entries {
		if !e.resolvedAt.IsZero() && now.Sub(e.resolvedAt) > s.window {
			continue
		}
		out = append(out, s.encode(key, e, now))
	}
	slices.SortFunc(out, func(a, b item) int { return strings.Compare(a.key, b.key) })
	return out
}

// next returns when the next alert is due; ok is false when none is known.
func (s *store) next() (at time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if !ok || e.nextSend.Before(at) {
			at, ok = e.nextSend, true
		}
	}
	return at, ok
}

// postableAlert is the JSON of Alertmanager API v2's postableAlert.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// timeFormat is RFC 3339 with milliseconds, as Prometheus sends it.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

// encode is the alert as sent at now: a firing alert ends 4 resend intervals
// from now unless re-sent (so Alertmanager resolves it if kubepulse stops); a
// resolved one ends when it resolved.
func (s *store) encode(key string, e *entry, now time.Time) item {
	end := e.resolvedAt
	if end.IsZero() {
		end = now.Add(4 * s.resend)
	}
	b, _ := json.Marshal(postableAlert{ // strings and string maps always encode
		Labels:       e.labels,
		Annotations:  e.annotations,
		StartsAt:     e.startsAt.UTC().Format(timeFormat),
		EndsAt:       end.UTC().Format(timeFormat),
		GeneratorURL: e.generatorURL,
	})
	return item{key: key, body: b}
}
