package instrument_test

import (
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/httptrace/otelhttptrace"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/exporters/prom"
)

// The peers of the overhead benchmarks, all in one run against one loopback
// TLS server answering a small Pod (testdata/pod.json):
//
//	bare                the transport alone
//	otelhttp+httptrace  otelhttp spans plus otelhttptrace phase events
//	otelhttp+metrics    otelhttp spans plus its metrics (SDK meter provider)
//	kubepulse           NewTransport with a prom.Recorder on a fresh registry
//
// Every tracer provider is an SDK provider that samples everything and hands
// spans to a simple processor with an exporter that drops them, so export
// costs the same for all. All propagate W3C trace context.

func benchServer(b *testing.B) *httptest.Server {
	pod, err := os.ReadFile("testdata/pod.json")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(pod)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// cpuTime is the process's user + system CPU time so far. The benchmarks
// report it per operation as cpu-ns/op beside the wall time: the server runs
// in the same process and costs the same for every peer, so the difference
// between peers is the instrumentation's own CPU, and it hardly moves with
// other load on the machine (wall time on loopback does, by ±20–40 %).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopCPU runs b.Loop around op and reports cpu-ns/op.
func loopCPU(b *testing.B, op func()) {
	start := cpuTime()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	}
}

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

func benchTracerProvider(b *testing.B) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(discardExporter{})))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// peers returns a wrapper per benchmarked instrumentation.
func peers(b *testing.B) []struct {
	name string
	wrap func(http.RoundTripper) http.RoundTripper
} {
	tp := benchTracerProvider(b)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	tc := propagation.TraceContext{}
	return []struct {
		name string
		wrap func(http.RoundTripper) http.RoundTripper
	}{
		{"bare", func(rt http.RoundTripper) http.RoundTripper { return rt }},
		{"otelhttp+httptrace", func(rt http.RoundTripper) http.RoundTripper {
			return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(tc),
				otelhttp.WithClientTrace(func(ctx context.Context) *httptrace.ClientTrace {
					return otelhttptrace.NewClientTrace(ctx, otelhttptrace.WithoutSubSpans(),
						otelhttptrace.WithTracerProvider(tp))
				}))
		}},
		{"otelhttp+metrics", func(rt http.RoundTripper) http.RoundTripper {
			return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tp), otelhttp.WithPropagators(tc),
				otelhttp.WithMeterProvider(mp))
		}},
		{"kubepulse", func(rt http.RoundTripper) http.RoundTripper {
			return instrument.NewTransport(rt, instrument.WithTracerProvider(tp),
				instrument.WithReporter(prom.NewRecorder(prometheus.NewRegistry())))
		}},
	}
}

// BenchmarkTransport is one GET of a Pod through each peer's RoundTripper.
func BenchmarkTransport(b *testing.B) {
	srv := benchServer(b)
	for _, p := range peers(b) {
		b.Run(p.name, func(b *testing.B) {
			base := srv.Client().Transport.(*http.Transport).Clone()
			defer base.CloseIdleConnections()
			rt := p.wrap(base)
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/namespaces/default/pods/web-0", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			loopCPU(b, func() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			})
		})
	}
}

// BenchmarkClientGoGet is Pods().Get through a real clientset, each peer
// wrapped into the rest.Config the way its users would.
func BenchmarkClientGoGet(b *testing.B) {
	srv := benchServer(b)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for _, p := range peers(b) {
		b.Run(p.name, func(b *testing.B) {
			cfg := &rest.Config{
				Host:            srv.URL,
				TLSClientConfig: rest.TLSClientConfig{CAData: ca},
				RateLimiter:     flowcontrol.NewFakeAlwaysRateLimiter(),
			}
			if p.name == "kubepulse" {
				cfg = instrument.Wrap(cfg, instrument.WithTracerProvider(benchTracerProvider(b)),
					instrument.WithReporter(prom.NewRecorder(prometheus.NewRegistry())))
			} else {
				cfg.Wrap(p.wrap)
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				b.Fatal(err)
			}
			pods := cs.CoreV1().Pods("default")
			ctx := context.Background()
			b.ReportAllocs()
			loopCPU(b, func() {
				if _, err := pods.Get(ctx, "web-0", metav1.GetOptions{}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
