package otlp

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// newTestProvider builds a Provider around a test exporter, with batching
// that never fires on its own (exports happen when a batch is full, on
// ForceFlush or on Shutdown), so that counts do not depend on timing.
func newTestProvider(t *testing.T, o Options) *Provider {
	t.Helper()
	cleanEnv(t)
	if o.Sampler == "" {
		o.Sampler = "always_on"
	}
	if o.BatchTimeout == 0 {
		o.BatchTimeout = time.Hour
	}
	if o.ExportTimeout == 0 {
		o.ExportTimeout = time.Hour
	}
	p, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// endSpans ends n spans shaped like an instrumented API call.
func endSpans(tp trace.TracerProvider, n int) {
	tr := tp.Tracer("kubepulse-test")
	ctx := context.Background()
	for range n {
		_, s := tr.Start(ctx, "GET pods", trace.WithSpanKind(trace.SpanKindClient))
		s.SetAttributes(attribute.String("kubepulse.verb", "list"), attribute.Int("http.response.status_code", 200))
		s.AddEvent("server")
		s.End()
	}
}

func wantStats(t *testing.T, got, want Stats) {
	t.Helper()
	if got != want {
		t.Fatalf("stats = %+v\nwant    %+v", got, want)
	}
}

// A receiver that never answers: the queue fills, every further span is
// dropped and counted, and ending spans never waits.
func TestDropsCountedWhenExporterBlocked(t *testing.T) {
	b := newBlocked(false)
	p := newTestProvider(t, Options{Exporter: b, MaxQueueSize: 10, MaxExportBatchSize: 5})
	var once sync.Once
	release := func() { once.Do(func() { close(b.release) }) }
	t.Cleanup(release)

	endSpans(p.TracerProvider(), 100) // returns: nothing blocks on the stuck export
	<-b.entered                       // the first full batch is in the exporter
	wantStats(t, p.Stats(), Stats{SpansDropped: 90, QueueLength: 10, QueueCapacity: 10})

	release()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wantStats(t, p.Stats(), Stats{SpansExported: 10, SpansDropped: 90, QueueCapacity: 10})
	if b.spans.Load() != 10 {
		t.Fatalf("exporter got %d spans, want 10", b.spans.Load())
	}
}

// Shutdown exports every held span.
func TestShutdownFlushes(t *testing.T) {
	exp := &recorder{}
	p := newTestProvider(t, Options{Exporter: exp})
	endSpans(p.TracerProvider(), 7)
	if n := exp.len(); n != 0 {
		t.Fatalf("exported %d spans before Shutdown; batching should hold them", n)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := exp.len(); n != 7 {
		t.Fatalf("exported %d spans, want 7", n)
	}
	wantStats(t, p.Stats(), Stats{SpansExported: 7, QueueCapacity: DefaultMaxQueueSize})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// When the deadline passes first, Shutdown returns at the deadline, cancels
// the stuck export, and names how many spans were lost.
func TestShutdownDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBlocked(true)
		p := newTestProvider(t, Options{Exporter: b, MaxQueueSize: 100, MaxExportBatchSize: 10})
		endSpans(p.TracerProvider(), 25)
		synctest.Wait() // the first batch of 10 is stuck in the exporter

		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := p.Shutdown(ctx)
		if took := time.Since(start); took != 2*time.Second {
			t.Errorf("Shutdown took %v, want the 2s deadline", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "otlp: shutdown: 25 spans not exported") {
			t.Fatalf("Shutdown error = %v, want 25 spans not exported and a deadline", err)
		}
		synctest.Wait() // the cancelled exports return, the SDK's goroutine ends
		wantStats(t, p.Stats(), Stats{SpansFailed: 25, ExportErrors: 3, QueueCapacity: 100})
	})
}

// Spans that fail to export during Shutdown are reported with the cause.
func TestShutdownReportsFailedExports(t *testing.T) {
	p := newTestProvider(t, Options{Exporter: &failing{n: -1}})
	endSpans(p.TracerProvider(), 3)
	err := p.Shutdown(context.Background())
	if !errors.Is(err, errReceiverDown) || !strings.Contains(err.Error(), "3 spans not exported") {
		t.Fatalf("Shutdown error = %v, want 3 spans not exported: connection refused", err)
	}
	wantStats(t, p.Stats(), Stats{SpansFailed: 3, ExportErrors: 1, QueueCapacity: DefaultMaxQueueSize})
}

// After Shutdown nothing new is recorded. A span reaching the pipeline while
// it shuts down (the SDK stops calling it once Shutdown returns) is dropped
// and counted.
func TestEndAfterShutdown(t *testing.T) {
	p := newTestProvider(t, Options{Exporter: discard{}})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, s := p.TracerProvider().Tracer("t").Start(context.Background(), "after")
	s.End()
	if s.IsRecording() || s.SpanContext().IsSampled() {
		t.Error("a span started after Shutdown is recorded")
	}
	sampled := tracetest.SpanStub{SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled,
	})}.Snapshot()
	p.pipe.OnEnd(sampled)
	wantStats(t, p.Stats(), Stats{SpansDropped: 1, QueueCapacity: DefaultMaxQueueSize})
}

