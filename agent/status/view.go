package status

import (
	"cmp"
	"hash/fnv"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The view model: a Snapshot turned into strings and geometry, in the order
// the page shows them. Building it is the only work per request besides
// executing the template.

type pageView struct {
	Title   string
	Refresh int
	CSS     template.CSS

	S                         *Snapshot
	Uptime, Updated, Started  string
	Verdict                   verdict
	Counts                    counts
	Alerts                    []alertView
	FiringAlerts              int
	Findings                  []findingView
	Splits                    []splitView
	Charts                    []keyView
	Rows                      []keyView
	Hidden                    int // matching keys beyond MaxRows
	Matched                   int // keys that pass the filter
	Filter                    filterView
	Budget, Watch, Store      []fact
	BudgetOff, WatchOff       bool
	StoreWarn, BudgetWarn     bool
	APIURL                    string
	StopRefresh               string // link that keeps the filter, with refresh=0
	RefreshParam              string // ?refresh= as given, kept by the filter form
	MaxCharts                 int
	ChartsCapped, RowsAreRest bool
}

type verdict struct {
	Class, Text, Detail string
}

type counts struct {
	Total, Firing, Pending, Normal, Learning int
}

type alertView struct {
	Name, State, Severity     string
	Summary, Description      string
	Labels                    []labelPair
	Current, Baseline, P99    string
	Z, Ratio, Samples         string
	Since, Resolved, Duration string
	RunbookURL                string
	KeyAnchor, Key, Phase     string
}

type labelPair struct{ Name, Value string }

type findingView struct {
	ID, Severity, Title, Advice, Evidence, Since string
}

type keyView struct {
	Key, Anchor, Name            string
	Verb, Resource, Scope, Phase string
	Probe, State                 string
	Learning                     bool
	Samples, MinSamples          int64
	Progress                     string // "120 of 300 samples"
	SamplesText                  string // "9120"
	Current, Band, P50, P95, P99 string
	Score, Z, Ratio, SLO         string
	FiringSince, LastSample      string
	Alerted                      bool
	Chart                        *chart
}

// fact is one line of the agent's health: a name, a value and whether it
// needs attention.
type fact struct {
	ID, Name, Value, Note string
	Warn                  bool
}

type filterView struct {
	Active                bool
	Query, Verb, Resource string
	Phase, State          string
	Keys                  []string
	Verbs, Resources      []string
	Phases, States        []string
}

// buildPage turns a snapshot into the view model.
func buildPage(s *Snapshot, f filter, o *Options, refresh int) *pageView {
	p := &pageView{S: s, Refresh: refresh, CSS: template.CSS(pageCSS), APIURL: "api/v1/status", MaxCharts: o.MaxCharts}
	now := s.Now
	if !s.Started.IsZero() && !now.IsZero() {
		p.Uptime = fmtDuration(now.Sub(s.Started))
	}
	p.Updated = fmtClock(now, now)
	p.Started = fmtWhen(s.Started, now)

	keys := make([]*Key, len(s.Keys))
	for i := range s.Keys {
		keys[i] = &s.Keys[i]
	}
	alerted := alertIntervals(s.Alerts, keys)
	slices.SortFunc(keys, func(a, b *Key) int {
		return cmp.Or(
			cmp.Compare(rank(a, alerted), rank(b, alerted)),
			cmp.Compare(score(b.Score), score(a.Score)),
			strings.Compare(a.Key, b.Key),
		)
	})
	anchors := make(map[string]string, len(keys))
	for _, k := range keys {
		anchors[k.Key] = anchor(k.Key)
		switch k.State {
		case "firing":
			p.Counts.Firing++
		case "pending":
			p.Counts.Pending++
		case "learning":
			p.Counts.Learning++
		default:
			p.Counts.Normal++
		}
	}
	p.Counts.Total = len(keys)

	p.Alerts = buildAlerts(s.Alerts, keys, anchors, now)
	for _, a := range s.Alerts {
		if a.State == "firing" {
			p.FiringAlerts++
		}
	}
	for _, fd := range s.Findings {
		p.Findings = append(p.Findings, findingView{
			ID: fd.ID, Severity: fd.Severity, Title: fd.Title, Advice: fd.Advice,
			Evidence: fd.Evidence, Since: fmtWhen(fd.Since, now),
		})
	}

	p.Splits = buildSplits(s.Splits)
	p.Filter = buildFilterView(f, keys)
	for _, k := range keys {
		if !f.match(k) {
			continue
		}
		p.Matched++
		switch {
		case len(p.Charts) < o.MaxCharts:
			v := buildKey(k, anchors[k.Key], now)
			v.Alerted = len(alerted[k.Key]) > 0
			v.Chart = newChart(chartInput{
				ID: "c-" + v.Anchor, Name: v.Name, History: k.History, SLO: k.SLO, Firing: alerted[k.Key],
			})
			p.Charts = append(p.Charts, v)
		case len(p.Rows) < o.MaxRows:
			v := buildKey(k, anchors[k.Key], now)
			v.Alerted = len(alerted[k.Key]) > 0
			p.Rows = append(p.Rows, v)
		default:
			p.Hidden++
		}
	}
	p.ChartsCapped = p.Matched > len(p.Charts)

	p.Verdict = buildVerdict(s, p)
	p.Title = titleFor(s, p)
	p.Budget, p.BudgetWarn = budgetFacts(&s.Budget, now)
	p.BudgetOff = !s.Budget.Enabled
	p.Watch = watchFacts(&s.Watch)
	p.WatchOff = !s.Watch.Enabled
	p.Store, p.StoreWarn = storeFacts(&s.Store, now)
	return p
}

// rank orders keys for the page: firing first, then pending, then keys with
// a recent (resolved) alert, then the rest.
func rank(k *Key, alerted map[string][]interval) int {
	switch {
	case k.State == "firing":
		return 0
	case k.State == "pending":
		return 1
	case len(alerted[k.Key]) > 0:
		return 2
	}
	return 3
}

// score makes unknown scores sort last.
func score(v float64) float64 {
	if math.IsNaN(v) {
		return -1
	}
	return v
}

// anchor returns an HTML id for a key: readable, safe in URLs and CSS, and
// unique (a hash of the key disambiguates keys that read the same).
func anchor(key string) string {
	b := make([]byte, 0, len(key)+12)
	b = append(b, "key-"...)
	for i := 0; i < len(key) && i < 80; i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
			b = append(b, c)
		default:
			b = append(b, '-')
		}
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	b = append(b, '-')
	return string(strconv.AppendUint(b, uint64(h.Sum32()), 36))
}

