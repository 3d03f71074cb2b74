package instrument

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// tracker follows one request from RoundTrip to the end of its body. One is
// allocated per request; it is never pooled, because net/http may call the
// httptrace hooks of a dial it started for this request after the request has
// finished (the dial lost the race to an idle connection).
type tracker struct {
	t       *transport
	req     *http.Request // what goes to the next transport
	span    trace.Span
	spanCtx context.Context
	start   time.Time

	// Marks are nanoseconds since start, plus one so that 0 means "not yet".
	// httptrace hooks run on the dial goroutine too, hence atomics.
	marks  [numMarks]atomic.Int64
	reused atomic.Bool

	obs       Observation
	body      io.ReadCloser
	done      atomic.Bool
	stopAfter func() bool // stops the context.AfterFunc of a stream

	trace httptrace.ClientTrace
	attrs [10]attribute.KeyValue // start and end attributes, reused
	evOpt [1]trace.EventOption
}

// mark indexes tracker.marks.
type mark uint8

const (
	markDNSStart mark = iota
	markDNSDone
	markConnectStart
	markConnectDone
	markTLSStart
	markTLSDone
	markGotConn
	markWrote
	markFirstByte
	numMarks
)

// since is now as a mark.
func (tk *tracker) since() int64 { return int64(time.Since(tk.start)) + 1 }

// first records m unless it is already set (the first attempt of a phase
// starts it); last always records (the last one to finish ends it).
func (tk *tracker) first(m mark) { tk.marks[m].CompareAndSwap(0, tk.since()) }
func (tk *tracker) last(m mark)  { tk.marks[m].Store(tk.since()) }