// ForceFlush reports failed exports even though the exporter's error is not
// handed to the SDK (which would log it through the global handler).
func TestForceFlush(t *testing.T) {
	f := &failing{n: 1}
	p := newTestProvider(t, Options{Exporter: f})
	endSpans(p.TracerProvider(), 2)
	err := p.ForceFlush(context.Background())
	if !errors.Is(err, errReceiverDown) || !strings.Contains(err.Error(), "otlp: flush: 2 spans failed to export") {
		t.Fatalf("ForceFlush = %v, want 2 spans failed: connection refused", err)
	}
	endSpans(p.TracerProvider(), 2)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatalf("second ForceFlush: %v", err)
	}
	wantStats(t, p.Stats(), Stats{SpansExported: 2, SpansFailed: 2, ExportErrors: 1, QueueCapacity: DefaultMaxQueueSize})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// An outage is logged once when it starts and once when it ends, however
// many exports fail in between.
func TestLogOncePerOutage(t *testing.T) {
	var logs logBuffer
	f := &failing{n: 3}
	p := newTestProvider(t, Options{Exporter: f, Logger: logs.logger()})
	flush := func(wantErr bool) {
		t.Helper()
		endSpans(p.TracerProvider(), 1)
		if err := p.ForceFlush(context.Background()); (err != nil) != wantErr {
			t.Fatalf("ForceFlush = %v, want error %v", err, wantErr)
		}
	}
	for range 3 {
		flush(true)
	}
	flush(false)
	flush(false)
	f.set(2) // second outage
	flush(true)
	flush(true)
	flush(false)
	if n := logs.count("OTLP trace export failing"); n != 2 {
		t.Errorf("%d failure lines, want 2 (one per outage):\n%s", n, logs.String())
	}
	if n := logs.count("OTLP trace export recovered"); n != 2 {
		t.Errorf("%d recovery lines, want 2:\n%s", n, logs.String())
	}
	wantStats(t, p.Stats(), Stats{SpansExported: 3, SpansFailed: 5, ExportErrors: 5, QueueCapacity: DefaultMaxQueueSize})
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// While the receiver is down, exports pause (500 ms doubling to 5 s) instead
// of encoding every span in vain; the queue fills and new spans are dropped
// at admission. Spans flow again within the pause after it returns.
func TestPausesWhileReceiverDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &failing{n: -1}
		p := newTestProvider(t, Options{Exporter: f, MaxQueueSize: 100, MaxExportBatchSize: 10, BatchTimeout: 100 * time.Millisecond})
		for range 600 { // 60 s of 100 spans/s
			endSpans(p.TracerProvider(), 10)
			time.Sleep(100 * time.Millisecond)
		}
		calls, _ := f.stats()
		// Pauses 0.5+1+2+4 s, then every 5 s: 15 attempts in 60 s.
		// Without them: one per 10 spans, 600.
		if calls < 12 || calls > 16 {
			t.Errorf("%d export attempts in 60 s down, want about 15", calls)
		}
		st := p.Stats()
		if st.SpansFailed+st.SpansDropped+uint64(st.QueueLength) != 6000 || st.SpansDropped < 5000 ||
			st.QueueLength != 100 || st.ExportErrors != uint64(calls) {
			t.Errorf("stats = %+v after %d failed attempts", st, calls)
		}

		f.set(0) // the receiver is back
		start := time.Now()
		for time.Since(start) < 6*time.Second {
			endSpans(p.TracerProvider(), 10)
			time.Sleep(100 * time.Millisecond)
		}
		if _, spans := f.stats(); spans < 100 {
			t.Errorf("%d spans exported within 6 s of the receiver's return, want the queue and more", spans)
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		st = p.Stats()
		if st.SpansExported+st.SpansFailed+st.SpansDropped != 6600 || st.QueueLength != 0 {
			t.Errorf("stats = %+v: every one of 6600 spans must be counted once", st)
		}
	})
}

