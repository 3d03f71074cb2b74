// Package dashboards generates kubepulse's Grafana dashboards and Prometheus
// rules from Go, so that they stay typed and agree with the metric names the
// agent exports.
//
// Metrics lists every metric a panel or rule reads. The dashboards (Overview,
// Node, Client vs server) are built with the Grafana Foundation SDK; the
// rules (recording rules and the five kubepulse alerts) with plain structs.
// Files renders everything; the committed copies under dashboards/ and in the
// Helm chart must equal it (go test ./dashboards -run TestGenerated -update
// rewrites them).
package dashboards
