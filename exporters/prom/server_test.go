package prom

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.opentelemetry.io/otel/trace"
)

var testTraceID = trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}

// recordedRegistry is a registry with a Recorder that saw one sampled
// request, and the baseline of its call.
func recordedRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	r := NewRecorderWithOptions(reg, RecorderOptions{ExemplarInterval: -1})
	o := obs("GET", "/api/v1/namespaces/a/pods/p", "", 200, 4*time.Millisecond)
	o.Sampled, o.TraceID = true, testTraceID
	r.Report(o)
	reg.MustRegister(NewBaselineCollector(baselines{{Verb: "get", Resource: "pods", Scope: "namespace", Phase: "total",
		State: StateNormal, Samples: 100, Mean: 0.004, StdDev: 0.001, P50: 0.004, P95: 0.006, P99: 0.008, Score: 0.1}}))
	return reg
}

func newTestServer(t *testing.T, o ServerOptions) *Server {
	t.Helper()
	if o.Addr == "" && o.Listener == nil {
		o.Addr = "127.0.0.1:0"
	}
	s, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(h http.Handler, path, accept string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", path, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestServerMetricsFormats: one /metrics, three formats, chosen by the
// scraper's Accept header as Prometheus sends it.
func TestServerMetricsFormats(t *testing.T) {
	s := newTestServer(t, ServerOptions{Gatherer: recordedRegistry(t)})
	const exemplar = `# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.004`

	t.Run("text by default", func(t *testing.T) {
		w := get(s.Handler(), "/metrics", "")
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type %q", ct)
		}
		body := w.Body.String()
		for _, want := range []string{
			`kubepulse_request_duration_seconds_bucket{code="200",resource="pods",scope="resource",verb="get",le="0.005"} 1`,
			`kubepulse_baseline_seconds{phase="total",probe="",resource="pods",scope="namespace",stat="p99",verb="get"} 0.008`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("body lacks %s", want)
			}
		}
		if strings.Contains(body, "trace_id") {
			t.Error("the classic text format has no exemplars")
		}
	})
	t.Run("OpenMetrics with exemplars", func(t *testing.T) {
		w := get(s.Handler(), "/metrics", "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5")
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0") {
			t.Errorf("Content-Type %q", ct)
		}
		body := w.Body.String()
		if !strings.Contains(body, `kubepulse_request_duration_seconds_bucket{code="200",resource="pods",scope="resource",verb="get",le="0.005"} 1 `+exemplar) {
			t.Errorf("no exemplar on the bucket:\n%s", grepLines(body, "kubepulse_request_duration_seconds_bucket"))
		}
		if !strings.HasSuffix(body, "# EOF\n") {
			t.Error("OpenMetrics body does not end with # EOF")
		}
	})
	t.Run("protobuf with native histograms", func(t *testing.T) {
		w := get(s.Handler(), "/metrics", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.8,text/plain;q=0.1")
		ct := w.Header().Get("Content-Type")
		if !strings.Contains(ct, "application/vnd.google.protobuf") {
			t.Fatalf("Content-Type %q", ct)
		}
		dec := expfmt.NewDecoder(w.Body, expfmt.Format(ct))
		for {
			var mf dto.MetricFamily
			if err := dec.Decode(&mf); err != nil {
				if errors.Is(err, io.EOF) {
					t.Fatal("kubepulse_request_duration_seconds not in the protobuf scrape")
				}
				t.Fatal(err)
			}
			if mf.GetName() != "kubepulse_request_duration_seconds" {
				continue
			}
			h := mf.GetMetric()[0].GetHistogram()
			if h.GetSchema() != 3 || len(h.GetPositiveSpan()) == 0 || h.GetSampleCount() != 1 {
				t.Errorf("not a native histogram: schema %d, spans %v, count %d", h.GetSchema(), h.GetPositiveSpan(), h.GetSampleCount())
			}
			if len(h.GetBucket()) == 0 {
				t.Error("classic buckets missing next to the native ones")
			}
			var found bool
			for _, e := range h.GetExemplars() {
				for _, l := range e.GetLabel() {
					found = found || l.GetName() == "trace_id" && l.GetValue() == testTraceID.String()
				}
			}
			if !found {
				t.Errorf("no exemplar with the trace ID: %v", h.GetExemplars())
			}
			return
		}
	})
}

// TestServerConcurrentScrapes: scrapes in parallel, in every format, share
// the baseline collector's label pairs (run with -race).
func TestServerConcurrentScrapes(t *testing.T) {
	s := newTestServer(t, ServerOptions{Gatherer: recordedRegistry(t), MaxRequestsInFlight: 8})
	accepts := []string{"", "application/openmetrics-text;version=1.0.0",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 20 {
				if w := get(s.Handler(), "/metrics", accepts[i%len(accepts)]); w.Code != 200 || w.Body.Len() == 0 {
					t.Errorf("scrape: %d, %d bytes", w.Code, w.Body.Len())
					return
				}
			}
		})
	}
	wg.Wait()
}

