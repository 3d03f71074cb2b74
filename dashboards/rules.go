package dashboards

import (
	"fmt"
	"strings"

	"bytes"

	"go.yaml.in/yaml/v3"
)

// RuleFile is a Prometheus rule file; it is also the spec of a
// prometheus-operator PrometheusRule.
type RuleFile struct {
	Groups []RuleGroup `json:"groups" yaml:"groups"`
}

// RuleGroup is a named group of rules evaluated together, in order.
type RuleGroup struct {
	Name  string `json:"name" yaml:"name"`
	Rules []Rule `json:"rules" yaml:"rules"`
}

// Rule is a recording rule (Record set) or an alerting rule (Alert set).
type Rule struct {
	Record      string            `json:"record,omitempty" yaml:"record,omitempty"`
	Alert       string            `json:"alert,omitempty" yaml:"alert,omitempty"`
	Expr        string            `json:"expr" yaml:"expr"`
	For         string            `json:"for,omitempty" yaml:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty" yaml:"annotations,omitempty"`
}

// Alert names: the same as the agent's own alerts (exporters/alertmanager),
// so that routes, inhibitions and silences cover both.
const (
	AlertLatencyDrift    = "KubeAPILatencyDrift"
	AlertLatencySLO      = "KubeAPILatencySLOBreach"
	AlertClientThrottled = "KubeAPIClientThrottled"
	AlertErrorRateDrift  = "KubeAPIErrorRateDrift"
	AlertUnreachable     = "KubeAPIUnreachable"
)

// Severities: critical when calls fail or break an SLO, warning when they
// merely drift or wait in the client — as the agent's alerts.
var Severity = map[string]string{
	AlertLatencyDrift:    "warning",
	AlertLatencySLO:      "critical",
	AlertClientThrottled: "warning",
	AlertErrorRateDrift:  "warning",
	AlertUnreachable:     "critical",
}

// RunbookBase is where runbook_url annotations point; the anchor is the
// lower-cased alert name.
const RunbookBase = "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md"

// Thresholds of the Prometheus-side alerts. The agent's own alerts learn
// their baselines; these rules use the baselines it exports where one
// exists, and fixed limits otherwise.
const (
	DriftRatio          = 2    // p99 at least this many times the learned p99 ...
	DriftScore          = 0.5  // ... and the anomaly score at least this high (0.5: the agent's own threshold, z = detector.enterZ)
	ThrottleMeanSeconds = 0.05 // mean client-side rate limiter wait (client-go logs waits above 50 ms)
	ErrorRatio          = 0.05 // error ratio at least this ...
	ErrorRatioDrift     = 2    // ... and this many times its 1-day average
	UnreachableFailures = 3    // probes failed in a row
	ruleWindow          = "5m"
)

// Recorded series. Their names follow Prometheus' level:metric:operations
// convention; the level lists the labels kept (cluster is kept too where
// present).
const (
	RecNodeCallP99       = "node_verb_resource_scope:kubepulse_request_duration_seconds:p99"
	RecCallP99           = "verb_resource_scope:kubepulse_request_duration_seconds:p99"
	RecCallNodeMedianP99 = "verb_resource_scope:kubepulse_request_duration_seconds:p99_node_median"
	RecNodeCallToMedian  = "node_verb_resource_scope:kubepulse_request_duration_seconds:p99_to_node_median"
	RecNodeToMedianMax   = "node:kubepulse_request_duration_seconds:p99_to_node_median_max"
	RecNodeCallToSLO     = "node_verb_resource_scope:kubepulse_request_duration_seconds:p99_to_slo"
	RecNodePhaseP99      = "node_verb_resource_phase:kubepulse_request_phase_seconds:p99"
	RecNodeErrorRatio    = "node_verb_resource:kubepulse_request_errors:ratio_rate5m"
	RecNodeThrottleMean  = "node:kubepulse_client_ratelimiter_wait_seconds:mean5m"
	RecServerCallP99     = "verb_resource_scope:apiserver_request_sli_duration_seconds:p99"
	RecCallGapP99        = "verb_resource_scope:kubepulse_request_duration_seconds:p99_minus_apiserver"
)

