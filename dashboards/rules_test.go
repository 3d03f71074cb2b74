package dashboards

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// The rules carry exactly the agent's alert names, severities and label
// names, a runbook link per alert, and recording rules named
// level:metric:operations, each recorded once.
func TestRulesShape(t *testing.T) {
	f := Rules()
	seen := map[string]int{}
	records := map[string]bool{}
	for _, g := range f.Groups {
		if len(g.Rules) == 0 {
			t.Errorf("group %s is empty", g.Name)
		}
		for _, r := range g.Rules {
			if (r.Record == "") == (r.Alert == "") {
				t.Errorf("rule %+v: want exactly one of record and alert", r)
			}
			if r.Record != "" {
				if strings.Count(r.Record, ":") != 2 || records[r.Record] {
					t.Errorf("record %q: want a unique level:metric:operations name", r.Record)
				}
				records[r.Record] = true
				continue
			}
			seen[r.Alert]++
			if got := slices.Sorted(maps.Keys(r.Labels)); !slices.Equal(got, []string{"severity"}) || r.Labels["severity"] != Severity[r.Alert] {
				t.Errorf("%s labels %v, want only severity=%s", r.Alert, r.Labels, Severity[r.Alert])
			}
			if got := slices.Sorted(maps.Keys(r.Annotations)); !slices.Equal(got, []string{"description", "runbook_url", "summary"}) {
				t.Errorf("%s annotations %v", r.Alert, got)
			}
			if want := RunbookBase + "#" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
				t.Errorf("%s runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			if r.For == "" {
				t.Errorf("%s fires on a single evaluation: want a for duration", r.Alert)
			}
			if !strings.Contains(r.Annotations["summary"], "{{ $labels.node }}") {
				t.Errorf("%s summary does not name the node: %q", r.Alert, r.Annotations["summary"])
			}
		}
	}
	want := map[string]int{AlertLatencyDrift: 1, AlertLatencySLO: 1, AlertClientThrottled: 1, AlertErrorRateDrift: 1, AlertUnreachable: 1}
	if !maps.Equal(seen, want) {
		t.Errorf("alerts %v, want %v", seen, want)
	}
	if len(Severity) != 5 {
		t.Errorf("severities for %d alerts, want the 5 kubepulse alerts", len(Severity))
	}
}

// Every metric is listed once, the proposed ones under the prefixes the
// agent reserves for them.
func TestMetricsList(t *testing.T) {
	names := map[string]bool{}
	for _, m := range Metrics {
		if names[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		names[m.Name] = true
		switch {
		case m.Source == APIServer:
			if !strings.HasPrefix(m.Name, "apiserver_") || m.Proposed {
				t.Errorf("%s: API server metric", m.Name)
			}
		case m.Proposed:
			if !strings.HasPrefix(m.Name, "kubepulse_probe") && !strings.HasPrefix(m.Name, "kubepulse_watch_") && m.Name != Findings {
				t.Errorf("%s: proposed names are kubepulse_probe*, kubepulse_watch_* or %s", m.Name, Findings)
			}
		default:
			if !strings.HasPrefix(m.Name, "kubepulse_") {
				t.Errorf("%s: want the kubepulse_ prefix", m.Name)
			}
		}
		if m.Type == Counter != strings.HasSuffix(m.Name, "_total") {
			t.Errorf("%s: counters, and only counters, end in _total", m.Name)
		}
		if m.Help == "" {
			t.Errorf("%s has no help", m.Name)
		}
	}
	for _, s := range []string{"kubepulse_request_duration_seconds_bucket", "kubepulse_request_duration_seconds", "kubepulse_requests_total"} {
		if _, ok := Lookup(s); !ok {
			t.Errorf("Lookup(%q) failed", s)
		}
	}
	for _, s := range []string{"kubepulse_requests_total_bucket", "kubepulse_request_duration", "up"} {
		if _, ok := Lookup(s); ok {
			t.Errorf("Lookup(%q) succeeded", s)
		}
	}
}