func grepLines(s, substr string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

func TestServerHealthEndpoints(t *testing.T) {
	notReady := func() error {
		return errors.New("API server unreachable for 45s: dial tcp 10.96.0.1:443: connection refused")
	}
	stuck := func() error { return errors.New("probe loop stuck for 5m0s") }
	for _, tt := range []struct {
		name        string
		live, ready func() error
		path        string
		code        int
		body        string
	}{
		{"live by default", nil, nil, "/healthz", 200, "ok\n"},
		{"ready by default", nil, nil, "/readyz", 200, "ready\n"},
		{"live", func() error { return nil }, notReady, "/healthz", 200, "ok\n"},
		{"not ready, with the reason", nil, notReady, "/readyz", 503, "not ready: API server unreachable for 45s: dial tcp 10.96.0.1:443: connection refused\n"},
		{"stuck loop", stuck, nil, "/healthz", 503, "not ok: probe loop stuck for 5m0s\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, ServerOptions{Gatherer: prometheus.NewRegistry(), Live: tt.live, Ready: tt.ready})
			w := get(s.Handler(), tt.path, "")
			if w.Code != tt.code || w.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body.String(), tt.code, tt.body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("health answers may be cached")
			}
		})
	}
}

func TestServerPprofAndMounts(t *testing.T) {
	status := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "status "+r.URL.Path) })
	mounts := []Mount{{Pattern: "GET /{$}", Handler: status}, {Pattern: "GET /api/v1/status", Handler: status}}

	off := newTestServer(t, ServerOptions{Gatherer: prometheus.NewRegistry(), Mounts: mounts})
	on := newTestServer(t, ServerOptions{Gatherer: prometheus.NewRegistry(), Mounts: mounts, Pprof: true})
	for _, tt := range []struct {
		s    *Server
		path string
		code int
		body string
	}{
		{off, "/debug/pprof/", 404, ""},
		{on, "/debug/pprof/", 200, "goroutine"},
		{on, "/debug/pprof/goroutine?debug=1", 200, "goroutine profile"},
		{on, "/debug/pprof/cmdline", 200, ""},
		{off, "/", 200, "status /"},
		{off, "/api/v1/status", 200, "status /api/v1/status"},
		{off, "/nothing-here", 404, ""},
	} {
		w := get(tt.s.Handler(), tt.path, "")
		if w.Code != tt.code || !strings.Contains(w.Body.String(), tt.body) {
			t.Errorf("pprof %v GET %s: %d %.60q, want %d containing %q", tt.s == on, tt.path, w.Code, w.Body.String(), tt.code, tt.body)
		}
	}
}

// TestServerAuthScope: with Auth on, /metrics, pprof and mounts need a token;
// /healthz, /readyz and Public mounts do not (the kubelet has none).
func TestServerAuthScope(t *testing.T) {
	api := newFakeAPIServer()
	api.allowed["system:serviceaccount:monitoring:prometheus get /"] = true
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "page") })
	s := newTestServer(t, ServerOptions{
		Gatherer: recordedRegistry(t), Pprof: true,
		Auth:   &AuthOptions{Client: api.clientset()},
		Mounts: []Mount{{Pattern: "GET /{$}", Handler: ok}, {Pattern: "GET /public", Handler: ok, Public: true}},
	})
	for _, tt := range []struct {
		path, token string
		code        int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 200},
		{"/public", "", 200},
		{"/metrics", "", 401},
		{"/debug/pprof/heap", "", 401},
		{"/", "", 401},
		{"/metrics", "plain-pod-token", 403},
		{"/debug/pprof/heap", "prometheus-token", 403},
		{"/metrics", "prometheus-token", 200},
		{"/", "prometheus-token", 200},
	} {
		r := httptest.NewRequest("GET", tt.path, nil)
		if tt.token != "" {
			r.Header.Set("Authorization", "Bearer "+tt.token)
		}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != tt.code {
			t.Errorf("GET %s with %q: %d, want %d", tt.path, tt.token, w.Code, tt.code)
		}
	}
}

func TestNewServerErrors(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := http.NotFoundHandler()
	for _, tt := range []struct {
		name string
		o    ServerOptions
		want string
	}{
		{"no gatherer", ServerOptions{Addr: ":0"}, "ServerOptions.Gatherer is required"},
		{"no address", ServerOptions{Gatherer: reg}, "ServerOptions.Addr is empty"},
		{"negative timeout", ServerOptions{Gatherer: reg, Addr: ":0", ReadHeaderTimeout: -time.Second}, "ServerOptions.ReadHeaderTimeout: want ≥ 0, got -1s"},
		{"negative in-flight", ServerOptions{Gatherer: reg, Addr: ":0", MaxRequestsInFlight: -1}, "ServerOptions.MaxRequestsInFlight: want ≥ 0, got -1"},
		{"mount without handler", ServerOptions{Gatherer: reg, Addr: ":0", Mounts: []Mount{{Pattern: "/x"}}}, `Mounts[0] ("/x"): no handler`},
		{"mount over /metrics", ServerOptions{Gatherer: reg, Addr: ":0", Mounts: []Mount{{Pattern: "GET /metrics", Handler: h}}}, `mount "GET /metrics"`},
		{"bad pattern", ServerOptions{Gatherer: reg, Addr: ":0", Mounts: []Mount{{Pattern: "no-slash", Handler: h}}}, `mount "no-slash"`},
		{"half TLS", ServerOptions{Gatherer: reg, Addr: ":0", TLS: &TLSOptions{CertFile: "/x.crt"}}, "want both set or both empty"},
		{"negative reload interval", ServerOptions{Gatherer: reg, Addr: ":0", TLS: &TLSOptions{ReloadInterval: -1}}, "tls.reloadInterval: want ≥ 0"},
		{"auth without client", ServerOptions{Gatherer: reg, Addr: ":0", Auth: &AuthOptions{}}, "auth.client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewServer(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one containing %q", err, tt.want)
			}
		})
	}
}
