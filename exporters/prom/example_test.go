package prom_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubepulse/kubepulse/exporters/prom"
)

// The agent's metrics endpoint: its own registry, the request Recorder, the
// baselines read at scrape time, health checks.
func Example() {
	reg := prom.NewRegistry()
	_ = prom.NewRecorder(reg) // pass to instrument.WithReporter
	reg.MustRegister(prom.NewBaselineCollector(prom.BaselineSourceFunc(func(fn func(prom.Baseline)) {
		// The agent walks its tracker here (baseline.Tracker.Snapshot).
		fn(prom.Baseline{Verb: "list", Resource: "pods", Scope: "namespace", Phase: "server",
			State: prom.StateNormal, Samples: 900, Mean: 0.012, StdDev: 0.003,
			P50: 0.011, P95: 0.019, P99: 0.027, Score: 0.05})
		fn(prom.Baseline{Verb: "get", Resource: "nodes", Scope: "resource", Phase: "total", Probe: "node_get_cached",
			State: prom.StateLearning, Samples: 4, Mean: 0.003, StdDev: math.NaN(),
			P50: math.NaN(), P95: math.NaN(), P99: math.NaN()})
	})))
	srv, err := prom.NewServer(prom.ServerOptions{
		Addr:     ":9477",
		Gatherer: reg,
		Ready:    func() error { return errors.New("API server not reached yet") },
	})
	if err != nil {
		log.Fatal(err)
	}

	// What a scraper and the kubelet see (srv.Run(ctx) serves the same).
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for l := range strings.Lines(w.Body.String()) {
		if strings.HasPrefix(l, "kubepulse_baseline_seconds") || strings.HasPrefix(l, "kubepulse_baseline_state") {
			fmt.Print(l)
		}
	}
	w = httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="ewma_mean",verb="list"} 0.012
	// kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="ewma_stddev",verb="list"} 0.003
	// kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="p50",verb="list"} 0.011
	// kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="p95",verb="list"} 0.019
	// kubepulse_baseline_seconds{phase="server",probe="",resource="pods",scope="namespace",stat="p99",verb="list"} 0.027
	// kubepulse_baseline_seconds{phase="total",probe="node_get_cached",resource="nodes",scope="resource",stat="ewma_mean",verb="get"} 0.003
	// kubepulse_baseline_state{phase="server",probe="",resource="pods",scope="namespace",state="normal",verb="list"} 1
	// kubepulse_baseline_state{phase="total",probe="node_get_cached",resource="nodes",scope="resource",state="learning",verb="get"} 1
	// 503 not ready: API server not reached yet
}

// Secure serving in a pod: HTTPS with the certificate of a mounted Secret
// (reloaded when it is renewed), and only ServiceAccounts allowed to get
// /metrics may scrape. The status page stays protected too; /healthz and
// /readyz stay open for the kubelet.
func ExampleNewServer_secure() {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	srv, err := prom.NewServer(prom.ServerOptions{
		Addr:     ":9477",
		Gatherer: prom.NewRegistry(),
		TLS:      &prom.TLSOptions{CertFile: "/etc/kubepulse/tls/tls.crt", KeyFile: "/etc/kubepulse/tls/tls.key"},
		Auth:     &prom.AuthOptions{Client: cs},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// The agent reports probes and watch events as they happen.
func ExampleAgentMetrics() {
	reg := prom.NewRegistry()
	m := prom.NewAgentMetrics(reg)
	m.SetBudget(20, 400, 20*time.Second) // 20 QPS shared by 400 nodes
	m.ObserveProbe("node_get_cached", true)
	m.ObserveWatchDelay(12 * time.Millisecond)
	m.WatchRestart(prom.WatchExpired) // also counts a relist

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "kubepulse_probe_budget") || strings.HasPrefix(mf.GetName(), "kubepulse_watch_relists") {
			fmt.Println(mf.GetName(), mf.GetMetric()[0].GetGauge().GetValue()+mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	// Output:
	// kubepulse_probe_budget_qps 20
	// kubepulse_watch_relists_total 1
}
