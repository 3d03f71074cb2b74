//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/dashboards"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// Helpers for the end-to-end check that every dashboard query and rule
// returns data from a real Prometheus scraping a running agent and the real
// API server. With the agent running, that test is:
//
//	cfg := writePromConfig(t, t.TempDir(), promTargets{Agents: map[string]string{node: addr}, ...})
//	prom := framework.Start(t, "prometheus", "--config", cfg)
//	requireData(t, prom["PROMETHEUS_URL"], dashboardQueries(t, map[string]string{"node": node, ...}, "1m"), time.Minute)
//	requireData(t, prom["PROMETHEUS_URL"], ruleSeries(), time.Minute)

// promQuery is one PromQL query and where it comes from.
type promQuery struct{ where, expr string }

// grafanaVar matches $name and ${name} (not $1, a regex group in label_replace).
var grafanaVar = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?`)

// dashboardQueries returns every panel query of the generated dashboards
// with Grafana's variables replaced: $__rate_interval by rateWindow, the
// others by vars (cluster, node, verb, resource, scope, phase; "" is a
// valid value). Variable queries (label_values) are left out.
func dashboardQueries(t testing.TB, vars map[string]string, rateWindow string) []promQuery {
	t.Helper()
	all, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	var out []promQuery
	for _, q := range all {
		if strings.HasPrefix(q.Panel, "variable ") {
			continue
		}
		expr := grafanaVar.ReplaceAllStringFunc(q.Expr, func(m string) string {
			name := grafanaVar.FindStringSubmatch(m)[1]
			if name == "__rate_interval" {
				return rateWindow
			}
			v, ok := vars[name]
			if !ok {
				t.Fatalf("%s %q: no value for $%s", q.Dashboard, q.Panel, name)
			}
			return v
		})
		out = append(out, promQuery{where: fmt.Sprintf("%s: %s (%s)", q.Dashboard, q.Panel, q.RefID), expr: expr})
	}
	return out
}

// ruleSeries returns the series every recording rule records: data there
// shows that the rules' inputs exist and join. (Alerts need their
// conditions; promtool unit tests fire and resolve each.)
func ruleSeries() []promQuery {
	var out []promQuery
	for _, g := range dashboards.Rules().Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out = append(out, promQuery{where: "recording rule " + r.Record, expr: r.Record})
			}
		}
	}
	return out
}

// requireData polls Prometheus until every query has returned at least one
// sample, or fails listing those that never did with their last error.
func requireData(t testing.TB, promURL string, qs []promQuery, timeout time.Duration) {
	t.Helper()
	pending := append([]promQuery(nil), qs...)
	last := map[string]string{}
	framework.Eventually(t, timeout, func() (bool, string) {
		still := pending[:0]
		for _, q := range pending {
			r, err := framework.PromQuery(promURL, q.expr)
			switch {
			case err != nil:
				last[q.where] = err.Error()
			case len(r) == 0:
				last[q.where] = "no data"
			default:
				continue
			}
			still = append(still, q)
		}
		pending = still
		var b strings.Builder
		for _, q := range pending {
			fmt.Fprintf(&b, "\n  %s: %s\n    %s", q.where, last[q.where], q.expr)
		}
		return len(pending) == 0, fmt.Sprintf("%d of %d queries without data:%s", len(pending), len(qs), b.String())
	})
}

// promTargets are what a test Prometheus scrapes, as the chart's
// ServiceMonitor and a kube-prometheus API server job would.
type promTargets struct {
	// Agents maps a node name to its agent's host:port; the node label is
	// set from it, as the ServiceMonitor's relabeling sets it from
	// __meta_kubernetes_pod_node_name.
	Agents map[string]string
	// APIServer is the API server's host:port, scraped over TLS with CAFile
	// and a bearer Token that may GET /metrics; empty leaves it out.
	APIServer, CAFile, Token string
	// Rules are rule files to load (absolute paths).
	Rules []string
	// Interval is the scrape and evaluation interval (default 1s).
	Interval string
}

// writePromConfig writes a Prometheus configuration for t into dir and
// returns its path (for start-prometheus.sh --config).
func writePromConfig(t testing.TB, dir string, p promTargets) string {
	t.Helper()
	if p.Interval == "" {
		p.Interval = "1s"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n  scrape_native_histograms: true\n",
		p.Interval, p.Interval, p.Interval)
	b.WriteString("rule_files:\n")
	if len(p.Rules) == 0 {
		b.WriteString("  []\n")
	}
	for _, r := range p.Rules {
		fmt.Fprintf(&b, "  - %q\n", r)
	}
	b.WriteString("scrape_configs:\n")
	if len(p.Agents) > 0 {
		// The chart's ServiceMonitor sets scrapeClassicHistograms: the
		// dashboards and rules read native or classic buckets.
		b.WriteString("  - job_name: kubepulse\n    always_scrape_classic_histograms: true\n    static_configs:\n")
		for node, addr := range p.Agents {
			fmt.Fprintf(&b, "      - targets: [%q]\n        labels: {node: %q}\n", addr, node)
		}
	}
	if p.APIServer != "" {
		fmt.Fprintf(&b, "  - job_name: apiserver\n    scheme: https\n    tls_config: {ca_file: %q}\n    authorization: {credentials: %q}\n    static_configs:\n      - targets: [%q]\n",
			p.CAFile, p.Token, p.APIServer)
	}
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