// Label sets of the rules; cluster is kept so that one Prometheus can serve
// several clusters (it is simply absent where Prometheus adds none).
var (
	ruleNodeCall  = []string{"cluster", "node", "verb", "resource", "scope"}
	ruleCall      = []string{"cluster", "verb", "resource", "scope"}
	ruleNodePhase = []string{"cluster", "node", "verb", "resource", "phase"}
	ruleNodeVR    = []string{"cluster", "node", "verb", "resource"}
	ruleNode      = []string{"cluster", "node"}
)

func recordingRules() []Rule {
	rec := func(name, expr string) Rule { return Rule{Record: name, Expr: expr} }
	on := func(labels []string) string { return "on (" + labelList(labels) + ")" }
	return []Rule{
		rec(RecNodeCallP99, quantile(0.99, RequestDuration, ruleNodeCall, ruleWindow)),
		rec(RecCallP99, quantile(0.99, RequestDuration, ruleCall, ruleWindow)),
		rec(RecCallNodeMedianP99, fmt.Sprintf("quantile by (%s) (0.5, %s)", labelList(ruleCall), RecNodeCallP99)),
		rec(RecNodeCallToMedian, fmt.Sprintf("%s / %s group_left () %s", RecNodeCallP99, on(ruleCall), RecCallNodeMedianP99)),
		rec(RecNodeToMedianMax, fmt.Sprintf("max by (%s) (%s)", labelList(ruleNode), RecNodeCallToMedian)),
		rec(RecNodeCallToSLO, toSLO()),
		rec(RecNodePhaseP99, quantile(0.99, RequestPhase, ruleNodePhase, ruleWindow)),
		rec(RecNodeErrorRatio, fmt.Sprintf("%s / (%s > 0)",
			sumRate(RequestErrors, ruleNodeVR, ruleWindow), sumRate(Requests, ruleNodeVR, ruleWindow))),
		rec(RecNodeThrottleMean, mean(RateLimiterWait, ruleNode, ruleWindow)),
		rec(RecServerCallP99, serverQuantile(0.99, ruleCall, ruleWindow)),
		rec(RecCallGapP99, fmt.Sprintf("%s - %s %s", RecCallP99, on(ruleCall), RecServerCallP99)),
	}
}

// toSLO is each node's p99 per call divided by the SLO that covers the call
// (calls no SLO covers, such as watches, are left out).
func toSLO() string {
	parts := make([]string, len(SLOs))
	for i, slo := range SLOs {
		parts[i] = fmt.Sprintf("%s / %g", sel(RecNodeCallP99, slo.Matchers...), slo.Seconds)
	}
	return strings.Join(parts, " or ")
}

// sloText lists the SLOs for people: "1s for single-object reads, ...".
func sloText() string {
	parts := make([]string, len(SLOs))
	for i, slo := range SLOs {
		parts[i] = fmt.Sprintf("%gs for %s", slo.Seconds, strings.ToLower(slo.Name[:1])+slo.Name[1:])
	}
	return strings.Join(parts, ", ")
}

// tmplQuery renders a Prometheus template snippet that runs a PromQL query
// for the alert's labels and prints its first value through format (a
// template pipeline such as `humanizeDuration`). promql holds %q verbs that
// are filled, in order, with the named $labels.
func tmplQuery(promql, format string, labels ...string) string {
	args := make([]string, len(labels))
	for i, l := range labels {
		args[i] = "$labels." + l
	}
	return fmt.Sprintf(`{{ with printf %q %s | query }}{{ . | first | value | %s }}{{ end }}`,
		promql, strings.Join(args, " "), format)
}

// matchLabels renders matchers `l1=%q, l2=%q` for tmplQuery.
func matchLabels(labels []string) string {
	m := make([]string, len(labels))
	for i, l := range labels {
		m[i] = l + "=%q"
	}
	return strings.Join(m, ", ")
}

func alert(name, expr, forDur, summary, description string) Rule {
	return Rule{
		Alert:  name,
		Expr:   expr,
		For:    forDur,
		Labels: map[string]string{"severity": Severity[name]},
		Annotations: map[string]string{
			"summary":     summary,
			"description": description,
			"runbook_url": RunbookBase + "#" + strings.ToLower(name),
		},
	}
}

