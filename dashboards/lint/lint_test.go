package lint

import (
	"slices"
	"strings"
	"testing"

	"github.com/kubepulse/kubepulse/dashboards"
)

// Every dashboard query parses as PromQL, reads only exported metrics and
// their labels, and selects on the cluster variable (multi-cluster aware).
func TestDashboardQueries(t *testing.T) {
	queries, err := dashboards.Queries()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	n := 0
	for _, q := range queries {
		where := q.Dashboard + ": " + q.Panel + " " + q.RefID
		if strings.HasPrefix(q.Panel, "variable ") {
			if err := CheckVariable(q.Expr); err != nil {
				t.Errorf("%s: %v", where, err)
			}
			continue
		}
		n++
		u, err := Check(FromGrafana(q.Expr), q.Legend, "cluster", nil)
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		for _, m := range u.Metrics {
			used[m] = true
		}
	}
	if n < 40 {
		t.Errorf("only %d panel queries", n)
	}
	rules, err := ruleUses()
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rules {
		for _, m := range u.Metrics {
			used[m] = true
		}
	}
	// No stale entries: every listed metric is read somewhere.
	for _, m := range dashboards.Metrics {
		if !used[m.Name] && !used[m.Name+"_bucket"] && !used[m.Name+"_count"] && !used[m.Name+"_sum"] {
			t.Errorf("%s is listed in dashboards.Metrics but no dashboard or rule reads it", m.Name)
		}
	}
}

// ruleUses checks every rule expression, in file order: a rule may read the
// series that earlier recording rules record.
func ruleUses() ([]Use, error) {
	known := Known{}
	var uses []Use
	for _, g := range dashboards.Rules().Groups {
		for _, r := range g.Rules {
			u, err := Check(r.Expr, "", "", known)
			if err != nil {
				return nil, err
			}
			uses = append(uses, u)
			if r.Record != "" {
				known[r.Record] = u.Available
			}
		}
	}
	return uses, nil
}

func TestRuleExpressions(t *testing.T) {
	uses, err := ruleUses()
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) < 15 {
		t.Fatalf("%d rules", len(uses))
	}
}

// The checks above can fail: each bad query is rejected with a reason.
func TestCheckRejects(t *testing.T) {
	for expr, want := range map[string]string{
		`sum(rate(kubepulse_requests_total{cluster="x"}[5m])`:                "parse",
		`rate(kubepulse_request_total{cluster="x"}[5m])`:                     "kubepulse_request_total",
		`sum by (resouce) (rate(kubepulse_requests_total{cluster="x"}[5m]))`: `"resouce"`,
		`kubepulse_alerts{cluster="x", phase="server"}`:                      `"phase"`,
		`rate(kubepulse_requests_total[5m])`:                                 "do not match on cluster",
		`histogram_quantile(0.9, rate(kubepulse_request_duration_seconds_bucket{cluster="x", scope="r"}[5m])) / on (node, verb) kubepulse_anomaly_score{cluster="x"}`: "",
	} {
		_, err := Check(expr, "", "cluster", nil)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", expr, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: err = %v, want it to mention %s", expr, err, want)
		}
	}
	if _, err := Check(`sum by (verb) (rate(kubepulse_requests_total{cluster="x"}[5m]))`, "{{ node }} {{reason}}", "cluster", nil); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Errorf("legend with an unknown label: err = %v", err)
	}
	if err := CheckVariable(`label_values(kubepulse_requests_total{cluster="$cluster"}, nod)`); err == nil {
		t.Error("label_values of an unknown label passed")
	}
	u, err := Parse(`label_join(x{a="1"}, "dst", ",", "s1", "s2")`, "")
	if err != nil || !slices.Equal(u.Created, []string{"dst"}) || !slices.Contains(u.Labels, "s2") {
		t.Errorf("label_join: %+v %v", u, err)
	}
}
