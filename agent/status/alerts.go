package status

import (
	"cmp"
	"maps"
	"net/url"
	"slices"
	"time"
)

// Alerts on the page: which keys each is about, the stretches they fired,
// and the alert cards.

// matchKeys returns the keys an alert is about: its "key" label if it has
// one, else every key with the same verb, resource and phase (and scope and
// probe when the alert names them). Alerts without a phase (unreachable,
// throttled) are about the node, not one chart.
func matchKeys(a *Alert, keys []*Key) []*Key {
	if k := a.Labels["key"]; k != "" {
		for _, key := range keys {
			if key.Key == k {
				return []*Key{key}
			}
		}
		return nil
	}
	verb, res, phase := a.Labels["verb"], a.Labels["resource"], a.Labels["phase"]
	if verb == "" || res == "" || phase == "" {
		return nil
	}
	scope, probe := a.Labels["scope"], a.Labels["probe"]
	var out []*Key
	for _, k := range keys {
		if k.Verb == verb && k.Resource == res && k.Phase == phase &&
			(scope == "" || k.Scope == scope) && (probe == "" || k.Probe == probe) {
			out = append(out, k)
		}
	}
	return out
}

// alertIntervals maps each key to the stretches during which it had a
// firing alert: the key's own FiringSince and every alert matched to it.
func alertIntervals(alerts []Alert, keys []*Key) map[string][]interval {
	m := map[string][]interval{}
	for _, k := range keys {
		if k.FiringSince != nil {
			m[k.Key] = append(m[k.Key], interval{From: *k.FiringSince})
		}
	}
	for i := range alerts {
		a := &alerts[i]
		iv := interval{From: a.Since}
		if a.Resolved != nil {
			iv.To = *a.Resolved
		}
		for _, k := range matchKeys(a, keys) {
			if !slices.Contains(m[k.Key], iv) {
				m[k.Key] = append(m[k.Key], iv)
			}
		}
	}
	return m
}

func buildAlerts(alerts []Alert, keys []*Key, anchors map[string]string, now time.Time) []alertView {
	order := make([]*Alert, len(alerts))
	for i := range alerts {
		order[i] = &alerts[i]
	}
	// Firing first, newest first within each state.
	slices.SortStableFunc(order, func(a, b *Alert) int {
		return cmp.Or(
			cmp.Compare(boolRank(a.State != "firing"), boolRank(b.State != "firing")),
			b.Since.Compare(a.Since),
		)
	})
	out := make([]alertView, 0, len(order))
	for _, a := range order {
		v := alertView{
			Name: a.Name, State: a.State, Severity: a.Severity,
			Summary: a.Summary, Description: a.Description,
			Current: fmtSeconds(a.Current), Baseline: fmtSeconds(a.Baseline), P99: fmtSeconds(a.P99),
			Z: fmtNum(a.Z), Ratio: fmtRatio(a.Ratio), Samples: fmtCount(a.Samples),
			Since: fmtWhen(a.Since, now), RunbookURL: webURL(a.RunbookURL), Phase: a.Labels["phase"],
		}
		end := now
		if a.Resolved != nil {
			v.Resolved = fmtWhen(*a.Resolved, now)
			end = *a.Resolved
		}
		if !a.Since.IsZero() && !end.IsZero() && !end.Before(a.Since) {
			v.Duration = fmtDuration(end.Sub(a.Since))
		}
		for _, name := range slices.Sorted(maps.Keys(a.Labels)) {
			if name == "alertname" || name == "severity" {
				continue // already in the heading
			}
			v.Labels = append(v.Labels, labelPair{Name: name, Value: a.Labels[name]})
		}
		if ks := matchKeys(a, keys); len(ks) > 0 {
			v.Key, v.KeyAnchor = ks[0].Key, anchors[ks[0].Key]
		}
		out = append(out, v)
	}
	return out
}

// webURL returns u if it is an absolute http(s) URL, else "": a runbook link
// that html/template would have to defuse is better not shown at all.
func webURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
