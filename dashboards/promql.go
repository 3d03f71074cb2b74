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
// Label sets without observations in the window (NaN) are left out.
func quantile(q float64, metric string, by []string, window string, matchers ...string) string {
	native := fmt.Sprintf("histogram_quantile(%g, sum by (%s) (rate(%s[%s])))",
		q, labelList(by), sel(metric, matchers...), window)
	classic := fmt.Sprintf("histogram_quantile(%g, sum by (%s) (rate(%s[%s])))",
		q, labelList(append(append([]string(nil), by...), "le")), sel(metric+"_bucket", matchers...), window)
	return "(" + native + notNaN + " or " + classic + notNaN + ")"
}

// notNaN keeps a sample only if it is a number: a quantile or mean of no
// observations is NaN, and NaN would poison medians, ratios and legends.
const notNaN = " >= 0"

// mean is a histogram's mean observation over the window, by labels: sum of
// observed values divided by their count, native or classic.
func mean(metric string, by []string, window string, matchers ...string) string {
	s, b := sel(metric, matchers...), labelList(by)
	native := fmt.Sprintf("sum by (%s) (histogram_sum(rate(%s[%s]))) / sum by (%s) (histogram_count(rate(%s[%s])))",
		b, s, window, b, s, window)
	classic := fmt.Sprintf("%s / %s", sumRate(metric+"_sum", by, window, matchers...), sumRate(metric+"_count", by, window, matchers...))
	return "(" + native + notNaN + " or " + classic + notNaN + ")"
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
// "deployments.apps", "pods/status" or "deployments.apps/scale", and for
// requests that are not about objects (the API server puts their path in
// subresource, with no resource or scope) the names agent/instrument/classify
// gives them ("readyz", "version", "discovery", ...) and scope "cluster". The
// result can then be matched on (verb, resource, scope) with kubepulse series.
func inKubepulseTerms(v string) string {
	// resource.group, then drop the "." a core-group resource is left with.
	v = fmt.Sprintf(`label_replace(label_join(%s, "resource", ".", "resource", "group"), "resource", "$1", "resource", "(.*)\\.")`, v)
	// resource/subresource, then drop the "/" when there is no subresource.
	v = fmt.Sprintf(`label_replace(label_join(%s, "resource", "/", "resource", "subresource"), "resource", "$1", "resource", "(.*)/")`, v)
	// Non-resource requests are left with "//readyz", "/api/v1", ...: keep
	// the first path segment, and call the API roots discovery.
	v = fmt.Sprintf(`label_replace(label_replace(%s, "resource", "$1", "resource", "/+([^/]+).*"), "resource", "discovery", "resource", "apis?")`, v)
	v = fmt.Sprintf(`label_replace(%s, "scope", "cluster", "scope", "")`, v)
	for _, m := range apiServerVerbs {
		v = fmt.Sprintf(`label_replace(%s, "verb", %q, "verb", %q)`, v, m[1], m[0])
	}
	return v
}

// serverQuantile is the q-quantile of the API server's own SLI latency, by
// labels in kubepulse's terms (by may hold verb, resource and scope, and the
// scrape label cluster). Like quantile, it reads the native histogram (which
// kube-apiserver exposes alongside the classic one) or the _bucket series.
func serverQuantile(q float64, by []string, window string, matchers ...string) string {
	raw := []string{"verb", "group", "resource", "subresource", "scope"}
	for _, l := range by {
		if l == "cluster" {
			raw = append([]string{"cluster"}, raw...)
		}
	}
	withLE := func(ls []string) []string { return append(append([]string(nil), ls...), "le") }
	native := fmt.Sprintf("histogram_quantile(%g, sum by (%s) (%s))", q, labelList(by),
		inKubepulseTerms(fmt.Sprintf("sum by (%s) (rate(%s[%s]))", labelList(raw), sel(APIServerSLIDuration, matchers...), window)))
	classic := fmt.Sprintf("histogram_quantile(%g, sum by (%s) (%s))", q, labelList(withLE(by)),
		inKubepulseTerms(fmt.Sprintf("sum by (%s) (rate(%s[%s]))", labelList(withLE(raw)), sel(APIServerSLIDuration+"_bucket", matchers...), window)))
	return "(" + native + notNaN + " or " + classic + notNaN + ")"
}
