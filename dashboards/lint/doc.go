// Package lint checks kubepulse's generated dashboards and rules with
// Prometheus' own PromQL parser: every query parses, reads only metrics that
// kubepulse or the API server export (dashboards.Metrics) and only labels
// those metrics carry.
//
// It is a module of its own so that github.com/prometheus/prometheus, which
// would raise shared dependencies such as grpc and golang.org/x/net, never
// enters the go.mod of the kubepulse library that controllers import. Run it
// with `cd dashboards/lint && go test ./...` (make test-unit does).
package lint
