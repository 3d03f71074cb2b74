package instrument

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

// Option configures NewTransport, Wrap and ClientGoMetrics. Options are
// resolved once, when the transport is built.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// PhaseMode chooses how phases appear on a request's span.
type PhaseMode uint8

const (
	// PhaseEvents adds an event per phase boundary (dns.start, dns.done,
	// connect.start, connect.done, tls.start, tls.done, got_conn,
	// wrote_request, first_byte) at the time it happened. The default.
	PhaseEvents PhaseMode = iota
	// PhaseSpans adds a child span per phase that has an interval (dns,
	// connect, tls, server, transfer). Costs a span each.
	PhaseSpans
	// PhaseAttributes adds one attribute per phase duration,
	// kubepulse.phase.<phase> in seconds. The cheapest.
	PhaseAttributes
)

type config struct {
	tp         trace.TracerProvider
	propagator propagation.TextMapPropagator
	reporters  []Reporter
	limiter    *classify.Limiter
	filter     func(*http.Request) bool
	prefix     string
	phaseMode  PhaseMode
}

// defaultLimiter is shared by every transport and client-go hook built
// without WithLimiter, so the cap holds for the whole process.
var defaultLimiter = classify.NewLimiter(classify.DefaultMaxResources)

func newConfig(opts []Option) config {
	c := config{limiter: defaultLimiter}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider() // delegates to whatever is set later
	}
	if c.propagator == nil {
		c.propagator = propagation.TraceContext{}
	}
	return c
}

// WithTracerProvider sets where spans go. The default is the global provider
// (otel.GetTracerProvider), which records nothing until one is set.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithReporter adds a Reporter that receives every finished Observation. It
// may be given more than once; reporters are called in order.
func WithReporter(r Reporter) Option {
	return optionFunc(func(c *config) {
		if r != nil {
			c.reporters = append(c.reporters, r)
		}
	})
}

// WithPropagator sets how the span context travels to the API server. The
// default is W3C Trace Context (traceparent, tracestate). kube-apiserver
// continues the trace when its APIServerTracing feature is on.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.propagator = p })
}

// WithLimiter sets the Limiter that bounds the resource label. The default is
// one Limiter shared by the whole process, keeping
// classify.DefaultMaxResources resources beyond the built-in ones.
func WithLimiter(l *classify.Limiter) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.limiter = l
		}
	})
}

// WithMaxResources is WithLimiter(classify.NewLimiter(n)): a cap of its own
// for this transport.
func WithMaxResources(n int) Option {
	return WithLimiter(classify.NewLimiter(n))
}

// WithFilter instruments only the requests for which keep returns true; the
// others pass through untouched. keep runs on every request: keep it cheap.
func WithFilter(keep func(*http.Request) bool) Option {
	return optionFunc(func(c *config) { c.filter = keep })
}

// WithAPIPrefix names the base path in front of the API root, as in a
// rest.Config Host of "https://rancher/k8s/clusters/c-1". Wrap sets it from
// the config. Without it, classification looks for /api or /apis itself.
func WithAPIPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = strings.TrimSuffix(prefix, "/") })
}

// WithPhaseMode chooses how phases appear on spans; see PhaseMode.
func WithPhaseMode(m PhaseMode) Option {
	return optionFunc(func(c *config) { c.phaseMode = m })
}
