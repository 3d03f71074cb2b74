package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
)

// DefaultServiceName is service.name unless OTEL_SERVICE_NAME or
// Options.ServiceName says otherwise.
const DefaultServiceName = "kubepulse"

// grpcReconnectMaxDelay caps gRPC's reconnect backoff (120 s by default), so
// spans flow again within seconds of the receiver's return.
const grpcReconnectMaxDelay = 5 * time.Second

// Provider owns the TracerProvider built by New and its export pipeline.
type Provider struct {
	tp         trace.TracerProvider
	sdk        *sdktrace.TracerProvider // nil when tracing is off
	pipe       *pipeline
	disabledBy string
}

// Stats counts what happened to sampled spans. Every span ended before
// Shutdown is eventually exactly one of exported, failed or dropped.
type Stats struct {
	SpansExported uint64 // accepted by the receiver
	SpansFailed   uint64 // in an export that failed (receiver down, timeout, rejected)
	SpansDropped  uint64 // never sent: the queue was full, or Shutdown had begun
	ExportErrors  uint64 // failed export calls
	QueueLength   int    // spans held now: queued, being batched or exported
	QueueCapacity int    // the bound on QueueLength (Options.MaxQueueSize)
}

// New builds a Provider from o and the OTEL_* environment (see Options for
// precedence). Every bad setting is reported in one error naming each
// setting; an unreachable receiver is not an error (it may start later):
// failed exports are counted, and logged once per outage.
func New(ctx context.Context, o Options) (*Provider, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := resolve(o)
	if err != nil {
		return nil, fmt.Errorf("otlp: %w", err)
	}
	if c.disabledBy != "" {
		log.Info("tracing off", "reason", c.disabledBy)
		return &Provider{tp: noop.NewTracerProvider(), disabledBy: c.disabledBy}, nil
	}

	res, err := newResource(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("otlp: resource: %w", err)
	}
	exp, endpoint := o.Exporter, "custom exporter"
	if exp == nil {
		if exp, endpoint, err = newExporter(ctx, c); err != nil {
			return nil, fmt.Errorf("otlp: %s exporter: %w", c.protocol, err)
		}
	}
	pipe := newPipeline(exp, c, log, endpoint)
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(c.sampler),
		sdktrace.WithSpanProcessor(pipe),
	)
	log.Info("tracing on", "protocol", c.protocol, "endpoint", endpoint, "sampler", c.samplerDesc,
		"max_queue_size", c.queueSize, "max_export_batch_size", c.batchSize)
	return &Provider{tp: sdk, sdk: sdk, pipe: pipe}, nil
}

// TracerProvider is what instrumentation uses (instrument.WithTracerProvider);
// a no-op one when tracing is off.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Enabled reports whether spans are exported; if not, DisabledBy says why.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// DisabledBy names the setting that turned tracing off ("" when on).
func (p *Provider) DisabledBy() string { return p.disabledBy }

// Stats returns the export counters (zero when tracing is off).
func (p *Provider) Stats() Stats {
	if p.pipe == nil {
		return Stats{}
	}
	return Stats{
		SpansExported: p.pipe.exported.Load(),
		SpansFailed:   p.pipe.failed.Load(),
		SpansDropped:  p.pipe.dropped.Load(),
		ExportErrors:  p.pipe.exportErrors.Load(),
		QueueLength:   int(max(p.pipe.held.Load(), 0)),
		QueueCapacity: int(p.pipe.capacity),
	}
}

// ForceFlush exports every span ended so far, within ctx; it fails if ctx
// ends first or an export failed.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	return p.pipe.ForceFlush(ctx)
}

// Shutdown ends tracing: new spans are no longer recorded, held spans are
// exported within ctx's deadline, and the exporter's connections closed. If
// spans could not be exported in time the error says how many were lost.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	sdkErr := p.sdk.Shutdown(ctx) // skips processors if ctx is already done
	if err := p.pipe.Shutdown(ctx); err != nil {
		return err
	}
	if sdkErr != nil {
		return fmt.Errorf("otlp: shutdown: %w", sdkErr)
	}
	return nil
}

