//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/exporters/prom"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// promFixedBaseline is the baseline the exporter under test reports, as the
// agent's tracker would for the calls the test makes.
var promFixedBaseline = prom.Baseline{Verb: "get", Resource: "pods", Scope: "resource", Phase: "total",
	State: prom.StateFiring, Samples: 512, Mean: 0.0042, StdDev: 0.0007, P50: 0.004, P95: 0.006, P99: 0.0085, Score: 0.93}

// promExporter is a running exporter: a registry with a Recorder and the
// collectors, served by prom.NewServer on a loopback port.
type promExporter struct {
	addr string
	rec  *prom.Recorder
}

func startPromExporter(t *testing.T, o prom.ServerOptions) *promExporter {
	t.Helper()
	reg := prom.NewRegistry()
	rec := prom.NewRecorder(reg)
	reg.MustRegister(
		prom.NewBaselineCollector(prom.BaselineSourceFunc(func(fn func(prom.Baseline)) {
			fn(promFixedBaseline)
			fn(prom.Baseline{Verb: "get", Resource: "nodes", Scope: "resource", Phase: "server", Probe: "node_get_cached",
				State: prom.StateLearning, Samples: 3, Mean: 0.002, StdDev: math.NaN(), P50: math.NaN(), P95: math.NaN(), P99: math.NaN()})
		})),
		prom.NewStoreCollector(prom.StoreSourceFunc(func() prom.StoreStats {
			return prom.StoreStats{Keys: 2, MaxKeys: 10000, LastCheckpoint: time.Unix(1767225600, 0)}
		})),
		prom.NewAlertsCollector(prom.AlertSourceFunc(func() []prom.AlertCount {
			return []prom.AlertCount{{Name: "KubeAPILatencyDrift", State: prom.StateFiring, Count: 1}}
		}), nil, "KubeAPILatencyDrift", "KubeAPIUnreachable"),
	)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Listener, o.Gatherer, o.Registerer = l, reg, reg
	s, err := prom.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("exporter Run: %v", err)
		}
	})
	return &promExporter{addr: l.Addr().String(), rec: rec}
}

// promDriveRequests sends n instrumented GETs of a pod to a TLS test server
// posing as the API server, under one parent span, and returns its trace ID.
// The API server is a fake here only because this test is about the
// exporter; test/e2e/instrument_test.go drives the real one.
func promDriveRequests(t *testing.T, rec *prom.Recorder, n int) trace.TraceID {
	t.Helper()
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond) // a server phase worth measuring
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0","namespace":"default"}}`)
	}))
	t.Cleanup(api.Close)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	client := &http.Client{Transport: instrument.NewTransport(api.Client().Transport,
		instrument.WithReporter(rec), instrument.WithTracerProvider(tp))}

	ctx, parent := tp.Tracer("kubepulse-e2e").Start(t.Context(), "scrape test")
	defer parent.End()
	for range n {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, api.URL+"/api/v1/namespaces/default/pods/web-0", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return parent.SpanContext().TraceID()
}

// promJob is one scrape job of the Prometheus under test.
type promJob struct {
	name, target string
	https        bool
	tokenFile    string // bearer token file, if any
}

// startPrometheus starts a real Prometheus scraping jobs every second, with
// native and classic histograms both kept and exemplar storage on.
func startPrometheus(t *testing.T, jobs ...promJob) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n")
	for _, j := range jobs {
		fmt.Fprintf(&b, "  - job_name: %s\n", j.name)
		b.WriteString("    scrape_native_histograms: true\n    always_scrape_classic_histograms: true\n")
		b.WriteString("    fallback_scrape_protocol: PrometheusText0.0.4\n")
		if j.https {
			// The exporter's certificate is self-signed, as the kubelet's is.
			b.WriteString("    scheme: https\n    tls_config: {insecure_skip_verify: true}\n")
		}
		if j.tokenFile != "" {
			fmt.Fprintf(&b, "    authorization: {type: Bearer, credentials_file: '%s'}\n", j.tokenFile)
		}
		fmt.Fprintf(&b, "    static_configs: [{targets: ['%s']}]\n", j.target)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// Exemplars are stored only with this feature flag (Prometheus 3.16).
	t.Setenv("PROMETHEUS_ARGS", "--enable-feature=exemplar-storage")
	env := framework.Start(t, "prometheus", "--config", cfg)
	return env["PROMETHEUS_URL"]
}

