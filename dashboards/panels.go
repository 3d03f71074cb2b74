package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Every panel, query and variable reads the data source the user picks in
// the "datasource" variable: no dashboard holds a data source UID.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

// Grafana's window for rate() in panels: at least four scrape intervals.
const rateInterval = "$__rate_interval"

// Label matchers for the dashboard variables.
const (
	inCluster  = `cluster="$cluster"`
	onNodes    = `node=~"$node"`
	onNode     = `node="$node"`
	onVerb     = `verb="$verb"`
	onResource = `resource="$resource"`
	onScope    = `scope="$scope"`
	onPhase    = `phase="$phase"`
)

// query is one PromQL target of a panel.
type query struct {
	expr, legend string
	instant      bool // table and bar gauge panels show the latest value only
}

func (q query) builder(refID string) *prometheus.DataqueryBuilder {
	b := prometheus.NewDataqueryBuilder().
		RefId(refID).
		Datasource(datasource()).
		Expr(q.expr).
		LegendFormat(q.legend)
	if q.instant {
		b = b.Instant().Format(prometheus.PromQueryFormatTable)
	} else {
		b = b.Range()
	}
	return b
}

// targets turns queries into the targets of a panel, with ref IDs A, B, ...
func targets(qs []query) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], len(qs))
	for i, q := range qs {
		out[i] = q.builder(string(rune('A' + i)))
	}
	return out
}

// legend is a table legend under the graph with the numbers people compare.
func legend() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		DisplayMode(common.LegendDisplayModeTable).
		Placement(common.LegendPlacementBottom).
		ShowLegend(true).
		Calcs([]string{"mean", "max", "lastNotNull"}).
		SortBy("Max").
		SortDesc(true)
}

func tooltip() *common.VizTooltipOptionsBuilder {
	return common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)
}

// steps are threshold steps: a base colour, then (value, colour) pairs.
func steps(base string, pairs ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(pairs); i += 2 {
		v := pairs[i].(float64)
		s = append(s, dashboard.Threshold{Value: &v, Color: pairs[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

// graph is a time series panel with the project's defaults.
func graph(title, description, unit string, w, h uint32, qs ...query) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Targets(targets(qs)).
		Unit(unit).
		Span(w).Height(h).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).
		Legend(legend()).
		Tooltip(tooltip()).
		Thresholds(steps("green"))
}

// sloGraph draws latencies against their SLO as a red threshold line.
func sloGraph(title, description string, slo float64, w, h uint32, qs ...query) *timeseries.PanelBuilder {
	return graph(title, description, "s", w, h, qs...).
		Thresholds(steps("green", slo, "red")).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed)).
		AxisSoftMin(0).
		AxisSoftMax(slo * 1.2) // keep the SLO line in view when latency is far below it
}

// stacked is a graph whose series add up (phase times, shares).
func stacked(title, description, unit string, w, h uint32, qs ...query) *timeseries.PanelBuilder {
	return graph(title, description, unit, w, h, qs...).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		FillOpacity(40)
}

// single is a stat panel showing one number.
func single(title, description, unit string, thresholds *dashboard.ThresholdsConfigBuilder, q query) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Targets(targets([]query{q})).
		Unit(unit).
		Span(6).Height(4).
		Thresholds(thresholds).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeArea).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)).
		Orientation(common.VizOrientationAuto)
}

// ranking is a horizontal bar gauge of the latest value per series, largest first.
func ranking(title, description, unit string, w, h uint32, thresholds *dashboard.ThresholdsConfigBuilder, q query) *bargauge.PanelBuilder {
	q.instant = true
	return bargauge.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Targets(targets([]query{q})).
		Unit(unit).
		Span(w).Height(h).
		Thresholds(thresholds).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeGradient).
		ShowUnfilled(true).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

// grid is a table of instant query results, one row per label set, the
// values of every query side by side. rename names the value columns
// ("Value #A", ... or "Value" for a single query).
func grid(title, description string, w, h uint32, rename map[string]string, qs ...query) *table.PanelBuilder {
	for i := range qs {
		qs[i].instant = true
	}
	names := map[string]any{}
	for k, v := range rename {
		names[k] = v
	}
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Targets(targets(qs)).
		Span(w).Height(h).
		CellHeight(common.TableCellHeightSm).
		Filterable(true).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true},
			"renameByName":  names,
		}})
}

// row starts a new full-width row of panels.
func row(title string) *dashboard.RowBuilder { return dashboard.NewRowBuilder(title) }

// Variables -----------------------------------------------------------------

func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Data source").
		Type("prometheus").
		Regex("")
}

// labelVariable lists the values of a label, read from a kubepulse metric.
func labelVariable(name, label, from string, multi bool) *dashboard.QueryVariableBuilder {
	q := "label_values(" + from + ", " + label + ")"
	b := dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
		Definition(q).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortNaturalAsc)
	if multi {
		b = b.Multi(true).IncludeAll(true).AllValue(".*")
	}
	return b
}

// clusterVariable selects one cluster. Where Prometheus adds no cluster
// label it has no values, $cluster is empty, and cluster="" matches the
// series that lack the label: a single cluster works without configuration.
func clusterVariable() *dashboard.QueryVariableBuilder {
	return labelVariable("cluster", "cluster", Requests, false).
		Description("The cluster label that Prometheus external labels or relabeling add; empty where there is none.")
}

// nodeVariable selects nodes (multi: several or All) of the chosen cluster.
func nodeVariable(multi bool) *dashboard.QueryVariableBuilder {
	return labelVariable("node", "node", sel(Requests, inCluster), multi).
		Description("The node the agent runs on (set at scrape time from __meta_kubernetes_pod_node_name).")
}

// newDashboard starts a dashboard with the settings all three share.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"kubepulse", "kubernetes", "api-server"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("30s").
		Time("now-3h", "now").
		Timezone(common.TimeZoneBrowser).
		Link(dashboard.NewDashboardLinkBuilder("kubepulse").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"kubepulse"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true))
}
