package instrument

import (
	"context"
	"net/url"
	"sync/atomic"
	"time"

	"k8s.io/client-go/tools/metrics"

	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

// ClientGoReporter receives the signals client-go measures above the
// transport, where no RoundTripper can see them: time spent in its own rate
// limiter (client-side throttling, not the server's fault) and retries. Like
// Reporter, its methods run on the request's goroutine and must not block.
type ClientGoReporter interface {
	// ReportRateLimiterWait is the time one attempt waited in client-go's
	// QPS/Burst limiter, with the bounded labels of what it was waiting to send.
	ReportRateLimiterWait(l classify.Labels, wait time.Duration)
	// ReportRetry counts an attempt client-go sent again (after a Retry-After
	// or a connection reset). method is the HTTP method; code is the status of
	// the retried attempt as client-go gives it ("429", "500", "<error>").
	ReportRetry(method, code string)
}

// ClientGoMetrics returns client-go tools/metrics hooks that report to r: the
// rate limiter latency and the retry counter. Fields it leaves nil (request
// latency, results, sizes, ...) may be filled by the caller before
// registering. Use it to hand our hooks to whoever registers them, e.g.
// controller-runtime's metrics.RegisterClientMetrics.
//
// Only WithLimiter (or WithMaxResources) among opts applies.
func ClientGoMetrics(r ClientGoReporter, opts ...Option) metrics.RegisterOpts {
	cfg := newConfig(opts)
	return metrics.RegisterOpts{
		RateLimiterLatency: &rateLimiterHook{r: r, limiter: cfg.limiter},
		RequestRetry:       &retryHook{r: r},
	}
}

// RegisterClientGoMetrics installs ClientGoMetrics(r, opts...) with
// client-go's metrics.Register and reports whether they are now the hooks
// client-go calls. metrics.Register takes effect only the first time it is
// called in a process (a sync.Once inside client-go): false means someone
// registered first, and our hooks are not installed. See the package doc.
func RegisterClientGoMetrics(r ClientGoReporter, opts ...Option) bool {
	o := ClientGoMetrics(r, opts...)
	metrics.Register(o)
	return metrics.RateLimiterLatency == o.RateLimiterLatency
}

type rateLimiterHook struct {
	r       ClientGoReporter
	limiter *classify.Limiter
}

// Observe is called by client-go with the URL template of the request
// (/api/v1/namespaces/{namespace}/pods/{name}) before it is sent.
func (h *rateLimiterHook) Observe(ctx context.Context, verb string, u url.URL, latency time.Duration) {
	if n, ok := ctx.Value(callKey{}).(*callNote); ok {
		n.throttle.Store(int64(latency))
	}
	h.r.ReportRateLimiterWait(h.limiter.Labels(classify.Parse(verb, u.Path, u.RawQuery)), latency)
}

type retryHook struct{ r ClientGoReporter }

func (h *retryHook) IncrementRetry(_ context.Context, code, method, _ string) {
	h.r.ReportRetry(method, code)
}

// originKey is the context key of WithOrigin's name.
type originKey struct{}

// WithOrigin returns a context whose calls report origin in
// Observation.Origin, so that a Reporter can tell apart calls of the same
// class made for different reasons (the agent names its probes this way:
// a cached and a quorum GET of a Node are one class but two series). Keep
// origins few and fixed: a Reporter may use them as label values.
func WithOrigin(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

// callKey is the context key of a callNote.
type callKey struct{}

// callNote joins client-go's hooks and the transport for one call: both see
// the call's context (the transport a child of it).
type callNote struct {
	throttle atomic.Int64 // last rate limiter wait, taken by the next attempt
	attempts atomic.Int32
}

// TrackCall returns a context that attributes client-go's rate-limiter wait
// and retry count to the Observations of the call made with it:
//
//	pod, err := cs.CoreV1().Pods(ns).Get(instrument.TrackCall(ctx), name, metav1.GetOptions{})
//
// Use a new one per call: attempts are counted per context. It costs one
// small allocation; calls without it are measured the same way, only their
// ThrottleWait and Retries stay 0. The rate-limiter wait needs our client-go
// hooks installed (RegisterClientGoMetrics); the retry count does not.
func TrackCall(ctx context.Context) context.Context {
	return context.WithValue(ctx, callKey{}, &callNote{})
}
