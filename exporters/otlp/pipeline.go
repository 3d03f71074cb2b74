package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// errShutdownDeadline cancels exports still running when Shutdown's context ends.
var errShutdownDeadline = errors.New("otlp: shutdown deadline passed")

// After a failed export the next attempt waits minExportPause, doubling per
// failure up to maxExportPause. Meanwhile the batch in hand is held, the queue
// fills and new spans are dropped at admission, which costs a request almost
// nothing; without the pause, a receiver that refuses connections at once
// (OTLP/HTTP does not retry those) would have every span encoded and sent in
// vain, competing with requests for CPU. maxExportPause bounds how late spans
// resume after the receiver returns.
const (
	minExportPause = 500 * time.Millisecond
	maxExportPause = 5 * time.Second
)

// pipeline is the bounded, counted path of a span: OnEnd → the SDK's
// BatchSpanProcessor → exporter.
//
// The SDK's processor drops spans when its queue is full, but only counts
// them internally. So the pipeline admits a span only while fewer than
// capacity spans are held anywhere in it (queued, batched or being
// exported); the SDK queue (capacity+1: one flush marker) therefore never
// overflows, and every span is counted exactly once as exported, failed or
// dropped. OnEnd never blocks: admission is one atomic add.
type pipeline struct {
	bsp      sdktrace.SpanProcessor
	capacity int64
	log      *slog.Logger
	endpoint string // redacted, for logs

	held             atomic.Int64  // admitted, not yet through the exporter
	admitted         atomic.Uint64 // = exported + failed + held
	exported         atomic.Uint64
	failed           atomic.Uint64
	dropped          atomic.Uint64
	exportErrors     atomic.Uint64
	stopped, failing atomic.Bool
	flushing         atomic.Bool // ForceFlush running: export now, no pause

	pauseMu    sync.Mutex
	pauseUntil time.Time     // no export attempt before this while failing
	pauseFor   time.Duration // grows per failed export up to maxExportPause

	stopping chan struct{}   // closed when Shutdown begins: end any pause
	abort    context.Context // cancelled when Shutdown's deadline passes
	abortNow context.CancelFunc
	flushMu  sync.Mutex // one flush marker in the SDK queue at a time

	errMu   sync.Mutex
	lastErr error

	shutdownOnce sync.Once
	shutdownErr  error
}

// newPipeline wraps exp in the SDK's batch processor, sized from c.
func newPipeline(exp sdktrace.SpanExporter, c *config, log *slog.Logger, endpoint string) *pipeline {
	p := &pipeline{capacity: int64(c.queueSize), log: log, endpoint: endpoint, stopping: make(chan struct{})}
	p.abort, p.abortNow = context.WithCancel(context.Background())
	p.bsp = sdktrace.NewBatchSpanProcessor(&countingExporter{p: p, next: exp},
		sdktrace.WithMaxQueueSize(c.queueSize+1),
		sdktrace.WithMaxExportBatchSize(c.batchSize),
		sdktrace.WithBatchTimeout(c.batchTimeout),
		sdktrace.WithExportTimeout(c.exportTimout),
		// WithBlocking stays off: a full queue must drop, never wait.
	)
	return p
}

// OnStart does nothing: spans are only queued when they end.
func (*pipeline) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd admits a sampled span if there is room, else counts it as dropped.
func (p *pipeline) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return // the SDK's processor ignores these too
	}
	if p.stopped.Load() {
		p.dropped.Add(1)
		return
	}
	if p.held.Add(1) > p.capacity {
		p.held.Add(-1)
		p.dropped.Add(1)
		return
	}
	p.admitted.Add(1)
	p.bsp.OnEnd(s)
}

// ForceFlush exports every span ended before the call, within ctx.
func (p *pipeline) ForceFlush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.flushing.Store(true)
	defer p.flushing.Store(false)
	before := p.failed.Load()
	if err := p.bsp.ForceFlush(ctx); err != nil {
		return fmt.Errorf("otlp: flush: %w", err)
	}
	if n := p.failed.Load() - before; n > 0 {
		return fmt.Errorf("otlp: flush: %d spans failed to export: %w", n, p.lastError())
	}
	return nil
}

