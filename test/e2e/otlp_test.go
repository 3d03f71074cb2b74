//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/kubepulse/kubepulse/exporters/otlp"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// otlpProtocols are the two OTLP transports, each with the receiver's
// endpoint for OTEL_EXPORTER_OTLP_ENDPOINT.
var otlpProtocols = []struct {
	name, protocol string
	endpoint       func(rx map[string]string) string
	backend        func(rx map[string]string) string // host:port, for the relay
}{
	{"grpc", "grpc",
		func(rx map[string]string) string { return "http://" + rx["OTLP_GRPC_ENDPOINT"] },
		func(rx map[string]string) string { return rx["OTLP_GRPC_ENDPOINT"] }},
	{"http", "http/protobuf",
		func(rx map[string]string) string { return rx["OTLP_HTTP_ENDPOINT"] },
		func(rx map[string]string) string { return strings.TrimPrefix(rx["OTLP_HTTP_ENDPOINT"], "http://") }},
}

// clearOTELEnv unsets the OTEL_* variables of the environment for the test.
func clearOTELEnv(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
		}
	}
}

// otlpDownwardAPI is what the agent passes from NODE_NAME, POD_NAME and
// POD_NAMESPACE; everything else comes from OTEL_* variables.
var otlpDownwardAPI = otlp.Options{NodeName: "node-e2e-1", PodName: "kubepulse-x7k2p", Namespace: "kubepulse-system", ServiceVersion: "v0.0.0-e2e"}

// otlpAPICallSpan ends one span shaped like an instrumented client-go call.
func otlpAPICallSpan(tr trace.Tracer, phase string) {
	_, s := tr.Start(context.Background(), "GET pods", trace.WithSpanKind(trace.SpanKindClient))
	s.SetAttributes(attribute.String("kubepulse.verb", "list"), attribute.String("kubepulse.resource", "pods"),
		attribute.String("kubepulse.test.phase", phase), attribute.Int("http.response.status_code", 200))
	s.AddEvent("server", trace.WithAttributes(attribute.Float64("kubepulse.phase.seconds", 0.012)))
	s.AddEvent("transfer")
	s.End()
}

// Jaeger's /api/traces answer, the parts checked here.
type jaegerTraces struct {
	Data []struct {
		Spans []struct {
			OperationName string      `json:"operationName"`
			Tags          []jaegerTag `json:"tags"`
			Logs          []struct {
				Fields []jaegerTag `json:"fields"`
			} `json:"logs"`
			ProcessID string `json:"processID"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string      `json:"serviceName"`
			Tags        []jaegerTag `json:"tags"`
		} `json:"processes"`
	} `json:"data"`
}

type jaegerTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func jaegerTagMap(tags []jaegerTag) map[string]any {
	m := make(map[string]any, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// queryJaeger returns the traces of service whose spans carry tags.
func queryJaeger(t *testing.T, queryURL, service string, tags map[string]string) jaegerTraces {
	t.Helper()
	tj, _ := json.Marshal(tags)
	q := url.Values{"service": {service}, "tags": {string(tj)}, "limit": {"100"}}
	var got jaegerTraces
	if err := framework.GetJSON(queryURL+"/api/traces?"+q.Encode(), &got); err != nil {
		t.Logf("jaeger: %v", err) // a service Jaeger has not seen yet answers 404 on some versions
		return jaegerTraces{}
	}
	return got
}

func otlpJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Spans arrive in a real receiver (Jaeger v2) over gRPC and over HTTP with
// their names, attributes and events, and a resource describing kubepulse on
// its node, configured only through OTEL_* variables.
func TestOTLPSpansArrive(t *testing.T) {
	rx := framework.Start(t, "otlp-receiver")
	for _, pc := range otlpProtocols {
		t.Run(pc.name, func(t *testing.T) {
			clearOTELEnv(t)
			service := "kubepulse-e2e-arrive-" + pc.name
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", pc.endpoint(rx))
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", pc.protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
			t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-kubepulse-e2e=1")
			t.Setenv("OTEL_SERVICE_NAME", service)
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "k8s.cluster.name=e2e,deployment.environment.name=test")

			p, err := otlp.New(context.Background(), otlpDownwardAPI)
			if err != nil {
				t.Fatal(err)
			}
			if !p.Enabled() {
				t.Fatalf("tracing off: %s", p.DisabledBy())
			}
			otlpAPICallSpan(p.TracerProvider().Tracer("kubepulse-e2e"), "arrive")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil { // flushes
				t.Fatal(err)
			}
			if st := p.Stats(); st.SpansExported != 1 {
				t.Fatalf("stats = %+v, want 1 span exported", st)
			}

			var got jaegerTraces
			framework.Eventually(t, 15*time.Second, func() (bool, string) {
				got = queryJaeger(t, rx["JAEGER_QUERY_URL"], service, map[string]string{"kubepulse.verb": "list"})
				return len(got.Data) == 1 && len(got.Data[0].Spans) == 1, otlpJSON(got)
			})
			tr := got.Data[0]
			s := tr.Spans[0]
			tags := jaegerTagMap(s.Tags)
			if s.OperationName != "GET pods" || tags["kubepulse.resource"] != "pods" || tags["http.response.status_code"] != float64(200) ||
				tags["span.kind"] != "client" {
				t.Errorf("span = %s", otlpJSON(s))
			}
			var events []string
			for _, l := range s.Logs {
				if ev, ok := jaegerTagMap(l.Fields)["event"].(string); ok {
					events = append(events, ev)
				}
			}
			if strings.Join(events, ",") != "server,transfer" {
				t.Errorf("events = %v, want server,transfer: %s", events, otlpJSON(s.Logs))
			}
			proc := tr.Processes[s.ProcessID]
			res := jaegerTagMap(proc.Tags)
			want := map[string]any{
				"service.version": "v0.0.0-e2e", "k8s.node.name": "node-e2e-1", "k8s.pod.name": "kubepulse-x7k2p",
				"k8s.namespace.name": "kubepulse-system", "k8s.cluster.name": "e2e", "deployment.environment.name": "test",
				"telemetry.sdk.language": "go",
			}
			if proc.ServiceName != service {
				t.Errorf("service = %q, want %q", proc.ServiceName, service)
			}
			for k, v := range want {
				if res[k] != v {
					t.Errorf("resource %s = %v, want %v (all: %s)", k, res[k], v, otlpJSON(proc.Tags))
				}
			}
		})
	}
}

// otlpDiscard is the no-op peer of the slowdown measurement: same
// pipeline, an exporter that accepts everything at once.
type otlpDiscard struct{}

func (otlpDiscard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (otlpDiscard) Shutdown(context.Context) error                             { return nil }

// With the receiver down, ending spans is not slowed (compared with a no-op
// exporter, same pipeline, same run) and heap stays bounded; when the
// receiver returns, spans arrive again without restarting anything.
func TestOTLPReceiverDown(t *testing.T) {
	const spansPerRound, rounds = 200_000, 3
	for _, pc := range otlpProtocols {
		t.Run(pc.name, func(t *testing.T) {
			clearOTELEnv(t)
			rx := framework.Start(t, "otlp-receiver")
			rl := startOTLPRelay(t, pc.backend(rx))
			service := "kubepulse-e2e-down-" + pc.name
			endpoint := "http://" + rl.addr
			t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
			t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", pc.protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
			t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
			t.Setenv("OTEL_SERVICE_NAME", service)
			p, err := otlp.New(context.Background(), otlpDownwardAPI)
			if err != nil {
				t.Fatal(err)
			}
			tr := p.TracerProvider().Tracer("kubepulse-e2e")
			peer, err := otlp.New(context.Background(), otlp.Options{Exporter: otlpDiscard{}})
			if err != nil {
				t.Fatal(err)
			}
			peerTr := peer.TracerProvider().Tracer("kubepulse-e2e")

			// Up: a span arrives through the relay.
			otlpAPICallSpan(tr, "before")
			if err := p.ForceFlush(context.Background()); err != nil {
				t.Fatalf("flush with the receiver up: %v", err)
			}
			framework.Eventually(t, 15*time.Second, func() (bool, string) {
				got := queryJaeger(t, rx["JAEGER_QUERY_URL"], service, map[string]string{"kubepulse.test.phase": "before"})
				return len(got.Data) == 1, otlpJSON(got)
			})

			// Down: the receiver stops; its address refuses connections.
			framework.Stop(t, rx["RUN_DIR"], "otlp-receiver")
			rl.down()
			otlpAPICallSpan(tr, "down") // first failure happens before measuring
			if err := p.ForceFlush(context.Background()); err == nil {
				t.Fatal("flush succeeded with the receiver stopped")
			}
			measure := func(tr trace.Tracer) time.Duration {
				start := time.Now()
				for range spansPerRound {
					otlpAPICallSpan(tr, "down")
				}
				return time.Since(start) / spansPerRound
			}
			measure(tr) // fill the queue, warm up
			measure(peerTr)
			heapBefore := otlpHeapInUse()
			bestDown, bestPeer := time.Duration(1<<62), time.Duration(1<<62)
			for range rounds { // interleaved, best of each: robust to a noisy machine
				bestDown = min(bestDown, measure(tr))
				bestPeer = min(bestPeer, measure(peerTr))
			}
			heapAfter := otlpHeapInUse()
			st := p.Stats()
			ratio := float64(bestDown) / float64(bestPeer)
			growth := int64(heapAfter) - int64(heapBefore)
			t.Logf("%s receiver down: %v/span vs no-op exporter %v/span: ratio %.2f; heap in use %.1f → %.1f MiB (growth %+.2f MiB) over %d spans; stats %+v",
				pc.name, bestDown, bestPeer, ratio, otlpMiB(heapBefore), otlpMiB(heapAfter), float64(growth)/(1<<20), rounds*spansPerRound, st)
			if ratio > 2 {
				t.Errorf("ending spans with the receiver down is %.2f× the no-op exporter's cost; want it not slowed (< 2×)", ratio)
			}
			if growth > 16<<20 {
				t.Errorf("heap in use grew %.1f MiB over %d spans with the receiver down; want it bounded by the queue", float64(growth)/(1<<20), rounds*spansPerRound)
			}
			if st.SpansDropped == 0 || st.ExportErrors == 0 || st.QueueLength > st.QueueCapacity {
				t.Errorf("stats = %+v: want drops and export errors counted, the queue within its bound", st)
			}

			// Back: a new receiver (new ports) behind the same address.
			rx2 := framework.Start(t, "otlp-receiver")
			rl.up(pc.backend(rx2))
			resumed := time.Now()
			framework.Eventually(t, 60*time.Second, func() (bool, string) {
				otlpAPICallSpan(tr, "after") // no flush: the pipeline's own batching must resume
				got := queryJaeger(t, rx2["JAEGER_QUERY_URL"], service, map[string]string{"kubepulse.test.phase": "after"})
				return len(got.Data) > 0, fmt.Sprintf("stats %+v", p.Stats())
			})
			t.Logf("%s: spans arrive again %v after the receiver returned", pc.name, time.Since(resumed).Round(100*time.Millisecond))

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown after recovery: %v", err)
			}
			if err := peer.Shutdown(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

func otlpHeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func otlpMiB(b uint64) float64 { return float64(b) / (1 << 20) }

// A receiver that starts after kubepulse is no startup error: spans ended
// before it runs are dropped and counted, later ones arrive.
func TestOTLPReceiverStartsLater(t *testing.T) {
	for _, pc := range otlpProtocols {
		t.Run(pc.name, func(t *testing.T) {
			clearOTELEnv(t)
			rl := startOTLPRelay(t, "127.0.0.1:1")
			rl.down() // nothing listens at the configured address yet
			service := "kubepulse-e2e-later-" + pc.name
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"+rl.addr+map[string]string{"grpc": "", "http": "/v1/traces"}[pc.name])
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", pc.protocol)
			t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2000")
			t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
			t.Setenv("OTEL_SERVICE_NAME", service)
			p, err := otlp.New(context.Background(), otlpDownwardAPI)
			if err != nil {
				t.Fatalf("New with no receiver running: %v", err)
			}
			tr := p.TracerProvider().Tracer("kubepulse-e2e")
			otlpAPICallSpan(tr, "early")
			if err := p.ForceFlush(context.Background()); err == nil {
				t.Fatal("flush succeeded with no receiver")
			}
			if st := p.Stats(); st.ExportErrors == 0 || st.SpansFailed == 0 {
				t.Fatalf("stats = %+v: want the failed export counted", st)
			}

			rx := framework.Start(t, "otlp-receiver")
			rl.up(pc.backend(rx))
			framework.Eventually(t, 60*time.Second, func() (bool, string) {
				otlpAPICallSpan(tr, "later")
				got := queryJaeger(t, rx["JAEGER_QUERY_URL"], service, map[string]string{"kubepulse.test.phase": "later"})
				return len(got.Data) > 0, fmt.Sprintf("stats %+v", p.Stats())
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		})
	}
}
