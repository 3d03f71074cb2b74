package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// NodeUID is the Node dashboard's UID.
const NodeUID = "kubepulse-node"

// lineStyle overrides a series' line: "dash" for learned values, "dot" for
// their lower edge.
func lineStyle(fill string) []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "custom.lineStyle", Value: map[string]any{"fill": fill, "dash": []int{10, 10}}},
		{Id: "custom.fillOpacity", Value: 0},
	}
}

// Node shows one node as its agent sees the API: each call's latency against
// its learned band, where the time goes (phases), the client's own share
// (throttling, connection reuse), watch delay, findings and probes.
func Node() (dashboard.Dashboard, error) {
	sc := []string{inCluster, onNode}
	b := newDashboard(NodeUID, "kubepulse / Node",
		"One node's view of the Kubernetes API: latency against the learned band, phases, client-side throttling, connection reuse, watch delay, findings.").
		WithVariable(datasourceVariable()).
		WithVariable(clusterVariable()).
		WithVariable(nodeVariable(false)).
		WithVariable(labelVariable("verb", "verb", sel(Baseline, sc...), true)).
		WithVariable(labelVariable("resource", "resource", sel(Baseline, with(sc, `verb=~"$verb"`)...), true)).
		WithVariable(labelVariable("phase", "phase", sel(Baseline, sc...), false).
			Description("Request phase: dns, connect, tls, conn_wait, server, transfer."))

	// =~ even for the one resource of a repeated panel: Grafana regex-escapes
	// the values of multi-value variables ("leases\\.coordination\\.k8s\\.io").
	band := with(sc, `verb=~"$verb"`, `resource=~"$resource"`, onPhase)
	b = b.WithRow(row("Latency against the learned band")).
		WithPanel(graph("Anomaly score", "Standard deviations above the learned baseline, per call and phase.", "none", 24, 8,
			query{expr: fmt.Sprintf("max by (verb, resource, phase) (%s)", sel(AnomalyScore, with(sc, `verb=~"$verb"`, `resource=~"$resource"`)...)),
				legend: "{{verb}} {{resource}} {{phase}}"}).
			Thresholds(steps("green", 3.0, "orange", 5.0, "red"))).
		WithPanel(graph("$resource — phase $phase",
			"p99 of the last minutes (solid) against the baseline the agent learned: its p99 (dashed) and p50 (dotted). Drift alerts fire when the solid line leaves the band for long enough.",
			"s", 8, 8,
			query{expr: quantile(0.99, RequestPhase, []string{"verb"}, rateInterval, band...), legend: "{{verb}} p99 now"},
			query{expr: fmt.Sprintf("max by (verb) (%s)", sel(Baseline, with(band, `stat="p99"`)...)), legend: "{{verb}} learned p99"},
			query{expr: fmt.Sprintf("max by (verb) (%s)", sel(Baseline, with(band, `stat="p50"`)...)), legend: "{{verb}} learned p50"}).
			OverrideByQuery("B", lineStyle("dash")).
			OverrideByQuery("C", lineStyle("dot")).
			Repeat("resource").
			RepeatDirection(dashboard.PanelRepeatDirectionH).
			MaxPerRow(3))

	b = b.WithRow(row("Where the time goes")).
		WithPanel(stacked("Mean time per phase", "Mean seconds each request spends per phase, all calls of this node stacked.", "s", 12, 8,
			query{expr: mean(RequestPhase, []string{"phase"}, rateInterval, sc...), legend: "{{phase}}"})).
		WithPanel(graph("p99 per phase", "p99 of each phase over all calls of this node.", "s", 12, 8,
			query{expr: quantile(0.99, RequestPhase, []string{"phase"}, rateInterval, sc...), legend: "{{phase}}"})).
		WithPanel(graph("p99 per call", "Whole-request p99 per kind of call from this node.", "s", 24, 8,
			query{expr: quantile(0.99, RequestDuration, callLabels, rateInterval, sc...), legend: "{{verb}} {{resource}} ({{scope}})"}))

	b = b.WithRow(row("Client side")).
		WithPanel(graph("Client-side throttling",
			"Time requests wait in client-go's own QPS/Burst limiter before they are sent. Anything above a few milliseconds: raise QPS/Burst or use informers.",
			"s", 8, 8,
			query{expr: quantile(0.99, RateLimiterWait, nil, rateInterval, sc...), legend: "p99 wait"},
			query{expr: mean(RateLimiterWait, nil, rateInterval, sc...), legend: "mean wait"})).
		WithPanel(graph("Connection reuse",
			"Share of requests sent on a pooled connection. Low reuse means new TCP and TLS handshakes per request: a transport that is not pooled (MaxIdleConnsPerHost).",
			"percentunit", 8, 8,
			query{expr: fmt.Sprintf("sum(rate(%s[%s])) / sum(rate(%s[%s]))",
				sel(Connections, with(sc, `reused="true"`)...), rateInterval, sel(Connections, sc...), rateInterval), legend: "reused"})).
		WithPanel(graph("Errors per second", "Failed requests by call and reason.", "reqps", 8, 8,
			query{expr: sumRate(RequestErrors, []string{"verb", "resource", "reason"}, rateInterval, sc...), legend: "{{verb}} {{resource}}: {{reason}}"}))

	b = b.WithRow(row("Watch")).
		WithPanel(graph("Watch delivery delay",
			"Time from the kubelet renewing this node's Lease to the agent's watch receiving the event (same node, same clock).",
			"s", 12, 8,
			query{expr: quantile(0.5, WatchDelay, nil, rateInterval, sc...), legend: "p50"},
			query{expr: quantile(0.99, WatchDelay, nil, rateInterval, sc...), legend: "p99"})).
		WithPanel(graph("Watch restarts and relists", "Per second; a watch that restarts or relists often hides events and loads the API server.", "ops", 12, 8,
			query{expr: fmt.Sprintf("sum(rate(%s[%s]))", sel(WatchRestarts, sc...), rateInterval), legend: "restarts"},
			query{expr: fmt.Sprintf("sum(rate(%s[%s]))", sel(WatchRelists, sc...), rateInterval), legend: "relists"}))

	b = b.WithRow(row("Findings, alerts and probes")).
		WithPanel(grid("Findings", "Advice the agent derived from what it measured; the status page and log say why, with the numbers.", 8, 8,
			map[string]string{"Value": "active"},
			query{expr: fmt.Sprintf("max by (finding) (%s) > 0", sel(Findings, sc...))})).
		WithPanel(grid("Alerts", "Alerts this agent holds, by state.", 8, 8,
			map[string]string{"Value": "count"},
			query{expr: fmt.Sprintf("sum by (alertname, state) (%s) > 0", sel(Alerts, sc...))})).
		WithPanel(graph("Probes per second", "Synthetic probes this agent sent, by kind and result.", "reqps", 8, 8,
			query{expr: sumRate(Probes, []string{"probe", "result"}, rateInterval, sc...), legend: "{{probe}} {{result}}"})).
		WithPanel(single("Probe interval", "Time for one probe cycle, stretched so that all agents together stay within probe.clusterQPS.", "s",
			steps("green"), query{expr: fmt.Sprintf("max(%s)", sel(ProbeInterval, sc...))})).
		WithPanel(single("Probe failures in a row", "Failed probes since the last success; KubeAPIUnreachable fires at 3.", "none",
			steps("green", 1.0, "orange", 3.0, "red"), query{expr: fmt.Sprintf("max(%s)", sel(ProbeFailures, sc...))})).
		WithPanel(single("Nodes in the probe budget", "Node count this agent divides the cluster-wide probe budget by.", "none",
			steps("green"), query{expr: fmt.Sprintf("max(%s)", sel(ProbeClusterNodes, sc...))})).
		WithPanel(single("Requests per second", "All API requests of this agent (probes, the Lease watch, its own client).", "reqps",
			steps("green"), query{expr: fmt.Sprintf("sum(rate(%s[%s]))", sel(Requests, sc...), rateInterval)}))

	return build(b)
}
