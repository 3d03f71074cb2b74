package otlp_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/kubepulse/kubepulse/exporters/otlp"
)

// The agent's wiring: export configuration from the OTEL_* environment,
// identity from the downward API, Shutdown within the grace period.
func Example() {
	ctx := context.Background()
	p, err := otlp.New(ctx, otlp.Options{
		ServiceVersion: "v0.1.0",
		NodeName:       os.Getenv("NODE_NAME"),
		PodName:        os.Getenv("POD_NAME"),
		Namespace:      os.Getenv("POD_NAMESPACE"),
	})
	if err != nil {
		log.Fatal(err) // names the bad setting, e.g. OTEL_EXPORTER_OTLP_HEADERS
	}
	// Hand p.TracerProvider() to the instrumentation, e.g.
	// instrument.Wrap(cfg, instrument.WithTracerProvider(p.TracerProvider())).
	_, span := p.TracerProvider().Tracer("kubepulse").Start(ctx, "GET pods")
	span.SetAttributes(attribute.String("kubepulse.verb", "list"))
	span.End()

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		log.Print(err) // e.g. "otlp: shutdown: 12 spans not exported: context deadline exceeded"
	}
}

// Stats count every sampled span as exported, failed or dropped; the agent
// exports them as metrics.
func ExampleProvider_Stats() {
	p, err := otlp.New(context.Background(), otlp.Options{
		Exporter: discardExporter{}, // normally the OTLP exporter, from OTEL_* or Options
		Sampler:  "always_on",
	})
	if err != nil {
		log.Fatal(err)
	}
	tr := p.TracerProvider().Tracer("example")
	for range 3 {
		_, span := tr.Start(context.Background(), "GET pods")
		span.End()
	}
	if err := p.Shutdown(context.Background()); err != nil {
		log.Fatal(err)
	}
	st := p.Stats()
	fmt.Printf("exported=%d failed=%d dropped=%d queue=%d/%d\n",
		st.SpansExported, st.SpansFailed, st.SpansDropped, st.QueueLength, st.QueueCapacity)
	// Output: exported=3 failed=0 dropped=0 queue=0/2048
}

type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }
