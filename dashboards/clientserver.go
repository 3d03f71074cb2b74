package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// ClientServerUID is the Client vs server dashboard's UID.
const ClientServerUID = "kubepulse-client-vs-server"

// selectedCall is a one-element vector whose labels are the chosen verb,
// resource and scope: `and on (verb, resource, scope)` with it keeps only
// that call of a vector computed for all calls.
const selectedCall = `label_replace(label_replace(label_replace(vector(1), "verb", "$verb", "", ""), "resource", "$resource", "", ""), "scope", "$scope", "", "")`

// ClientServer puts kubepulse's client-side p99 next to the API server's own
// apiserver_request_sli_duration_seconds for the same verb, resource and
// scope. The gap is what the server does not explain: network, load
// balancer, and the client (DNS, TLS, connection pool, rate limiter).
func ClientServer() (dashboard.Dashboard, error) {
	sc := []string{inCluster, onNodes}
	call := []string{onVerb, onResource, onScope}
	server := fmt.Sprintf("(%s and on (verb, resource, scope) %s)",
		serverQuantile(0.99, callLabels, rateInterval, inCluster), selectedCall)
	client := quantile(0.99, RequestDuration, []string{"node"}, rateInterval, with(sc, call...)...)

	b := newDashboard(ClientServerUID, "kubepulse / Client vs server",
		"kubepulse's client-side p99 next to the API server's own SLI latency for the same call: the gap is network, load balancer and client.").
		WithVariable(datasourceVariable()).
		WithVariable(clusterVariable()).
		WithVariable(nodeVariable(true)).
		WithVariable(labelVariable("verb", "verb", sel(Requests, inCluster), false)).
		WithVariable(labelVariable("resource", "resource", sel(Requests, inCluster, onVerb), false)).
		WithVariable(dashboard.NewCustomVariableBuilder("scope").
			Label("scope").
			Description("resource: one object; namespace: a collection in one namespace; cluster: across the cluster.").
			Values(dashboard.StringOrMap{String: cog.ToPtr("resource,namespace,cluster")}).
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("resource")},
				Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("resource")}}))

	b = b.WithRow(row("The selected call: $verb $resource ($scope)")).
		WithPanel(graph("p99: each node (client) against the API server",
			"Solid: kubepulse's p99 per node. Thick: the API server's own SLI p99 for the same call (all API server instances).",
			"s", 24, 9,
			query{expr: client, legend: "{{node}} (client)"},
			query{expr: server, legend: "API server"}).
			OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "custom.lineWidth", Value: 3}, {Id: "custom.fillOpacity", Value: 0}})).
		WithPanel(graph("Gap: client p99 minus API server p99, per node",
			"Time the API server does not account for. Equal on all nodes: the load balancer or the network to it. One node higher: that node's network path, DNS or client.",
			"s", 12, 8,
			query{expr: client + " - on () group_left () " + server, legend: "{{node}}"})).
		WithPanel(graph("Share of the p99 outside the API server",
			"The gap as a share of the client's p99.", "percentunit", 12, 8,
			query{expr: fmt.Sprintf("(%s - on () group_left () %s) / %s", client, server, client), legend: "{{node}}"}).
			Max(1).Min(0)).
		WithPanel(stacked("Where the client's time goes",
			"Mean seconds per phase for this call (all selected nodes). The server phase is the API server's time plus one network round trip.",
			"s", 24, 8,
			query{expr: mean(RequestPhase, []string{"phase"}, rateInterval, with(sc, onVerb, onResource)...), legend: "{{phase}}"}))

	all := quantile(0.99, RequestDuration, callLabels, rateInterval, sc...)
	serverAll := serverQuantile(0.99, callLabels, rateInterval, inCluster)
	b = b.WithRow(row("Every call")).
		WithPanel(grid("p99 per call: client (selected nodes) against the API server",
			"Calls that kubepulse measured, with the API server's SLI p99 for the same verb, resource and scope, and the gap.",
			24, 12,
			map[string]string{"Value #A": "client p99", "Value #B": "API server p99", "Value #C": "gap"},
			query{expr: all},
			query{expr: fmt.Sprintf("%s and on (verb, resource, scope) %s", serverAll, all)},
			query{expr: fmt.Sprintf("%s - on (verb, resource, scope) %s", all, serverAll)}).
			Unit("s"))

	return build(b)
}
