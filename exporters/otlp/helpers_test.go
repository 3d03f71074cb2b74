package otlp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Test exporters. They stand in for a receiver only where the behaviour under
// test is the pipeline's own (counting, bounds, deadlines); the real OTLP
// exporters and receivers are exercised in receiver_test.go and test/e2e.

// discard accepts every batch: the no-op peer of the benchmarks.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// blocked holds every export until release is closed (ignoring the context,
// like a receiver that accepted the connection and never answers), or, with
// honorCtx, until the context ends.
type blocked struct {
	release  chan struct{}
	honorCtx bool
	calls    atomic.Int64
	spans    atomic.Int64
	entered  chan struct{} // receives once per call, if not nil
}

func newBlocked(honorCtx bool) *blocked {
	return &blocked{release: make(chan struct{}), honorCtx: honorCtx, entered: make(chan struct{}, 1000)}
}

func (b *blocked) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	b.calls.Add(1)
	select {
	case b.entered <- struct{}{}:
	default:
	}
	done := ctx.Done()
	if !b.honorCtx {
		done = nil
	}
	select {
	case <-b.release:
		b.spans.Add(int64(len(spans)))
		return nil
	case <-done:
		return context.Cause(ctx)
	}
}

func (b *blocked) Shutdown(context.Context) error { return nil }

// recorder keeps every exported span (tracetest.InMemoryExporter forgets
// them on Shutdown).
type recorder struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func (r *recorder) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spans = append(r.spans, spans...)
	return nil
}

func (r *recorder) Shutdown(context.Context) error { return nil }

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.spans)
}

// failing fails the first n exports (forever if n < 0), then accepts.
type failing struct {
	mu    sync.Mutex
	n     int
	spans int
	calls int
}

func (f *failing) set(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n = n
}

func (f *failing) stats() (calls, spans int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, f.spans
}

var errReceiverDown = errors.New("connection refused")

func (f *failing) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.n != 0 {
		f.n--
		return errReceiverDown
	}
	f.spans += len(spans)
	return nil
}

func (f *failing) Shutdown(context.Context) error { return nil }

// logBuffer is a slog text handler writing to a buffer safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) count(substr string) int { return strings.Count(l.String(), substr) }

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }
