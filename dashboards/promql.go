package dashboards

import (
	"fmt"
	"strings"
)

// PromQL is built here, in one place, so that every panel and rule reads a
// histogram the same way and metric names come from the constants in
// metrics.go only.

// sel renders a series selector: metric{m1, m2}.
func sel(metric string, matchers ...string) string {
	if len(matchers) == 0 {
		return metric
	}
	return metric + "{" + strings.Join(matchers, ", ") + "}"
}

// labelList renders "a, b, c".
func labelList(labels []string) string { return strings.Join(labels, ", ") }

// sumRate is the per-second rate of a counter, summed by labels.
func sumRate(metric string, by []string, window string, matchers ...string) string {
	return fmt.Sprintf("sum by (%s) (rate(%s[%s]))", labelList(by), sel(metric, matchers...), window)
}

// quantile is the q-quantile of a histogram, aggregated by labels. It reads
// the native histogram when Prometheus ingests one and the classic _bucket
// series otherwise (a target may expose both; `or` keeps the native result).
func quantile(q float64, metric string, by []string, window string, matchers ...string) string {
	native := fmt.Sprintf("histogram_quantile(%g, sum by (%s) (rate(%s[%s])))",
		q, labelList(by), sel(metric, matchers...), window)
	classic := fmt.Sprintf("histogram_quantile(%g, sum by (%s) (rate(%s[%s])))",
		q, labelList(append(append([]string(nil), by...), "le")), sel(metric+"_bucket", matchers...), window)
	return "(" + native + " or " + classic + ")"
}

// mean is a histogram's mean observation over the window, by labels: sum of
// observed values divided by their count, native or classic.
func mean(metric string, by []string, window string, matchers ...string) string {
	s, b := sel(metric, matchers...), labelList(by)
	native := fmt.Sprintf("sum by (%s) (histogram_sum(rate(%s[%s]))) / sum by (%s) (histogram_count(rate(%s[%s])))",
		b, s, window, b, s, window)
	classic := fmt.Sprintf("%s / %s", sumRate(metric+"_sum", by, window, matchers...), sumRate(metric+"_count", by, window, matchers...))
	return "(" + native + " or " + classic + ")"
}

// countRate is a histogram's observations per second, by labels.
func countRate(metric string, by []string, window string, matchers ...string) string {
	native := fmt.Sprintf("sum by (%s) (histogram_count(rate(%s[%s])))", labelList(by), sel(metric, matchers...), window)
	return "(" + native + " or " + sumRate(metric+"_count", by, window, matchers...) + ")"
}

// sumRateOfSum is the seconds per second a histogram observes (for a wait
// time: how much of each second was spent waiting), by labels.
func sumRateOfSum(metric string, by []string, window string, matchers ...string) string {
	native := fmt.Sprintf("sum by (%s) (histogram_sum(rate(%s[%s])))", labelList(by), sel(metric, matchers...), window)
	return "(" + native + " or " + sumRate(metric+"_sum", by, window, matchers...) + ")"
}

// apiServerVerbs maps the API server's metric verbs to kubepulse's (the
// lower-case RBAC verbs agent/instrument/classify uses).
var apiServerVerbs = [][2]string{
	{"GET", "get"}, {"LIST", "list"}, {"WATCH", "watch"}, {"POST", "create"}, {"PUT", "update"},
	{"PATCH", "patch"}, {"APPLY", "apply"}, {"DELETE", "delete"}, {"DELETECOLLECTION", "deletecollection"},
	{"CONNECT", "connect"},
}

// inKubepulseTerms relabels an API server vector — which has verb, group,
// resource, subresource and scope labels — so that it carries kubepulse's
// label values: verb lower-case RBAC verbs, resource "pods",
// "deployments.apps", "pods/status" or "deployments.apps/scale". The result
// can then be matched on (verb, resource, scope) with kubepulse series.
func inKubepulseTerms(v string) string {
	// resource.group, then drop the "." a core-group resource is left with.
	v = fmt.Sprintf(`label_replace(label_join(%s, "resource", ".", "resource", "group"), "resource", "$1", "resource", "(.*)\\.")`, v)
	// resource/subresource, then drop the "/" when there is no subresource.
	v = fmt.Sprintf(`label_replace(label_join(%s, "resource", "/", "resource", "subresource"), "resource", "$1", "resource", "(.*)/")`, v)
	for _, m := range apiServerVerbs {
		v = fmt.Sprintf(`label_replace(%s, "verb", %q, "verb", %q)`, v, m[1], m[0])
	}
	return v
}

// serverQuantile is the q-quantile of the API server's own SLI latency, by
// labels in kubepulse's terms (by may hold verb, resource and scope, and the
// scrape label cluster).
func serverQuantile(q float64, by []string, window string, matchers ...string) string {
	raw := []string{"verb", "group", "resource", "subresource", "scope", "le"}
	for _, l := range by {
		if l == "cluster" {
			raw = append([]string{"cluster"}, raw...)
		}
	}
	rates := fmt.Sprintf("sum by (%s) (rate(%s[%s]))", labelList(raw), sel(APIServerSLIDuration+"_bucket", matchers...), window)
	return fmt.Sprintf("histogram_quantile(%g, sum by (%s) (%s))",
		q, labelList(append(append([]string(nil), by...), "le")), inKubepulseTerms(rates))
}
