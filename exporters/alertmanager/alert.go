package alertmanager

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Alert names kubepulse raises. They are fixed: routes, inhibitions, silences,
// dashboards and docs/alerts.md refer to them.
const (
	// KubeAPILatencyDrift: a kind of call (verb, resource) got slower than its
	// learned baseline in one phase on one node.
	KubeAPILatencyDrift = "KubeAPILatencyDrift"
	// KubeAPILatencySLOBreach: a kind of call is slower than its configured SLO.
	KubeAPILatencySLOBreach = "KubeAPILatencySLOBreach"
	// KubeAPIClientThrottled: client-go's own rate limiter delays requests.
	KubeAPIClientThrottled = "KubeAPIClientThrottled"
	// KubeAPIErrorRateDrift: the share of failing calls rose above its baseline.
	KubeAPIErrorRateDrift = "KubeAPIErrorRateDrift"
	// KubeAPIUnreachable: the API server cannot be reached from a node.
	KubeAPIUnreachable = "KubeAPIUnreachable"
)

// Names returns every alert name kubepulse raises, in documentation order.
func Names() []string {
	return []string{KubeAPILatencyDrift, KubeAPILatencySLOBreach, KubeAPIClientThrottled,
		KubeAPIErrorRateDrift, KubeAPIUnreachable}
}

// Label names of kubepulse alerts (the same as the metric labels).
const (
	LabelAlertName = "alertname"
	LabelSeverity  = "severity"
	LabelNode      = "node"
	LabelVerb      = "verb"
	LabelResource  = "resource"
	LabelPhase     = "phase"
)

// Annotation names Alertmanager templates and receivers expect.
const (
	AnnotationSummary     = "summary"
	AnnotationDescription = "description"
	AnnotationRunbookURL  = "runbook_url"
)

// Severities, as the Prometheus community's alerting conventions spell them.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// DefaultRunbookBaseURL is where runbook_url annotations point unless
// Options.RunbookBaseURL says otherwise: the alert name, lower-cased, is the
// anchor of its section.
const DefaultRunbookBaseURL = "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md"

// RunbookURL is the runbook section of an alert under base (empty: the
// project's docs/alerts.md on GitHub), e.g.
// https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md#kubeapilatencydrift.
func RunbookURL(base, alertname string) string {
	if base == "" {
		base = DefaultRunbookBaseURL
	}
	return base + "#" + strings.ToLower(alertname)
}

// DefaultSeverity is the severity kubepulse gives an alert name: critical when
// calls fail or break an SLO, warning when they merely drift.
func DefaultSeverity(alertname string) string {
	switch alertname {
	case KubeAPILatencySLOBreach, KubeAPIUnreachable:
		return SeverityCritical
	default:
		return SeverityWarning
	}
}

// Alert is one alert as Alertmanager's API v2 takes it. Labels identify it:
// two alerts with the same labels (after external labels are added) are the
// same alert, whatever their annotations.
type Alert struct {
	// Labels: alertname (required), severity, node, verb, resource, phase.
	// Empty values are left out, as Alertmanager does.
	Labels map[string]string
	// Annotations: summary, description, runbook_url (filled in from the
	// alertname when missing).
	Annotations map[string]string
	// StartsAt is when the condition began; zero: when the Client first hears
	// of the alert.
	StartsAt time.Time
	// GeneratorURL links back to the agent; empty: Options.GeneratorURL.
	GeneratorURL string
}

// Target says what an alert is about. Empty fields are left out of the labels.
type Target struct {
	Node     string // the node the calls were made from
	Verb     string // get, list, watch, create, ...
	Resource string // pods, configmaps, ...
	Phase    string // dns, connect, tls, conn_wait, server, transfer; "" for the whole call
}

// NewAlert builds an alert with kubepulse's labels and annotations: the default
// severity of name, a summary saying what drifted where, and a description
// with the numbers (see Describe). Adjust the result as needed.
func NewAlert(name string, t Target, n Numbers, startsAt time.Time) Alert {
	labels := map[string]string{LabelAlertName: name, LabelSeverity: DefaultSeverity(name)}
	for k, v := range map[string]string{LabelNode: t.Node, LabelVerb: t.Verb,
		LabelResource: t.Resource, LabelPhase: t.Phase} {
		if v != "" {
			labels[k] = v
		}
	}
	return Alert{
		Labels: labels,
		Annotations: map[string]string{
			AnnotationSummary:     Summarize(name, t),
			AnnotationDescription: Describe(n),
		},
		StartsAt: startsAt,
	}
}

// Summarize is the one-line summary annotation of an alert about t.
func Summarize(name string, t Target) string {
	call := strings.TrimSpace(t.Verb + " " + t.Resource)
	if call == "" {
		call = "API"
	}
	where := ""
	if t.Node != "" {
		where = " on node " + t.Node
	}
	phase := ""
	if t.Phase != "" {
		phase = " in phase " + t.Phase
	}
	switch name {
	case KubeAPILatencyDrift:
		return fmt.Sprintf("%s latency%s drifted above its baseline%s", call, phase, where)
	case KubeAPILatencySLOBreach:
		return fmt.Sprintf("%s latency%s breaches its SLO%s", call, phase, where)
	case KubeAPIClientThrottled:
		return fmt.Sprintf("client-side rate limiter delays %s requests%s", call, where)
	case KubeAPIErrorRateDrift:
		return fmt.Sprintf("%s error rate drifted above its baseline%s", call, where)
	case KubeAPIUnreachable:
		return fmt.Sprintf("Kubernetes API unreachable%s%s", where, phase)
	default:
		return fmt.Sprintf("%s: %s%s%s", name, call, phase, where)
	}
}

// validLabelName reports whether s is a Prometheus label name
// ([a-zA-Z_][a-zA-Z0-9_]*): every Alertmanager version accepts those.
func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0 {
			continue
		}
		return false
	}
	return true
}

// validate checks what Alertmanager would reject. One invalid alert in a batch
// makes Alertmanager answer 400, so it is refused here, at the caller.
func (a *Alert) validate() error {
	if a.Labels[LabelAlertName] == "" {
		return fmt.Errorf("alert labels %v: want a non-empty %q label", a.Labels, LabelAlertName)
	}
	for k, v := range a.Labels {
		if !validLabelName(k) {
			return fmt.Errorf("alert %s: label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", a.Labels[LabelAlertName], k)
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("alert %s: label %s: value is not valid UTF-8", a.Labels[LabelAlertName], k)
		}
	}
	for k, v := range a.Annotations {
		if !validLabelName(k) {
			return fmt.Errorf("alert %s: annotation name %q: want [a-zA-Z_][a-zA-Z0-9_]*", a.Labels[LabelAlertName], k)
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("alert %s: annotation %s: value is not valid UTF-8", a.Labels[LabelAlertName], k)
		}
	}
	return nil
}
