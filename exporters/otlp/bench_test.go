package otlp

import (
	"context"
	"net"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkEndSpan measures what a traced API call pays for its span (start,
// two attributes, one event, end) through each pipeline, in the same run:
//
//	sdk-batcher/discard  the peer: the SDK's own BatchSpanProcessor, no-op exporter
//	otlp/discard         this package, no-op exporter
//	otlp/blocked         this package, exporter stuck: the queue is full, spans dropped
//	otlp/grpc-down       this package, real OTLP gRPC exporter, receiver port closed
//	otlp/http-down       this package, real OTLP HTTP exporter, receiver port closed
//	tracing-off          the no-op TracerProvider New returns without an endpoint
//
// heap-MiB is the growth of heap in use over the run (after GC): bounded, it
// stays near zero however large b.N is.
func BenchmarkEndSpan(b *testing.B) {
	down := closedPort(b)
	cases := []struct {
		name string
		tp   func(b *testing.B) (trace.TracerProvider, func())
	}{
		{"sdk-batcher/discard", func(*testing.B) (trace.TracerProvider, func()) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}), sdktrace.WithSampler(sdktrace.AlwaysSample()))
			return tp, func() { _ = tp.Shutdown(context.Background()) }
		}},
		{"otlp/discard", withOptions(Options{Exporter: discard{}, Sampler: "always_on"}, nil)},
		{"otlp/blocked", func(b *testing.B) (trace.TracerProvider, func()) {
			x := newBlocked(false)
			tp, stop := withOptions(Options{Exporter: x, Sampler: "always_on"}, nil)(b)
			return tp, func() { close(x.release); stop() }
		}},
		{"otlp/grpc-down", withOptions(Options{Sampler: "always_on"}, map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + down, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"})},
		{"otlp/http-down", withOptions(Options{Sampler: "always_on"}, map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + down, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TIMEOUT": "1000"})},
		{"tracing-off", func(*testing.B) (trace.TracerProvider, func()) { return noop.NewTracerProvider(), func() {} }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			tp, stop := c.tp(b)
			defer stop()
			endSpans(tp, 10_000) // warm up; fills the queue where exports stall
			before := heapInUse()
			b.ReportAllocs()
			b.ResetTimer()
			endSpans(tp, b.N)
			b.StopTimer()
			b.ReportMetric(float64(int64(heapInUse())-int64(before))/(1<<20), "heap-MiB")
		})
	}
}

// withOptions builds a Provider from o and env for a benchmark.
func withOptions(o Options, env map[string]string) func(b *testing.B) (trace.TracerProvider, func()) {
	return func(b *testing.B) (trace.TracerProvider, func()) {
		cleanEnv(b)
		setEnv(b, env)
		p, err := New(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		return p.TracerProvider(), func() {
			ctx, cancel := context.WithTimeout(context.Background(), 0) // drop what is held: not measured
			defer cancel()
			_ = p.Shutdown(ctx)
		}
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
