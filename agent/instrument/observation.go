package instrument

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

// Reporter receives every finished Observation.
//
// Report is called on the goroutine that finished the request: the one that
// called RoundTrip (errors, empty bodies), read the body to its end, or closed
// it. It must be cheap and must never block: hand work to a bounded queue and
// count what it drops. The Observation is a value; keep it as long as you like.
type Reporter interface {
	Report(Observation)
}

// ReporterFunc adapts a function to a Reporter.
type ReporterFunc func(Observation)

// Report calls f(o).
func (f ReporterFunc) Report(o Observation) { f(o) }

// Phase is one step of an HTTP request, from the caller's side.
type Phase uint8

// The phases, in the order they happen. Their durations add up to the
// request's total (see Observation.Phases).
const (
	// PhaseDNS resolves the API server's name (new connections only).
	PhaseDNS Phase = iota
	// PhaseConnect is the TCP handshake (new connections only).
	PhaseConnect
	// PhaseTLS is the TLS handshake (new connections only).
	PhaseTLS
	// PhaseConnWait is everything else until the request is on the wire:
	// waiting for an idle connection, a connection slot or a free HTTP/2
	// stream, and writing the request headers and body.
	PhaseConnWait
	// PhaseServer is request written → first response byte: the server's time
	// plus one network round trip.
	PhaseServer
	// PhaseTransfer is first response byte → body read to its end or closed.
	PhaseTransfer
	// NumPhases is the number of phases.
	NumPhases
)

var phaseNames = [NumPhases]string{"dns", "connect", "tls", "conn_wait", "server", "transfer"}

// String is the phase's label value: dns, connect, tls, conn_wait, server, transfer.
func (p Phase) String() string {
	if p < NumPhases {
		return phaseNames[p]
	}
	return "unknown"
}

// Phases holds a duration per Phase; a phase that did not happen is 0.
type Phases [NumPhases]time.Duration

// Sum is the total of all phases. It never exceeds Observation.Total.
func (p Phases) Sum() time.Duration {
	var s time.Duration
	for _, d := range p {
		s += d
	}
	return s
}

// ErrorClass says why a request failed, in a small fixed set of label values.
type ErrorClass uint8

// The error classes. ErrNone is a request that got a response that is not an
// error (1xx–4xx other than 401, 403 and 429: a 404 or 409 is an answer).
const (
	ErrNone        ErrorClass = iota
	ErrCanceled               // the caller's context was canceled
	ErrTimeout                // a deadline or timeout expired
	ErrDNS                    // the name did not resolve
	ErrConnRefused            // nothing listens (ECONNREFUSED)
	ErrReset                  // the peer reset the connection (ECONNRESET, EPIPE, HTTP/2 RST)
	ErrEOF                    // the connection closed early
	ErrTLS                    // handshake or certificate failure
	ErrNetwork                // another network error (unreachable, ...)
	ErrAuth                   // HTTP 401 or 403
	ErrThrottled              // HTTP 429: API priority and fairness rejected it
	ErrServer                 // HTTP 5xx
	ErrOther                  // anything else
	NumErrorClasses
)

var errorNames = [NumErrorClasses]string{"", "canceled", "timeout", "dns", "connection_refused",
	"reset", "eof", "tls", "network", "http_auth", "http_429", "http_5xx", "other"}

// String is the class's label value ("" for ErrNone).
func (e ErrorClass) String() string {
	if e < NumErrorClasses {
		return errorNames[e]
	}
	return "other"
}

// Protocol is the HTTP version a response came with.
type Protocol uint8

// The protocols. ProtoUnknown means no response arrived.
const (
	ProtoUnknown Protocol = iota
	ProtoHTTP1
	ProtoHTTP2
)

// String is "HTTP/1.1", "HTTP/2" or "".
func (p Protocol) String() string {
	switch p {
	case ProtoHTTP1:
		return "HTTP/1.1"
	case ProtoHTTP2:
		return "HTTP/2"
	}
	return ""
}

// Observation is one finished HTTP request to the API server: what it was,
// how long each phase took and how it ended.
//
// Long-running requests (watch, follow, exec, attach, port-forward, proxy, and
// any 101 Switching Protocols) have LongRunning set: only TimeToFirstByte and
// Total mean something for them, and they must never feed latency baselines.
type Observation struct {
	// Class is what was called. Its Resource, Group and Subresource are
	// already folded into classify.Other when over the cardinality cap, and
	// its Namespace is cleared: nothing in it is unbounded.
	Class classify.Class
	// Labels are the bounded label values of Class; Labels.Key
	// ("get/pods/resource") is the stable prefix for baseline keys.
	Labels classify.Labels
	// LongRunning is Class.LongRunning, or a 101 Switching Protocols answer.
	LongRunning bool

	Start     time.Time     // when RoundTrip was called
	Total     time.Duration // RoundTrip called → body read to its end, closed, or the error
	FirstByte time.Duration // RoundTrip called → first response byte; 0 if none arrived
	Phases    Phases        // sum ≤ Total

	StatusCode int        // 0 if no response arrived
	Error      ErrorClass // ErrNone on success
	GotConn    bool       // a connection was obtained
	ConnReused bool       // ... and it had carried requests before
	Protocol   Protocol

	// ThrottleWait is the time client-go's rate limiter held this attempt
	// before it was sent, and Retries how many attempts of the same call came
	// before it. Both are known only for calls made with a context from
	// TrackCall while the client-go hooks are installed (see the package doc);
	// otherwise they are 0 and the same signals arrive through a
	// ClientGoReporter, per class instead of per call.
	ThrottleWait time.Duration
	Retries      int

	// Origin is the caller's name for the call, from WithOrigin (e.g. the
	// agent's probe name); "" for calls made without one.
	Origin string

	TraceID trace.TraceID // zero when no span context
	SpanID  trace.SpanID
	Sampled bool // the span is sampled: TraceID is worth an exemplar
}

// Key is Labels.Key: "verb/resource/scope".
func (o Observation) Key() string { return o.Labels.Key }

// TimeToFirstByte is the time from RoundTrip to the first response byte, and
// false when none arrived.
func (o Observation) TimeToFirstByte() (time.Duration, bool) {
	return o.FirstByte, o.FirstByte > 0
}

// Failed reports whether the request ended in an error class.
func (o Observation) Failed() bool { return o.Error != ErrNone }