func buildKey(k *Key, anchor string, now time.Time) keyView {
	v := keyView{
		Key: k.Key, Anchor: anchor, Name: keyName(k),
		Verb: k.Verb, Resource: k.Resource, Scope: k.Scope, Phase: k.Phase, Probe: k.Probe,
		State: k.State, Learning: k.State == "learning",
		Samples: k.Samples, MinSamples: int64(k.MinSamples),
		Current: fmtSeconds(k.Current),
		P50:     fmtSeconds(k.P50), P95: fmtSeconds(k.P95), P99: fmtSeconds(k.P99),
		Score: fmtNum(k.Score), Z: fmtNum(k.Z), Ratio: fmtRatio(k.Ratio),
		LastSample: fmtAgo(k.LastSample, now), SamplesText: fmtCount(k.Samples),
	}
	if v.State == "" {
		v.State = "normal"
	}
	if v.Learning {
		v.Samples = min(max(v.Samples, 0), v.MinSamples)
		v.Progress = fmtCount(k.Samples) + " of " + fmtCount(k.MinSamples) + " samples"
	}
	if lo, hi := band(k.Lower, k.Upper); !math.IsNaN(hi) {
		v.Band = fmtRange(lo, hi)
	} else {
		v.Band = unknown
	}
	if k.SLO > 0 && finite(k.SLO) {
		v.SLO = fmtSeconds(k.SLO)
	}
	if k.FiringSince != nil {
		v.FiringSince = fmtWhen(*k.FiringSince, now)
	}
	return v
}

// keyName is the heading of a key: "get nodes · server".
func keyName(k *Key) string {
	if k.Verb == "" && k.Resource == "" {
		return k.Key
	}
	name := strings.TrimSpace(k.Verb + " " + k.Resource)
	if k.Phase != "" {
		name += " · " + k.Phase
	}
	return name
}

func buildFilterView(f filter, keys []*Key) filterView {
	v := filterView{
		Active: f.active(), Query: f.Query, Verb: f.Verb, Resource: f.Resource,
		Phase: f.Phase, State: f.State, Keys: f.Keys, States: states,
	}
	verbs, res, phases := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, k := range keys {
		verbs[k.Verb], res[k.Resource], phases[k.Phase] = true, true, true
	}
	v.Verbs, v.Resources, v.Phases = sortedSet(verbs), sortedSet(res), sortedSet(phases)
	return v
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// buildVerdict is the one line an on-call person reads first.
func buildVerdict(s *Snapshot, p *pageView) verdict {
	c := p.Counts
	switch {
	case p.FiringAlerts > 0:
		v := verdict{Class: "firing", Text: plural(p.FiringAlerts, "alert") + " firing"}
		if len(p.Alerts) > 0 { // the newest firing alert, sorted first
			v.Detail = p.Alerts[0].Summary
			if v.Detail == "" {
				v.Detail = p.Alerts[0].Name
			}
			v.Detail += ", since " + p.Alerts[0].Since
		}
		if !s.Ready {
			v.Detail = strings.TrimSpace("Not ready: " + s.Reason + ". " + v.Detail)
		}
		return v
	case !s.Ready:
		return verdict{Class: "firing", Text: "Not ready", Detail: s.Reason}
	case c.Total == 0:
		return verdict{Class: "learning", Text: "No calls measured yet", Detail: "The first probes have not been answered yet."}
	case c.Firing > 0:
		return verdict{Class: "firing", Text: plural(c.Firing, "key") + " firing"}
	case c.Pending > 0:
		return verdict{Class: "pending", Text: plural(c.Pending, "key") + " above baseline (pending)",
			Detail: "Not yet long enough to fire an alert."}
	case c.Learning == c.Total:
		return verdict{Class: "learning", Text: "Learning", Detail: "Every key is still learning its normal latency; drift alerts start after warm-up."}
	case c.Learning > 0:
		return verdict{Class: "normal", Text: "All clear", Detail: strconv.Itoa(c.Normal) + " keys within their learned bands, " + strconv.Itoa(c.Learning) + " still learning."}
	}
	return verdict{Class: "normal", Text: "All clear", Detail: "All " + plural(c.Total, "key") + " within their learned bands."}
}

func titleFor(s *Snapshot, p *pageView) string {
	node := s.Node
	if node == "" {
		node = "unknown node"
	}
	switch {
	case p.FiringAlerts > 0:
		return "FIRING (" + strconv.Itoa(p.FiringAlerts) + ") · kubepulse · " + node
	case !s.Ready:
		return "NOT READY · kubepulse · " + node
	}
	return "kubepulse · " + node
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