// Unsampled spans are neither exported nor counted.
func TestUnsampledNotCounted(t *testing.T) {
	exp := &recorder{}
	p := newTestProvider(t, Options{Exporter: exp, Sampler: "always_off"})
	endSpans(p.TracerProvider(), 10)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := exp.len(); n != 0 {
		t.Fatalf("exported %d unsampled spans", n)
	}
	wantStats(t, p.Stats(), Stats{QueueCapacity: DefaultMaxQueueSize})
}

// Tracing off costs nothing and fails nothing.
func TestDisabledIsNoop(t *testing.T) {
	cleanEnv(t)
	var logs logBuffer
	p, err := New(context.Background(), Options{Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() || !strings.Contains(p.DisabledBy(), "no OTLP endpoint") {
		t.Fatalf("Enabled = %v, DisabledBy = %q", p.Enabled(), p.DisabledBy())
	}
	_, s := p.TracerProvider().Tracer("t").Start(context.Background(), "x")
	if s.IsRecording() {
		t.Error("span recorded with tracing off")
	}
	s.End()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Error(err)
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	wantStats(t, p.Stats(), Stats{})
	if !strings.Contains(logs.String(), "tracing off") {
		t.Errorf("no startup line: %q", logs.String())
	}
}

// With the receiver stuck, heap in use stays bounded by the queue, however
// many spans end. (Unbounded, 200k spans would hold well over 200 MiB.)
func TestMemoryBoundedWhileBlocked(t *testing.T) {
	if testing.Short() {
		t.Skip("ends 200k spans")
	}
	b := newBlocked(false)
	t.Cleanup(func() { close(b.release) })
	p := newTestProvider(t, Options{Exporter: b})
	endSpans(p.TracerProvider(), 10_000) // warm up: fill the queue, grow pools
	before := heapInUse()
	const n = 200_000
	endSpans(p.TracerProvider(), n)
	after := heapInUse()
	st := p.Stats()
	if st.QueueLength != DefaultMaxQueueSize || st.SpansDropped != n+10_000-DefaultMaxQueueSize {
		t.Fatalf("stats = %+v, want a full queue and the rest dropped", st)
	}
	const limit = 8 << 20
	growth := int64(after) - int64(before)
	t.Logf("heap in use: %.1f MiB before, %.1f MiB after %d more spans (growth %.2f MiB)",
		float64(before)/(1<<20), float64(after)/(1<<20), n, float64(growth)/(1<<20))
	if growth > limit {
		t.Fatalf("heap grew %d bytes over %d spans with a full queue; want < %d", growth, n, limit)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
