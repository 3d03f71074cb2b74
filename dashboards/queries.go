package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// Query is one PromQL query of a dashboard: a panel target or the selector
// of a label_values variable.
type Query struct {
	Dashboard string // file name
	Panel     string // panel title, or "variable NAME"
	RefID     string
	Expr      string // as in the dashboard, with Grafana variables
	Legend    string // legendFormat, e.g. "{{verb}} {{resource}}"
}

type panelQuery struct {
	refID, expr, legend string
	ds                  *dashboard.DataSourceRef
}

func promQueries(p *dashboard.Panel) []panelQuery {
	var out []panelQuery
	for _, target := range p.Targets {
		// Built in memory, targets are values; decoded from JSON, pointers.
		q, ok := target.(*prometheus.Dataquery)
		if v, isValue := target.(prometheus.Dataquery); isValue {
			q, ok = &v, true
		}
		if ok {
			out = append(out, panelQuery{refID: deref(q.RefId), expr: q.Expr, legend: deref(q.LegendFormat), ds: q.Datasource})
		}
	}
	return out
}

// Queries returns every PromQL query of the generated dashboards.
func Queries() ([]Query, error) {
	var out []Query
	for _, b := range Boards {
		d, err := b.Build()
		if err != nil {
			return nil, err
		}
		for _, v := range d.Templating.List {
			if v.Type == dashboard.VariableTypeQuery && v.Query != nil && v.Query.String != nil {
				out = append(out, Query{Dashboard: b.File, Panel: "variable " + v.Name, Expr: *v.Query.String})
			}
		}
		for _, fp := range flatten(d) {
			if fp.panel == nil {
				continue
			}
			for _, q := range promQueries(fp.panel) {
				out = append(out, Query{Dashboard: b.File, Panel: fp.title, RefID: q.refID, Expr: q.expr, Legend: q.legend})
			}
		}
	}
	return out, nil
}

// flatten lists every panel, rows' children included, with rows themselves
// as title-only entries (their IDs count too).
type flatPanel struct {
	id    uint32
	title string
	panel *dashboard.Panel // nil for a row
}

func flatten(d dashboard.Dashboard) []flatPanel {
	var out []flatPanel
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			out = append(out, flatPanel{id: deref(p.Panel.Id), title: deref(p.Panel.Title), panel: p.Panel})
		case p.RowPanel != nil:
			out = append(out, flatPanel{id: p.RowPanel.Id, title: deref(p.RowPanel.Title)})
			for i := range p.RowPanel.Panels {
				c := &p.RowPanel.Panels[i]
				out = append(out, flatPanel{id: deref(c.Id), title: deref(c.Title), panel: c})
			}
		}
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