// Shutdown stops admitting spans and exports what is held, within ctx. When
// ctx ends first, exports still running are cancelled and the error says how
// many spans were lost. Later calls return the first call's result.
func (p *pipeline) Shutdown(ctx context.Context) error {
	p.shutdownOnce.Do(func() {
		p.stopped.Store(true)
		close(p.stopping)
		failedBefore := p.failed.Load()
		err := p.bsp.Shutdown(ctx) // returns when ctx ends, even mid-export
		if ctx.Err() != nil {
			p.abortNow() // cancel the export in flight; the rest then fail at once
		}
		// Not exported during shutdown = still held + failed since it began.
		// admitted no longer grows; exported no longer grows once exports are
		// cancelled; so this is exact where held+failed read apart is not.
		lost := int64(p.admitted.Load()) - int64(p.exported.Load()) - int64(failedBefore)
		switch {
		case lost > 0:
			cause := err
			if cause == nil {
				if cause = p.lastError(); cause == nil {
					cause = errors.New("ended while shutting down")
				}
			}
			p.shutdownErr = fmt.Errorf("otlp: shutdown: %d spans not exported: %w", lost, cause)
		case err != nil:
			p.shutdownErr = fmt.Errorf("otlp: shutdown: %w", err)
		}
	})
	return p.shutdownErr
}

func (p *pipeline) lastError() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.lastErr
}

// exportFailed counts a failed export; the first failure of an outage is
// logged, the rest only counted (the receiver may be down for hours).
func (p *pipeline) exportFailed(n int, err error) {
	p.pauseMu.Lock()
	p.pauseFor = min(max(2*p.pauseFor, minExportPause), maxExportPause)
	p.pauseUntil = time.Now().Add(p.pauseFor)
	p.pauseMu.Unlock()
	p.failed.Add(uint64(n))
	p.exportErrors.Add(1)
	p.errMu.Lock()
	p.lastErr = err
	p.errMu.Unlock()
	if p.failing.CompareAndSwap(false, true) {
		p.log.Warn("OTLP trace export failing; spans are dropped and counted until the receiver answers",
			"endpoint", p.endpoint, "spans", n, "error", err)
	}
}

func (p *pipeline) exportSucceeded(n int) {
	p.pauseMu.Lock()
	p.pauseFor, p.pauseUntil = 0, time.Time{}
	p.pauseMu.Unlock()
	p.exported.Add(uint64(n))
	if p.failing.CompareAndSwap(true, false) {
		p.log.Info("OTLP trace export recovered", "endpoint", p.endpoint,
			"spans_failed_total", p.failed.Load(), "spans_dropped_total", p.dropped.Load())
	}
}

// pause waits until the next export attempt is due after failures. Shutdown
// and ForceFlush try at once.
func (p *pipeline) pause(ctx context.Context) error {
	if p.stopped.Load() || p.flushing.Load() {
		return nil
	}
	p.pauseMu.Lock()
	d := time.Until(p.pauseUntil)
	p.pauseMu.Unlock()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-p.stopping:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-p.abort.Done():
		return errShutdownDeadline
	}
}

// countingExporter sees every batch the SDK processor exports: it releases
// the batch's spans from the pipeline's bound and counts the outcome.
type countingExporter struct {
	p    *pipeline
	next sdktrace.SpanExporter
}

// ExportSpans exports and counts. A failure is counted and logged here and
// not returned: the SDK would hand it to the global OTel error handler,
// which by default logs every failed batch.
func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if err := e.p.pause(ctx); err != nil {
		e.p.held.Add(-int64(len(spans)))
		e.p.exportFailed(len(spans), err)
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(e.p.abort, func() { cancel(errShutdownDeadline) })
	err := e.next.ExportSpans(ctx, spans)
	stop()
	cancel(nil)
	e.p.held.Add(-int64(len(spans)))
	if err != nil {
		e.p.exportFailed(len(spans), err)
	} else {
		e.p.exportSucceeded(len(spans))
	}
	return nil
}

// Shutdown shuts the wrapped exporter down.
func (e *countingExporter) Shutdown(ctx context.Context) error { return e.next.Shutdown(ctx) }