// initTrace sets the httptrace hooks. Each is a closure over tk.
func (tk *tracker) initTrace() {
	tk.trace = httptrace.ClientTrace{
		DNSStart:          func(httptrace.DNSStartInfo) { tk.first(markDNSStart) },
		DNSDone:           func(httptrace.DNSDoneInfo) { tk.last(markDNSDone) },
		ConnectStart:      func(string, string) { tk.first(markConnectStart) },
		ConnectDone:       func(string, string, error) { tk.last(markConnectDone) },
		TLSHandshakeStart: func() { tk.first(markTLSStart) },
		TLSHandshakeDone:  func(tls.ConnectionState, error) { tk.last(markTLSDone) },
		GotConn: func(i httptrace.GotConnInfo) {
			tk.reused.Store(i.Reused)
			tk.last(markGotConn)
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { tk.last(markWrote) },
		GotFirstResponseByte: func() { tk.first(markFirstByte) },
	}
}

// response handles what the next transport returned: an error finishes the
// request now; a response with a body finishes when the body does.
func (tk *tracker) response(resp *http.Response, err error) (*http.Response, error) {
	if err != nil {
		tk.finish(classifyError(err))
		return resp, err
	}
	tk.obs.StatusCode = resp.StatusCode
	switch {
	case resp.ProtoMajor == 2:
		tk.obs.Protocol = ProtoHTTP2
	case resp.ProtoMajor == 1:
		tk.obs.Protocol = ProtoHTTP1
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		tk.obs.LongRunning = true
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		tk.finish(ErrNone)
		return resp, nil
	}
	tk.body = resp.Body
	if rwc, ok := resp.Body.(readWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		// An upgraded connection (exec, attach, port-forward over SPDY or
		// WebSocket) is written to as well: keep io.Writer.
		resp.Body = &upgradedBody{tk: tk, rwc: rwc}
	} else {
		resp.Body = (*trackedBody)(tk)
	}
	if tk.obs.LongRunning {
		// A stream whose body is never closed still ends when its context
		// does. Registered only now, after every field above is set: the
		// callback may run at once (a context already canceled) on another
		// goroutine. Before the headers, RoundTrip itself returns on cancel.
		tk.stopAfter = context.AfterFunc(tk.req.Context(), func() { tk.end(ErrCanceled, false) })
	}
	return resp, nil
}

// finish ends the request once: phases, span, report.
func (tk *tracker) finish(errc ErrorClass) { tk.end(errc, true) }

// end is finish; stop says whether to deregister the context callback (not
// from the callback itself, which may run before start has stored it).
func (tk *tracker) end(errc ErrorClass, stop bool) {
	if !tk.done.CompareAndSwap(false, true) {
		return
	}
	end := tk.since()
	if stop && tk.stopAfter != nil {
		tk.stopAfter()
	}
	var m [numMarks]int64
	for i := range m {
		m[i] = tk.marks[i].Load()
	}
	o := &tk.obs
	o.GotConn = m[markGotConn] != 0
	o.ConnReused = o.GotConn && tk.reused.Load()
	o.Phases = computePhases(&m, o.ConnReused, end)
	o.Total = time.Duration(end - 1)
	if m[markFirstByte] != 0 {
		o.FirstByte = time.Duration(m[markFirstByte] - 1)
	}
	if errc == ErrNone {
		errc = statusError(o.StatusCode)
	}
	o.Error = errc
	tk.endSpan(&m)
	for _, r := range tk.t.cfg.reporters {
		r.Report(*o)
	}
}

// computePhases turns marks into phase durations that add up to end (all
// marks and end are nanoseconds since start, plus one).
//
//   - dns, connect, tls: this request's own dial, when the connection it got
//     is new; a dial that lost the race to an idle connection is not its time.
//     A phase still running when the request ended (a handshake that timed
//     out) lasts until the end.
//   - conn_wait: start until the request was written, less the dial phases.
//   - server: written until the first response byte (or the end).
//   - transfer: first byte until the end.
func computePhases(m *[numMarks]int64, reused bool, end int64) Phases {
	var p Phases
	written := end // no request written: everything was before it
	switch {
	case m[markWrote] != 0 && (m[markFirstByte] == 0 || m[markWrote] <= m[markFirstByte]):
		written = m[markWrote]
	case m[markFirstByte] != 0:
		// The answer came before the write was reported: HTTP/2 reports
		// WroteRequest from its writer goroutine, which can lag the reader,
		// or the server answered before a large body was sent. The request
		// went out once it had a connection.
		written = m[markFirstByte]
		if g := m[markGotConn]; g != 0 && g <= written {
			written = g
		}
	}
	firstByte := end
	if m[markFirstByte] != 0 {
		firstByte = m[markFirstByte]
		p[PhaseTransfer] = time.Duration(end - firstByte)
	}
	if m[markWrote] != 0 || m[markFirstByte] != 0 {
		p[PhaseServer] = time.Duration(firstByte - written)
	}

	budget := written - 1 // time before the request was on the wire
	if !reused {
		limit := end // a dial that got no connection ran until the end
		if m[markGotConn] != 0 {
			limit = m[markGotConn]
		}
		for _, ph := range [...]struct {
			p          Phase
			start, end mark
		}{{PhaseDNS, markDNSStart, markDNSDone}, {PhaseConnect, markConnectStart, markConnectDone}, {PhaseTLS, markTLSStart, markTLSDone}} {
			s, e := m[ph.start], m[ph.end]
			if s == 0 || s > limit {
				continue
			}
			if e == 0 || e < s || e > limit {
				if m[markGotConn] != 0 {
					continue // still dialing for someone else
				}
				e = limit
			}
			d := min(e-s, budget)
			p[ph.p] = time.Duration(d)
			budget -= d
		}
	}
	p[PhaseConnWait] = time.Duration(budget)
	return p
}

// statusError is the error class of an HTTP status.
func statusError(code int) ErrorClass {
	switch {
	case code == http.StatusTooManyRequests:
		return ErrThrottled
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return ErrAuth
	case code >= 500:
		return ErrServer
	}
	return ErrNone
}