// newResource describes this process: defaults, then OTEL_RESOURCE_ATTRIBUTES
// and OTEL_SERVICE_NAME, then Options (later sources win).
func newResource(ctx context.Context, o Options) (*resource.Resource, error) {
	base := []attribute.KeyValue{semconv.ServiceName(DefaultServiceName)}
	if v := serviceVersion(o.ServiceVersion); v != "" {
		base = append(base, semconv.ServiceVersion(v))
	}
	var over []attribute.KeyValue
	for _, a := range []struct {
		v  string
		kv func(string) attribute.KeyValue
	}{
		{o.ServiceName, semconv.ServiceName},
		{o.NodeName, semconv.K8SNodeName},
		{o.PodName, semconv.K8SPodName},
		{o.Namespace, semconv.K8SNamespaceName},
	} {
		if a.v != "" {
			over = append(over, a.kv(a.v))
		}
	}
	return resource.New(ctx,
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(base...),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(over...),
	)
}

// serviceVersion is the given version, else the main module's if it has one.
func serviceVersion(v string) string {
	if v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return ""
}

// newExporter builds the OTLP exporter (otlptrace) over the client for
// c.protocol (gRPC or HTTP). The client applies
// the OTEL_EXPORTER_OTLP_* environment itself; only Options-given values are
// passed as options, so that they win. It also returns the endpoint for logs.
func newExporter(ctx context.Context, c *config) (sdktrace.SpanExporter, string, error) {
	endpoint := "the exporter's default (localhost)"
	if s := first(envTracesEndpoint, envEndpoint); s.value != "" {
		if u, err := parseEndpoint(s.name, s.value); err == nil {
			endpoint = redact(u)
		}
	}
	if c.endpoint != nil {
		endpoint = redact(c.endpoint)
	}

	switch c.protocol {
	case protocolGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithDialOption(grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 500 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: grpcReconnectMaxDelay},
			MinConnectTimeout: 20 * time.Second,
		}))}
		if c.endpoint != nil {
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.endpoint.String()))
		}
		if c.headers != nil {
			opts = append(opts, otlptracegrpc.WithHeaders(c.headers))
		}
		if c.tls != nil {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(c.tls)))
		}
		if c.timeout > 0 {
			opts = append(opts, otlptracegrpc.WithTimeout(c.timeout))
		}
		if c.compression == compressionGzip || (c.compression == compressionNone && envGzip()) {
			opts = append(opts, otlptracegrpc.WithCompressor(c.compression))
		}
		exp, err := otlptrace.New(ctx, otlptracegrpc.NewClient(opts...))
		return exp, endpoint, err
	case protocolHTTP:
		var opts []otlptracehttp.Option
		if c.endpoint != nil {
			u := *c.endpoint
			u.Path = path.Join("/", u.Path, tracesPathHTTP)
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
			endpoint = redact(&u)
		}
		if c.headers != nil {
			opts = append(opts, otlptracehttp.WithHeaders(c.headers))
		}
		if c.tls != nil {
			opts = append(opts, otlptracehttp.WithTLSClientConfig(c.tls))
		}
		if c.timeout > 0 {
			opts = append(opts, otlptracehttp.WithTimeout(c.timeout))
		}
		switch c.compression {
		case compressionGzip:
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		case compressionNone:
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.NoCompression))
		}
		exp, err := otlptrace.New(ctx, otlptracehttp.NewClient(opts...))
		return exp, endpoint, err
	}
	return nil, "", errors.New("unknown protocol " + c.protocol) // resolve allows none
}

// envGzip reports whether the environment asks the exporter for gzip (then
// Options.Compression "none" must be passed explicitly to win).
func envGzip() bool { return first(envTracesCompress, envCompression).value == compressionGzip }
