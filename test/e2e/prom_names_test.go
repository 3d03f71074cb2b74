//go:build e2e

package e2e

import (
	"context"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
	"github.com/kubepulse/kubepulse/dashboards"
	"github.com/kubepulse/kubepulse/exporters/prom"
)

// TestPromNamesMatchDashboards holds the exporter to the contract of the
// dashboards and rules: every metric dashboards.Metrics says the agent
// exports is there, with its type and at least its labels. (It lives here,
// not in exporters/prom, to keep the Grafana SDK out of that package's tests.)
func TestPromNamesMatchDashboards(t *testing.T) {
	reg := prom.NewRegistry()
	rec := prom.NewRecorder(reg)
	reg.MustRegister(
		prom.NewBaselineCollector(prom.BaselineSourceFunc(func(fn func(prom.Baseline)) { fn(promFixedBaseline) })),
		prom.NewStoreCollector(prom.StoreSourceFunc(func() prom.StoreStats { return prom.StoreStats{LastCheckpoint: time.Now()} })),
		prom.NewAlertsCollector(nil, prom.FindingSourceFunc(func() []prom.Finding {
			return []prom.Finding{{ID: "client_throttling", Severity: "warning"}}
		}), "KubeAPILatencyDrift"),
		prom.NewAlertmanagerCollector(prom.AlertmanagerSourceFunc(func() []prom.AlertmanagerStats {
			return []prom.AlertmanagerStats{{URL: "http://am:9093", LastSuccess: time.Now()}}
		})),
		prom.NewOTLPCollector(prom.OTLPSourceFunc(func() prom.OTLPStats { return prom.OTLPStats{} })),
	)
	agent := prom.NewAgentMetrics(reg)
	agent.ObserveProbe("node_get_cached", false)
	agent.SetBudget(20, 2, 100*time.Millisecond)
	agent.ObserveWatchDelay(5 * time.Millisecond)
	agent.WatchRestart(prom.WatchExpired)

	// Real requests: some answered, one refused, and a wait in client-go's
	// rate limiter.
	promDriveRequests(t, rec, 2)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/api/v1/namespaces/default/pods"
	l.Close()
	client := &http.Client{Transport: instrument.NewTransport(http.DefaultTransport, instrument.WithReporter(rec))}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, refused, nil)
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a closed port answered")
	}
	rec.ReportRateLimiterWait(classify.NewLimiter(0).Labels(classify.Parse("GET", "/api/v1/namespaces/default/pods", "")), 30*time.Millisecond)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	type family struct {
		typ    dto.MetricType
		labels []string
	}
	got := map[string]family{}
	for _, mf := range mfs {
		f := family{typ: mf.GetType()}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if !slices.Contains(f.labels, lp.GetName()) {
					f.labels = append(f.labels, lp.GetName())
				}
			}
		}
		got[mf.GetName()] = f
	}
	types := map[dashboards.Type]dto.MetricType{
		dashboards.Counter: dto.MetricType_COUNTER, dashboards.Gauge: dto.MetricType_GAUGE, dashboards.Histogram: dto.MetricType_HISTOGRAM,
	}
	checked := 0
	for _, m := range dashboards.Metrics {
		if m.Source != dashboards.Agent {
			continue
		}
		checked++
		f, ok := got[m.Name]
		if !ok {
			t.Errorf("%s (dashboards.Metrics) is not exported", m.Name)
			continue
		}
		if f.typ != types[m.Type] {
			t.Errorf("%s: type %v, dashboards want %s", m.Name, f.typ, m.Type)
		}
		for _, l := range m.Labels {
			if !slices.Contains(f.labels, l) {
				t.Errorf("%s: no label %q (has %s)", m.Name, l, strings.Join(f.labels, ","))
			}
		}
	}
	if checked < 15 {
		t.Fatalf("only %d agent metrics in dashboards.Metrics", checked)
	}
}
