//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/dashboards"
	"github.com/kubepulse/kubepulse/exporters/prom"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// The dashboards and recording rules against a real Prometheus that scrapes
// the running agent, the real API server and — for the panels about writes,
// which the agent never makes — a controller that embeds the kubepulse
// library (instrument.Wrap + prom.Recorder), as controller authors do.

// startLibraryController runs, until the test ends, a "controller" in this
// test process whose client-go traffic goes through instrument.Wrap: it
// creates, reads, updates, patches and deletes a ConfigMap in ns every
// half second. Its metrics are served at the returned host:port.
func startLibraryController(t *testing.T, admin *rest.Config, ns string) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	cs, err := kubernetes.NewForConfig(instrument.Wrap(admin, instrument.WithReporter(prom.NewRecorder(reg))))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	go func() {
		defer close(done)
		cms := cs.CoreV1().ConfigMaps(ns)
		for i := 0; ctx.Err() == nil; i++ {
			name := fmt.Sprintf("library-%d", i%4)
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"i": fmt.Sprint(i)}}
			// Errors (the namespace going away at the end) are the
			// controller's business, as in any controller: it tries again.
			if got, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err == nil {
				got.Data["updated"] = "yes"
				_, _ = cms.Update(ctx, got, metav1.UpdateOptions{})
			}
			_, _ = cms.Patch(ctx, name, types.MergePatchType, []byte(`{"data":{"patched":"yes"}}`), metav1.PatchOptions{})
			_, _ = cms.Get(ctx, name, metav1.GetOptions{})
			_ = cms.Delete(ctx, name, metav1.DeleteOptions{})
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return strings.TrimPrefix(srv.URL, "http://")
}

// agentPromConfig writes a Prometheus configuration that scrapes the agent
// (as the chart's ServiceMonitor does, node label set), the API server with
// the cluster admin's token, and the library controller as a pod on the same
// node; kubepulse's rule file is loaded.
func agentPromConfig(t *testing.T, c *framework.Cluster, node, agentAddr, controllerAddr string) string {
	t.Helper()
	dir := t.TempDir()
	path := writePromConfig(t, dir, promTargets{
		Agents:    map[string]string{node: agentAddr},
		APIServer: strings.TrimPrefix(c.Env["KUBE_E2E_APISERVER"], "https://"),
		CAFile:    c.Env["KUBE_E2E_CA_FILE"], Token: c.Env["KUBE_E2E_ADMIN_TOKEN"],
		Rules: []string{filepath.Join(framework.RepoRoot(), "dashboards", dashboards.RulesFile)},
	})
	// scrape_configs is the file's last section: the controller's job goes
	// after the others.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "  - job_name: controller\n    always_scrape_classic_histograms: true\n    static_configs:\n      - targets: [%q]\n        labels: {node: %q}\n",
		controllerAddr, node); err != nil {
		t.Fatal(err)
	}
	return path
}

// panelStage says when a dashboard query or recording rule can have data:
// most at any time once traffic flows, some only while an alert fires, some
// only after requests failed or while a finding is active.
type panelStage int

const (
	stageTraffic panelStage = iota // probes, watch, library traffic, API server
	stageFiring                    // a kubepulse alert fires (drift)
	stageOutage                    // requests failed; a finding is active
)

// stageOf sorts a query by what it reads.
func stageOf(q promQuery) panelStage {
	switch {
	case strings.Contains(q.expr, "kubepulse_request_errors"), strings.Contains(q.expr, "kubepulse_findings"):
		return stageOutage
	case strings.Contains(q.expr, "kubepulse_alerts") && !strings.Contains(q.expr, "vector(0)"):
		return stageFiring
	}
	return stageTraffic
}

// dashboardStages returns every dashboard panel query (with the agent's node
// and a call both the agent and the API server serve: GET nodes, single
// object) and every recording rule, split by stage.
func dashboardStages(t *testing.T, node string) map[panelStage][]promQuery {
	t.Helper()
	qs := dashboardQueries(t, map[string]string{"cluster": "", "node": node, "verb": "get", "resource": "nodes",
		"scope": "resource", "phase": "server"}, "1m")
	qs = append(qs, ruleSeries()...)
	out := map[panelStage][]promQuery{}
	for _, q := range qs {
		out[stageOf(q)] = append(out[stageOf(q)], q)
	}
	for _, stage := range []panelStage{stageTraffic, stageFiring, stageOutage} {
		if len(out[stage]) == 0 {
			t.Fatalf("no dashboard query in stage %d: the split by metric name is stale", stage)
		}
	}
	t.Logf("%d dashboard queries and recording rules: %d need traffic, %d a firing alert, %d failed requests or a finding",
		len(qs), len(out[stageTraffic]), len(out[stageFiring]), len(out[stageOutage]))
	return out
}
