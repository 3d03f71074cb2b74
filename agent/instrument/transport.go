package instrument

import (
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/client-go/rest"

	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

// instrumentationName is the OTel instrumentation scope of our spans.
const instrumentationName = "github.com/kubepulse/kubepulse/agent/instrument"

// transport is the instrumented http.RoundTripper.
type transport struct {
	next   http.RoundTripper
	cfg    config
	tracer trace.Tracer
	// startOpts is built once: a per-request option slice would allocate.
	startOpts []trace.SpanStartOption
}

// NewTransport returns next instrumented: every request is classified, timed
// phase by phase, traced and reported to the Reporters. next nil means
// http.DefaultTransport.
//
// The request the caller passed is never modified: next gets a copy carrying
// the trace context.
func NewTransport(next http.RoundTripper, opts ...Option) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	cfg := newConfig(opts)
	return &transport{
		next:      next,
		cfg:       cfg,
		tracer:    cfg.tp.Tracer(instrumentationName),
		startOpts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)},
	}
}

// Wrap returns a copy of cfg whose transport is instrumented. Any
// WrapTransport already set keeps working: ours wraps what it returns. The
// API prefix is taken from cfg.Host.
//
// client-go puts authentication, impersonation and user-agent wrappers
// around ours, so the Observation covers exactly the HTTP exchange; client-go's
// own rate limiting and retries happen above it (see RegisterClientGoMetrics).
func Wrap(cfg *rest.Config, opts ...Option) *rest.Config {
	c := rest.CopyConfig(cfg)
	all := make([]Option, 0, len(opts)+1)
	if p := hostPath(cfg.Host); p != "" {
		all = append(all, WithAPIPrefix(p)) // an explicit WithAPIPrefix in opts wins
	}
	all = append(all, opts...)
	c.Wrap(func(rt http.RoundTripper) http.RoundTripper { return NewTransport(rt, all...) })
	return c
}

// hostPath is the base path of a rest.Config Host ("https://h/k8s/c-1" →
// "/k8s/c-1"), or "".
func hostPath(host string) string {
	if host == "" {
		return ""
	}
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	u, err := url.Parse(host)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(u.Path, "/")
}

// WrappedRoundTripper returns the transport this one delegates to, as
// client-go's own wrappers do (k8s.io/apimachinery/pkg/util/net).
func (t *transport) WrappedRoundTripper() http.RoundTripper { return t.next }

// CancelRequest forwards to the wrapped transport, for old callers.
//
// Deprecated: cancel requests with their context.
func (t *transport) CancelRequest(req *http.Request) {
	type canceler interface{ CancelRequest(*http.Request) }
	if c, ok := t.next.(canceler); ok {
		c.CancelRequest(req)
	}
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.cfg.filter != nil && !t.cfg.filter(req) {
		return t.next.RoundTrip(req)
	}
	tk := t.start(req)
	resp, err := t.next.RoundTrip(tk.req)
	return tk.response(resp, err)
}

// classify is the request's class, with the API prefix removed.
func (t *transport) classify(req *http.Request) classify.Class {
	path := req.URL.Path
	if t.cfg.prefix != "" && strings.HasPrefix(path, t.cfg.prefix) {
		path = path[len(t.cfg.prefix):]
	}
	c := classify.Parse(req.Method, path, req.URL.RawQuery)
	if c.Verb == classify.VerbPatch {
		c = c.WithContentType(req.Header.Get("Content-Type"))
	}
	return c
}

// start begins the span and the phase clock, and builds the request that
// goes to the next transport.
func (t *transport) start(req *http.Request) *tracker {
	tk := &tracker{t: t}
	c := t.classify(req)
	tk.obs.Class = c
	tk.obs.Labels = t.cfg.limiter.Labels(c)
	if tk.obs.Labels.Resource == classify.Other {
		tk.obs.Class.Group, tk.obs.Class.Resource, tk.obs.Class.Subresource = "", classify.Other, ""
	}
	tk.obs.Class.Namespace = "" // spans only
	tk.obs.LongRunning = c.LongRunning

	ctx := req.Context()
	if o, ok := ctx.Value(originKey{}).(string); ok {
		tk.obs.Origin = o
	}
	if n, ok := ctx.Value(callKey{}).(*callNote); ok {
		tk.obs.Retries = int(n.attempts.Add(1) - 1)
		tk.obs.ThrottleWait = time.Duration(n.throttle.Swap(0))
	}

	ctx, tk.span = t.tracer.Start(ctx, tk.obs.Labels.SpanName, t.startOpts...)
	if tk.span.IsRecording() {
		tk.span.SetAttributes(tk.startAttributes(req, c)...)
	}
	sc := tk.span.SpanContext()
	tk.obs.TraceID, tk.obs.SpanID, tk.obs.Sampled = sc.TraceID(), sc.SpanID(), sc.IsSampled()
	tk.spanCtx = ctx

	tk.initTrace()
	ctx = httptrace.WithClientTrace(ctx, &tk.trace)
	r := req.WithContext(ctx)
	if sc.IsValid() {
		r.Header = req.Header.Clone()
		if r.Header == nil {
			r.Header = make(http.Header, 2)
		}
		t.cfg.propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	tk.req = r
	tk.start = time.Now()
	tk.obs.Start = tk.start
	return tk
}