// promSeries is one series of a query result with its float value (NaN for a
// native histogram).
type promSeries struct {
	labels map[string]string
	value  float64
}

func promInstant(t *testing.T, base, q string) ([]promSeries, error) {
	t.Helper()
	res, err := framework.PromQuery(base, q)
	if err != nil {
		return nil, err
	}
	out := make([]promSeries, 0, len(res))
	for _, s := range res {
		v := math.NaN()
		if len(s.Value) == 2 {
			if str, ok := s.Value[1].(string); ok {
				v, _ = strconv.ParseFloat(str, 64)
			}
		}
		out = append(out, promSeries{labels: s.Metric, value: v})
	}
	return out, nil
}

// promExpect waits until q returns exactly one series with value want (and
// the given labels), and returns its labels.
func promExpect(t *testing.T, base, q string, want float64, labels map[string]string) map[string]string {
	t.Helper()
	var got map[string]string
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		res, err := promInstant(t, base, q)
		if err != nil {
			return false, err.Error()
		}
		if len(res) != 1 {
			return false, fmt.Sprintf("%s: %d series %v, want 1", q, len(res), res)
		}
		if math.Abs(res[0].value-want) > 1e-9*math.Max(1, math.Abs(want)) {
			return false, fmt.Sprintf("%s = %v, want %v", q, res[0].value, want)
		}
		for k, v := range labels {
			if res[0].labels[k] != v {
				return false, fmt.Sprintf("%s: labels %v, want %s=%q", q, res[0].labels, k, v)
			}
		}
		got = res[0].labels
		return true, ""
	})
	return got
}

