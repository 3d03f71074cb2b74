package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func init() { plugins.RegisterDefaultPlugins() } // panel and query types for decoding

// validate decodes dashboard JSON the way a strict Grafana client would:
// unknown fields, wrong types and missing required fields are errors naming
// their path. The Foundation SDK (v0.0.22) returns, on success, a non-nil
// error holding an empty cog.BuildErrors: only a non-empty list fails.
func validate(raw []byte) (dashboard.Dashboard, error) {
	var strict dashboard.Dashboard
	var errs cog.BuildErrors
	if err := strict.UnmarshalJSONStrict(raw); err != nil && (!errors.As(err, &errs) || len(errs) > 0) {
		return dashboard.Dashboard{}, fmt.Errorf("dashboard JSON: %w", err)
	}
	var d dashboard.Dashboard // strict decoding leaves out panels that had no error
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, fmt.Errorf("dashboard JSON: %w", err)
	}
	if err := d.Validate(); err != nil {
		return d, fmt.Errorf("dashboard: %w", err)
	}
	return d, nil
}

func readBoard(t *testing.T, b Board) (dashboard.Dashboard, []byte) {
	t.Helper()
	raw, err := os.ReadFile(b.File)
	if err != nil {
		t.Fatal(err)
	}
	d, err := validate(raw)
	if err != nil {
		t.Fatal(err)
	}
	return d, raw
}

// The committed dashboards are valid for current Grafana: strict decoding,
// the current schema version, unique panel IDs, every query on the
// datasource variable, and the datasource, cluster and node variables.
func TestDashboardsValidForGrafana(t *testing.T) {
	for _, b := range Boards {
		t.Run(b.File, func(t *testing.T) {
			d, raw := readBoard(t, b)
			if want := dashboard.NewDashboard().SchemaVersion; d.SchemaVersion != want || want < 41 {
				t.Errorf("schemaVersion %d, want the current %d", d.SchemaVersion, want)
			}
			if d.Uid == nil || !strings.HasPrefix(*d.Uid, "kubepulse-") || len(*d.Uid) > 40 {
				t.Errorf("uid %v: want kubepulse-..., at most 40 characters", d.Uid)
			}

			vars := map[string]dashboard.VariableModel{}
			for _, v := range d.Templating.List {
				vars[v.Name] = v
			}
			if v := vars["datasource"]; v.Type != dashboard.VariableTypeDatasource || deref(deref(v.Query).String) != "prometheus" {
				t.Errorf("datasource variable: %+v", v)
			}
			for _, name := range []string{"cluster", "node"} {
				if v, ok := vars[name]; !ok || v.Type != dashboard.VariableTypeQuery || !isVariableDatasource(v.Datasource) {
					t.Errorf("variable %s: %+v, want a query variable on ${datasource}", name, v)
				}
			}

			ids := map[uint32]string{}
			queries := 0
			for _, p := range flatten(d) {
				if p.id == 0 {
					t.Errorf("panel %q has no id", p.title)
				}
				if other, dup := ids[p.id]; dup {
					t.Errorf("panels %q and %q share id %d", other, p.title, p.id)
				}
				ids[p.id] = p.title
				if p.panel == nil {
					continue
				}
				if !isVariableDatasource(p.panel.Datasource) {
					t.Errorf("panel %q datasource %+v, want ${datasource}", p.title, p.panel.Datasource)
				}
				if r := deref(p.panel.Repeat); r != "" && vars[r].Name == "" {
					t.Errorf("panel %q repeats over unknown variable %q", p.title, r)
				}
				if len(p.panel.Targets) == 0 {
					t.Errorf("panel %q has no query", p.title)
				}
				for _, q := range promQueries(p.panel) {
					queries++
					if q.expr == "" || !isVariableDatasource(q.ds) {
						t.Errorf("panel %q query %s: expr %q datasource %+v", p.title, q.refID, q.expr, q.ds)
					}
				}
			}
			if queries < 5 {
				t.Errorf("%d queries: the dashboard shows almost nothing", queries)
			}
			// No data source UID but the variable anywhere in the file.
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			walk(doc, func(key string, v any) {
				if key == "uid" && v != "${datasource}" && v != *d.Uid {
					t.Errorf("hard-coded uid %v", v)
				}
			})
		})
	}
}

func isVariableDatasource(ds *dashboard.DataSourceRef) bool {
	return ds != nil && deref(ds.Uid) == "${datasource}" && deref(ds.Type) == "prometheus"
}

// walk calls f for every key and value of decoded JSON.
func walk(v any, f func(key string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			f(k, x)
			walk(x, f)
		}
	case []any:
		for _, x := range v {
			walk(x, f)
		}
	}
}

// Panels do not overlap on Grafana's 24-column grid.
func TestDashboardLayout(t *testing.T) {
	for _, b := range Boards {
		t.Run(b.File, func(t *testing.T) {
			d, _ := readBoard(t, b)
			type box struct {
				title      string
				x, y, w, h uint32
			}
			var boxes []box
			for _, p := range d.Panels {
				var g *dashboard.GridPos
				title := ""
				if p.Panel != nil {
					g, title = p.Panel.GridPos, deref(p.Panel.Title)
				} else {
					g, title = p.RowPanel.GridPos, deref(p.RowPanel.Title)
				}
				if g == nil || g.W == 0 || g.H == 0 || g.X+g.W > 24 {
					t.Errorf("panel %q gridPos %+v", title, g)
					continue
				}
				for _, o := range boxes {
					if g.X < o.x+o.w && o.x < g.X+g.W && g.Y < o.y+o.h && o.y < g.Y+g.H {
						t.Errorf("panels %q and %q overlap", title, o.title)
					}
				}
				boxes = append(boxes, box{title, g.X, g.Y, g.W, g.H})
			}
		})
	}
}

// Bad dashboards fail with an error that names what is wrong: the check
// above can fail.
func TestValidateRejects(t *testing.T) {
	for name, tc := range map[string]struct{ json, want string }{
		"unknown field": {`{"title":"x","schemaVersion":42,"panelz":[]}`, "panelz"},
		"wrong type":    {`{"title":"x","schemaVersion":"42"}`, "schemaVersion"},
		"bad panel":     {`{"title":"x","schemaVersion":42,"panels":[{"type":"stat","gridPos":"top"}]}`, "gridPos"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := validate([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// Grafana regex-escapes the values of multi-value variables ("a\\.b"), even
// inside a repeated panel: such a variable must be matched with =~, or a
// value with a dot never matches.
func TestMultiValueVariablesMatchedAsRegex(t *testing.T) {
	for _, b := range Boards {
		d, _ := readBoard(t, b)
		for _, v := range d.Templating.List {
			if !deref(v.Multi) && !deref(v.IncludeAll) {
				continue
			}
			exact := regexp.MustCompile(`[^=!~]=\s*"\$\{?` + v.Name + `\b`)
			for _, fp := range flatten(d) {
				if fp.panel == nil {
					continue
				}
				for _, q := range promQueries(fp.panel) {
					if exact.MatchString(q.expr) {
						t.Errorf("%s: panel %q matches multi-value $%s with =: %s", b.File, fp.title, v.Name, q.expr)
					}
				}
			}
			for _, other := range d.Templating.List {
				if other.Query != nil && other.Query.String != nil && exact.MatchString(*other.Query.String) {
					t.Errorf("%s: variable %s matches multi-value $%s with =", b.File, other.Name, v.Name)
				}
			}
		}
	}
}