const (
	onNodeText = ` on node {{ $labels.node }}`
	callText   = `{{ $labels.verb }} {{ $labels.resource }}`
)

func alertingRules() []Rule {
	phase := labelList(ruleNodePhase)
	drift := alert(AlertLatencyDrift,
		fmt.Sprintf("(%s / on (%s) max by (%s) (%s) >= %d) and on (%s) (max by (%s) (%s) >= %g)",
			RecNodePhaseP99, phase, phase, sel(Baseline, `stat="p99"`), DriftRatio,
			phase, phase, AnomalyScore, DriftScore),
		"10m",
		callText+` latency in phase {{ $labels.phase }} drifted above its baseline`+onNodeText,
		"p99 "+tmplQuery(sel(RecNodePhaseP99, matchLabels(ruleNodePhase)), "humanizeDuration", ruleNodePhase...)+
			" vs baseline "+tmplQuery("max("+sel(Baseline, matchLabels(ruleNodePhase), `stat="p99"`)+")", "humanizeDuration", ruleNodePhase...)+
			` ({{ printf "%.2f" $value }}× baseline, anomaly score `+
			tmplQuery("max("+sel(AnomalyScore, matchLabels(ruleNodePhase))+")", `printf "%.2f"`, ruleNodePhase...)+")")

	rules := []Rule{drift,
		alert(AlertLatencySLO,
			fmt.Sprintf("max by (%s) (%s) > 1", labelList(ruleNodeVR), RecNodeCallToSLO), "10m",
			callText+` latency breaches its SLO`+onNodeText,
			`p99 {{ printf "%.2f" $value }}× its SLO (`+sloText()+`)`),
	}
	rules = append(rules,
		alert(AlertClientThrottled,
			fmt.Sprintf("%s > %g", RecNodeThrottleMean, ThrottleMeanSeconds), "10m",
			`client-side rate limiter delays API requests`+onNodeText,
			fmt.Sprintf(`mean wait {{ $value | humanizeDuration }} vs threshold %gms ({{ printf "%%f / %g" $value | query | first | value | printf "%%.2f" }}× threshold)`,
				ThrottleMeanSeconds*1000, ThrottleMeanSeconds)),
		alert(AlertErrorRateDrift,
			fmt.Sprintf("%s > %g and %s > %d * avg_over_time(%s[1d])",
				RecNodeErrorRatio, ErrorRatio, RecNodeErrorRatio, ErrorRatioDrift, RecNodeErrorRatio), "10m",
			callText+` error rate drifted above its baseline`+onNodeText,
			"error rate {{ $value | humanizePercentage }} vs baseline "+
				tmplQuery("avg_over_time("+sel(RecNodeErrorRatio, matchLabels(ruleNodeVR))+"[1d])", "humanizePercentage", ruleNodeVR...)+
				" (1-day average)"),
		alert(AlertUnreachable,
			fmt.Sprintf("max by (%s) (%s) >= %d", labelList(ruleNode), ProbeFailures, UnreachableFailures), "1m",
			`Kubernetes API unreachable`+onNodeText,
			`{{ $value }} probes in a row failed; the agent backs off and keeps trying`),
	)
	return rules
}

// Rules returns kubepulse's Prometheus rules: recording rules for the
// per-node p99, its ratio to the median node, phases, error ratios and the
// client vs API server gap; and the five kubepulse alerts, equivalent in
// names and labels to the ones the agent sends to Alertmanager.
//
// They are one group: Prometheus evaluates a group's rules in order, so the
// alerts read the recorded series of the same evaluation. (Groups run
// independently; an alert in another group would see them one evaluation
// late, or early, at random.)
func Rules() RuleFile {
	return RuleFile{Groups: []RuleGroup{{Name: "kubepulse", Rules: append(recordingRules(), alertingRules()...)}}}
}

// YAML renders the rule file as Prometheus reads it.
func (f RuleFile) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return buf.Bytes(), nil
}