// TestPromScrapedByPrometheus: a real Prometheus scrapes the exporter fed by
// real instrumented requests; the request histogram is there as classic and
// as native histogram, the baselines and anomaly score with their labels, and
// the exemplar of the test's trace.
func TestPromScrapedByPrometheus(t *testing.T) {
	start := time.Now()
	exp := startPromExporter(t, prom.ServerOptions{})
	const n = 20
	traceID := promDriveRequests(t, exp.rec, n)
	promURL := startPrometheus(t, promJob{name: "kubepulse", target: exp.addr})

	promExpect(t, promURL, `up{job="kubepulse"}`, 1, nil)
	sel := `verb="get",resource="pods",scope="resource",code="200"`
	// Classic: cumulative buckets; all n under +Inf.
	promExpect(t, promURL, `kubepulse_request_duration_seconds_bucket{`+sel+`,le="+Inf"}`, n, nil)
	promExpect(t, promURL, `kubepulse_request_duration_seconds_count{`+sel+`}`, n, nil)
	// Native: the same observations in one series.
	promExpect(t, promURL, `histogram_count(kubepulse_request_duration_seconds{`+sel+`})`, n, nil)
	res, err := promInstant(t, promURL, `kubepulse_request_duration_seconds{`+sel+`}`)
	if err != nil || len(res) != 1 {
		t.Fatalf("native series: %v, %v", res, err)
	}
	raw, err := framework.PromQuery(promURL, `kubepulse_request_duration_seconds{`+sel+`}`)
	if err != nil || len(raw) != 1 || raw[0].Histogram == nil {
		t.Fatalf("kubepulse_request_duration_seconds is not a native histogram sample: %+v, %v", raw, err)
	}
	// Every request took ≥ 2 ms at the server: the native histogram's
	// quantile says so too.
	q := `histogram_quantile(0.5, kubepulse_request_duration_seconds{` + sel + `})`
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		r, err := promInstant(t, promURL, q)
		if err != nil || len(r) != 1 {
			return false, fmt.Sprintf("%v %v", r, err)
		}
		return r[0].value >= 0.002 && r[0].value < 1, fmt.Sprintf("%s = %v, want [2ms, 1s)", q, r[0].value)
	})
	promExpect(t, promURL, `histogram_count(kubepulse_request_phase_seconds{verb="get",resource="pods",phase="server"})`, n, nil)

	// Baselines: one series per stat; the empty probe label is absent in
	// Prometheus, the scope is kept.
	for stat, want := range map[string]float64{"ewma_mean": 0.0042, "ewma_stddev": 0.0007, "p50": 0.004, "p95": 0.006, "p99": 0.0085} {
		l := promExpect(t, promURL, `kubepulse_baseline_seconds{verb="get",resource="pods",phase="total",stat="`+stat+`"}`, want,
			map[string]string{"scope": "resource", "job": "kubepulse"})
		if _, ok := l["probe"]; ok {
			t.Errorf("probe label on a non-probe key: %v", l)
		}
	}
	promExpect(t, promURL, `kubepulse_anomaly_score{verb="get",resource="pods",phase="total"}`, 0.93, map[string]string{"scope": "resource"})
	promExpect(t, promURL, `kubepulse_baseline_state{verb="get",resource="pods",phase="total"}`, 1, map[string]string{"state": "firing"})
	promExpect(t, promURL, `kubepulse_baseline_samples{verb="get",resource="pods",phase="total"}`, 512, nil)
	// The learning probe key: its unknown quantiles are absent, not NaN.
	promExpect(t, promURL, `count(kubepulse_baseline_seconds{probe="node_get_cached"})`, 1, nil)
	promExpect(t, promURL, `kubepulse_baseline_state{probe="node_get_cached"}`, 1, map[string]string{"state": "learning"})
	promExpect(t, promURL, `count(kubepulse_baseline_state)`, 2, nil) // one series per key: its current state
	promExpect(t, promURL, `kubepulse_alerts{alertname="KubeAPILatencyDrift",state="firing"}`, 1, nil)
	promExpect(t, promURL, `kubepulse_alerts{alertname="KubeAPIUnreachable",state="firing"}`, 0, nil)
	promExpect(t, promURL, `kubepulse_baseline_keys`, 2, nil)
	// The checkpoint's age is PromQL's job.
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		r, err := promInstant(t, promURL, `time() - kubepulse_checkpoint_last_success_timestamp_seconds`)
		if err != nil || len(r) != 1 {
			return false, fmt.Sprintf("%v %v", r, err)
		}
		return r[0].value > 0, fmt.Sprintf("age %v", r[0].value)
	})
	// Runtime collectors of our own registry.
	for _, q := range []string{`go_goroutines{job="kubepulse"}`, `process_resident_memory_bytes{job="kubepulse"}`,
		`promhttp_metric_handler_requests_total{job="kubepulse",code="200"}`} {
		framework.Eventually(t, 10*time.Second, func() (bool, string) {
			r, err := promInstant(t, promURL, q)
			return err == nil && len(r) == 1 && r[0].value > 0, fmt.Sprintf("%s: %v %v", q, r, err)
		})
	}

	// The exemplar: the trace of the requests, findable from the histogram.
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		ids, err := promExemplarTraceIDs(promURL, `{__name__=~"kubepulse_request_duration_seconds(_bucket)?",verb="get",resource="pods"}`, start)
		if err != nil {
			return false, err.Error()
		}
		for _, id := range ids {
			if id == traceID.String() {
				return true, ""
			}
		}
		return false, fmt.Sprintf("exemplar trace IDs %v, want %s", ids, traceID)
	})
}

// promExemplarTraceIDs returns the trace_id of every exemplar of q since start.
func promExemplarTraceIDs(base, q string, start time.Time) ([]string, error) {
	var r struct {
		Status string `json:"status"`
		Data   []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	u := fmt.Sprintf("%s/api/v1/query_exemplars?query=%s&start=%d&end=%d", base, url.QueryEscape(q),
		start.Add(-time.Minute).Unix(), time.Now().Add(time.Minute).Unix())
	if err := framework.GetJSON(u, &r); err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range r.Data {
		for _, e := range s.Exemplars {
			ids = append(ids, e.Labels["trace_id"])
		}
	}
	return ids, nil
}

// promTargetError returns the last scrape error of job's target.
func promTargetError(base, job string) (health, lastError string, err error) {
	var r struct {
		Data struct {
			ActiveTargets []struct {
				Labels    map[string]string `json:"labels"`
				Health    string            `json:"health"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := framework.GetJSON(base+"/api/v1/targets?state=active", &r); err != nil {
		return "", "", err
	}
	for _, tg := range r.Data.ActiveTargets {
		if tg.Labels["job"] == job {
			return tg.Health, tg.LastError, nil
		}
	}
	b, _ := json.Marshal(r)
	return "", "", fmt.Errorf("no target of job %s: %s", job, b)
}
