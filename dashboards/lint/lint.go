package lint

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/kubepulse/kubepulse/dashboards"
)

// grafanaVars replaces Grafana's template variables with values that keep a
// query valid PromQL: a range for $__rate_interval, a label value otherwise.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m",
	"${datasource}", "x",
	"$cluster", "x", "$node", "x", "$verb", "x", "$resource", "x", "$scope", "x", "$phase", "x",
)

// FromGrafana turns a dashboard query into plain PromQL.
func FromGrafana(expr string) string { return grafanaVars.Replace(expr) }

// Known are the series a query may read beyond dashboards.Metrics: recorded
// series, with the labels their rule leaves on them.
type Known map[string][]string

// Use is what one parsed query reads.
type Use struct {
	Metrics []string // series names
	Labels  []string // every label it matches, groups or joins on, or creates
	Created []string // labels label_replace/label_join create
	// Unfiltered are selectors without a matcher on UnfilteredLabel (see Check).
	Unfiltered []string
	// Available are the labels the series it reads can carry (set by Check):
	// for a recording rule, the labels of the series it records.
	Available []string
}

// Parse parses expr and lists what it reads. UnfilteredLabel names a label
// every selector should match on (e.g. "cluster"); "" skips that check.
func Parse(expr, unfilteredLabel string) (Use, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return Use{}, err
	}
	var u Use
	addLabel := func(ls ...string) {
		for _, l := range ls {
			if l != "" && !slices.Contains(u.Labels, l) {
				u.Labels = append(u.Labels, l)
			}
		}
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if !slices.Contains(u.Metrics, n.Name) {
				u.Metrics = append(u.Metrics, n.Name)
			}
			filtered := unfilteredLabel == ""
			for _, m := range n.LabelMatchers {
				if m.Name != "__name__" {
					addLabel(m.Name)
				}
				filtered = filtered || m.Name == unfilteredLabel
			}
			if !filtered {
				u.Unfiltered = append(u.Unfiltered, n.String())
			}
		case *parser.AggregateExpr:
			addLabel(n.Grouping...)
		case *parser.BinaryExpr:
			if n.VectorMatching != nil {
				addLabel(n.VectorMatching.MatchingLabels...)
				addLabel(n.VectorMatching.Include...)
			}
		case *parser.Call:
			// label_replace(v, dst, replacement, src, regex) and
			// label_join(v, dst, separator, src...): dst is created, src read.
			var dst string
			var src []string
			switch n.Func.Name {
			case "label_replace":
				dst, src = stringArg(n, 1), []string{stringArg(n, 3)}
			case "label_join":
				dst = stringArg(n, 1)
				for i := 3; i < len(n.Args); i++ {
					src = append(src, stringArg(n, i))
				}
			}
			if dst != "" {
				addLabel(dst)
				if !slices.Contains(u.Created, dst) {
					u.Created = append(u.Created, dst)
				}
			}
			addLabel(src...)
		}
		return nil
	})
	return u, nil
}

func stringArg(c *parser.Call, i int) string {
	if i < len(c.Args) {
		if s, ok := c.Args[i].(*parser.StringLiteral); ok {
			return s.Val
		}
	}
	return ""
}

// Check parses expr and fails unless every series it reads is a listed
// metric (or in known) and every label it uses is one such a series can
// carry, a scrape label, or one the query itself creates. legend may hold
// Grafana {{label}} references, checked the same way.
func Check(expr, legend, unfilteredLabel string, known Known) (Use, error) {
	u, err := Parse(expr, unfilteredLabel)
	if err != nil {
		return u, fmt.Errorf("parse %q: %w", expr, err)
	}
	if len(u.Unfiltered) > 0 {
		return u, fmt.Errorf("%q: selectors %v do not match on %s", expr, u.Unfiltered, unfilteredLabel)
	}
	allowed := append([]string{"__name__"}, dashboards.ScrapeLabels...)
	allowed = append(allowed, u.Created...)
	for _, name := range u.Metrics {
		if m, ok := dashboards.Lookup(name); ok {
			allowed = append(allowed, m.Labels...)
			continue
		}
		labels, ok := known[name]
		if !ok {
			return u, fmt.Errorf("%q reads %s: neither kubepulse nor the API server exports it (dashboards.Metrics)", expr, name)
		}
		allowed = append(allowed, labels...)
	}
	u.Available = allowed
	for _, l := range append(u.Labels, legendLabels(legend)...) {
		if !slices.Contains(allowed, l) {
			return u, fmt.Errorf("%q uses label %q, which none of %v carries", expr, l, u.Metrics)
		}
	}
	return u, nil
}

var legendRef = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

func legendLabels(legend string) []string {
	var out []string
	for _, m := range legendRef.FindAllStringSubmatch(legend, -1) {
		out = append(out, m[1])
	}
	return out
}

// labelValues matches a Grafana label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// CheckVariable checks a label_values query: its selector as a query, and
// the label it lists.
func CheckVariable(query string) error {
	m := labelValues.FindStringSubmatch(query)
	if m == nil {
		return fmt.Errorf("variable query %q: want label_values(selector, label)", query)
	}
	_, err := Check(FromGrafana(m[1]), "{{"+m[2]+"}}", "", nil)
	return err
}
