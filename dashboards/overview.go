package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// The labels that identify a kind of call: the dimensions of the SLOs.
var callLabels = []string{"verb", "resource", "scope"}

// nodeCallLabels are callLabels per node.
var nodeCallLabels = []string{"node", "verb", "resource", "scope"}

// nodeToMedian is, per node and kind of call, the node's p99 divided by the
// median of all nodes' p99 for that call: 1 is a typical node, 3 a node
// whose calls take three times as long as most nodes'. A node far above 1
// while the others are not points at the node (its network path, DNS,
// client); all nodes high together point at the API server. extra holds
// labels kept on both sides (cluster in rules).
func nodeToMedian(window string, extra []string, matchers ...string) string {
	perNode := quantile(0.99, RequestDuration, append(append([]string(nil), extra...), nodeCallLabels...), window, matchers...)
	keys := append(append([]string(nil), extra...), callLabels...)
	return fmt.Sprintf("%s / on (%s) group_left () quantile by (%s) (0.5, %s)",
		perNode, labelList(keys), labelList(keys), perNode)
}

// OverviewUID is the Overview dashboard's UID.
const OverviewUID = "kubepulse-overview"

// Overview answers "is the API slow, for whom, and is it my node or the API
// server?": cluster p99 per kind of call against the SLOs, nodes ranked by
// how far they sit from the cluster median, and what drifts right now.
func Overview() (dashboard.Dashboard, error) {
	sc := []string{inCluster, onNodes}
	ratio := nodeToMedian(rateInterval, nil, sc...)

	b := newDashboard(OverviewUID, "kubepulse / Overview",
		"Kubernetes API latency as every node sees it: SLOs, nodes against the cluster median, drifts.").
		WithVariable(datasourceVariable()).
		WithVariable(clusterVariable()).
		WithVariable(nodeVariable(true))

	b = b.WithRow(row("Now")).
		WithPanel(single("Firing alerts", "Alerts the agents on the selected nodes hold in state firing.", "none",
			steps("green", 1.0, "red"),
			query{expr: fmt.Sprintf(`sum(%s) or vector(0)`, sel(Alerts, with(sc, `state="firing"`)...))})).
		WithPanel(single("Worst node vs cluster median", "Highest ratio of a node's p99 to the median node's p99 for the same call.", "suffix:×",
			steps("green", 1.5, "orange", 2.0, "red"),
			query{expr: "max(" + ratio + ")"})).
		WithPanel(single("Error ratio", "Failed API requests as a share of all requests from the selected nodes.", "percentunit",
			steps("green", 0.01, "orange", 0.05, "red"),
			query{expr: fmt.Sprintf("sum(rate(%s[%s])) / sum(rate(%s[%s]))",
				sel(RequestErrors, sc...), rateInterval, sel(Requests, sc...), rateInterval)})).
		WithPanel(single("Probe budget in use", "Probe requests per second of all agents of the cluster, as a share of probe.clusterQPS.", "percentunit",
			steps("green", 0.9, "orange", 1.0, "red"),
			query{expr: fmt.Sprintf("sum(rate(%s[%s])) / max(%s)", sel(Probes, inCluster), rateInterval, sel(ProbeBudget, inCluster))}))

	b = b.WithRow(row("Latency against the SLOs (p99 of all selected nodes)"))
	for _, slo := range SLOs {
		b = b.WithPanel(sloGraph(fmt.Sprintf("%s — SLO %g s", slo.Name, slo.Seconds),
			"p99 over all selected nodes per kind of call; the dashed line is the upstream API-call latency SLO.",
			slo.Seconds, 12, 8,
			query{expr: quantile(0.99, RequestDuration, callLabels, rateInterval, with(sc, slo.Matchers...)...),
				legend: "{{verb}} {{resource}} ({{scope}})"}))
	}

	b = b.WithRow(row("My node or the API server?")).
		WithPanel(ranking("Nodes ranked by distance from the cluster median",
			"For each node, its worst call: node p99 ÷ median node p99 for the same call. One node far above 1 points at that node; all nodes high together point at the API server.",
			"suffix:×", 12, 10, steps("green", 1.5, "orange", 2.0, "red"),
			query{expr: fmt.Sprintf("sort_desc(topk(20, max by (node) (%s)))", ratio), legend: "{{node}}"})).
		WithPanel(grid("Slowest node × call pairs",
			"The 20 node and call pairs furthest above the cluster median, with the node's own p99.", 12, 10,
			map[string]string{"Value #A": "× cluster median", "Value #B": "node p99"},
			query{expr: fmt.Sprintf("topk(20, %s)", ratio)},
			query{expr: fmt.Sprintf("%s and on (%s) topk(20, %s)",
				quantile(0.99, RequestDuration, nodeCallLabels, rateInterval, sc...), labelList(nodeCallLabels), ratio)})).
		WithPanel(graph("Client p99 minus API server p99, by call",
			"kubepulse's p99 (all selected nodes) minus the API server's own SLI p99 for the same call. What the server does not explain is network, load balancer and client.",
			"s", 24, 8,
			query{expr: quantile(0.99, RequestDuration, callLabels, rateInterval, sc...) + " - on (verb, resource, scope) " +
				serverQuantile(0.99, callLabels, rateInterval, inCluster),
				legend: "{{verb}} {{resource}} ({{scope}})"}))

	b = b.WithRow(row("Drift")).
		WithPanel(graph("Firing alerts by name", "Alerts in state firing, summed over the selected nodes.", "none", 12, 8,
			query{expr: fmt.Sprintf("sum by (alertname) (%s)", sel(Alerts, with(sc, `state="firing"`)...)), legend: "{{alertname}}"})).
		WithPanel(grid("Most anomalous calls now",
			"Anomaly score per node, call and phase (0 normal, 0.5 the alert threshold, towards 1 far beyond); highest first.", 12, 8,
			map[string]string{"Value": "anomaly score"},
			query{expr: fmt.Sprintf("topk(20, max by (node, verb, resource, phase) (%s))", sel(AnomalyScore, sc...))})).
		WithPanel(graph("Requests per second by status code", "API requests from the selected nodes.", "reqps", 12, 8,
			query{expr: sumRate(Requests, []string{"code"}, rateInterval, sc...), legend: "{{code}}"})).
		WithPanel(graph("Errors per second by reason", "Failed API requests from the selected nodes.", "reqps", 12, 8,
			query{expr: sumRate(RequestErrors, []string{"reason"}, rateInterval, sc...), legend: "{{reason}}"}))

	return build(b)
}

// build builds a dashboard and numbers its panels 1, 2, ... in layout order:
// Grafana wants panel IDs unique within a dashboard.
func build(b *dashboard.DashboardBuilder) (dashboard.Dashboard, error) {
	d, err := b.Build()
	if err != nil {
		return d, err
	}
	id := uint32(0)
	for _, p := range d.Panels {
		id++
		if p.Panel != nil {
			p.Panel.Id = cog.ToPtr(id)
			continue
		}
		p.RowPanel.Id = id
		for i := range p.RowPanel.Panels {
			id++
			p.RowPanel.Panels[i].Id = cog.ToPtr(id)
		}
	}
	return d, nil
}
