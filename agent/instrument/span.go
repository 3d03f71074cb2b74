package instrument

import (
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

// Span attributes of our own, for what HTTP semantic conventions do not say.
// They carry bounded label values only; the object's namespace goes in
// k8s.namespace.name. Headers, bodies, tokens and query strings never appear.
const (
	AttrVerb        = attribute.Key("kubepulse.verb")          // "list"
	AttrResource    = attribute.Key("kubepulse.resource")      // "deployments.apps/scale"
	AttrScope       = attribute.Key("kubepulse.scope")         // "namespace"
	AttrLongRunning = attribute.Key("kubepulse.long_running")  // true for watch, exec, ...
	AttrConnReused  = attribute.Key("kubepulse.conn.reused")   // the connection carried requests before
	AttrRetries     = attribute.Key("kubepulse.retries")       // attempts of the same call before this one
	AttrThrottle    = attribute.Key("kubepulse.throttle_wait") // seconds in client-go's rate limiter
	// AttrPhasePrefix + phase name ("kubepulse.phase.server") holds the phase
	// in seconds, with PhaseAttributes.
	AttrPhasePrefix = "kubepulse.phase."
)

var (
	phaseAttrKeys [NumPhases]attribute.Key
	// statusText holds "100".."599" so error.type costs no allocation.
	statusText [600]string
	// markEvents names the span events of PhaseEvents.
	markEvents = [numMarks]string{"dns.start", "dns.done", "connect.start", "connect.done",
		"tls.start", "tls.done", "got_conn", "wrote_request", "first_byte"}
)

func init() {
	for p := range NumPhases {
		phaseAttrKeys[p] = attribute.Key(AttrPhasePrefix + p.String())
	}
	for c := 100; c < len(statusText); c++ {
		statusText[c] = strconv.Itoa(c)
	}
}

// startAttributes are the span's attributes known before the request is sent.
func (tk *tracker) startAttributes(req *http.Request, c classify.Class) []attribute.KeyValue {
	u := req.URL
	lab := &tk.obs.Labels
	a := append(tk.attrs[:0],
		semconv.HTTPRequestMethodKey.String(req.Method),
		semconv.ServerAddress(u.Hostname()),
		// url.full without user info and query: the query can hold
		// selectors with user data, and the semantic conventions ask to
		// redact it anyway.
		semconv.URLFull(u.Scheme+"://"+u.Host+u.EscapedPath()),
		AttrVerb.String(lab.Verb),
		AttrResource.String(lab.Resource),
		AttrScope.String(lab.Scope),
	)
	if p, err := strconv.Atoi(u.Port()); err == nil {
		a = append(a, semconv.ServerPort(p))
	} else if u.Scheme == "https" {
		a = append(a, semconv.ServerPort(443))
	} else {
		a = append(a, semconv.ServerPort(80))
	}
	if ns := c.Namespace; ns != "" && ns[0] != '{' {
		a = append(a, semconv.K8SNamespaceName(ns))
	}
	if c.LongRunning {
		a = append(a, AttrLongRunning.Bool(true))
	}
	return a
}

// endSpan adds what the response told and the phases, then ends the span.
func (tk *tracker) endSpan(m *[numMarks]int64) {
	span := tk.span
	if !span.IsRecording() {
		span.End()
		return
	}
	o := &tk.obs
	a := tk.attrs[:0]
	if o.StatusCode != 0 {
		a = append(a, semconv.HTTPResponseStatusCode(o.StatusCode))
	}
	switch o.Protocol {
	case ProtoHTTP1:
		a = append(a, semconv.NetworkProtocolVersion("1.1"))
	case ProtoHTTP2:
		a = append(a, semconv.NetworkProtocolVersion("2"))
	}
	if o.GotConn {
		a = append(a, AttrConnReused.Bool(o.ConnReused))
	}
	if o.Retries > 0 {
		a = append(a, AttrRetries.Int(o.Retries))
	}
	if o.ThrottleWait > 0 {
		a = append(a, AttrThrottle.Float64(o.ThrottleWait.Seconds()))
	}
	// HTTP semantic conventions: a client span with a 4xx or 5xx status is an
	// error, and error.type is the status code; without a response it is the
	// error's class.
	switch {
	case o.StatusCode >= 400 && o.StatusCode < len(statusText):
		a = append(a, semconv.ErrorTypeKey.String(statusText[o.StatusCode]))
		span.SetStatus(codes.Error, "")
	case o.Error != ErrNone:
		a = append(a, semconv.ErrorTypeKey.String(o.Error.String()))
		span.SetStatus(codes.Error, o.Error.String())
	}
	span.SetAttributes(a...)

	switch tk.t.cfg.phaseMode {
	case PhaseEvents:
		tk.phaseEvents(m)
	case PhaseSpans:
		tk.phaseSpans(m)
	case PhaseAttributes:
		a = tk.attrs[:0]
		for p, d := range o.Phases {
			a = append(a, phaseAttrKeys[p].Float64(d.Seconds()))
		}
		span.SetAttributes(a...)
	}
	span.End()
}

// phaseEvents adds an event at each phase boundary this request saw. Dial
// events of a connection it did not use are left out.
func (tk *tracker) phaseEvents(m *[numMarks]int64) {
	for i, v := range m {
		if v == 0 || (mark(i) < markGotConn && (tk.obs.ConnReused || (m[markGotConn] != 0 && v > m[markGotConn]))) {
			continue
		}
		tk.evOpt[0] = trace.WithTimestamp(tk.start.Add(time.Duration(v - 1)))
		tk.span.AddEvent(markEvents[i], tk.evOpt[:]...)
	}
}

// phaseSpans adds a child span for each phase that is an interval.
func (tk *tracker) phaseSpans(m *[numMarks]int64) {
	o := &tk.obs
	child := func(p Phase, from, to time.Duration) {
		if to <= from {
			return
		}
		_, s := tk.t.tracer.Start(tk.spanCtx, p.String(), trace.WithTimestamp(tk.start.Add(from)))
		s.End(trace.WithTimestamp(tk.start.Add(to)))
	}
	if !o.ConnReused {
		for _, d := range [...]struct {
			p    Phase
			from mark
		}{{PhaseDNS, markDNSStart}, {PhaseConnect, markConnectStart}, {PhaseTLS, markTLSStart}} {
			if m[d.from] != 0 && o.Phases[d.p] > 0 {
				from := time.Duration(m[d.from] - 1)
				child(d.p, from, from+o.Phases[d.p])
			}
		}
	}
	transferFrom := o.Total - o.Phases[PhaseTransfer]
	child(PhaseServer, transferFrom-o.Phases[PhaseServer], transferFrom)
	child(PhaseTransfer, transferFrom, o.Total)
}
