package instrument

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestRoundTripNewThenReusedConnection(t *testing.T) {
	var gotTraceparent, gotAuth []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTraceparent = append(gotTraceparent, r.Header.Get("Traceparent"))
		gotAuth = append(gotAuth, r.Header.Get("Authorization"))
		podHandler(w, r)
	}))
	defer srv.Close()
	tp, spans := newTracing(t)
	col := newCollector()
	rt := NewTransport(srv.Client().Transport, WithTracerProvider(tp), WithReporter(col))

	url := srv.URL + "/api/v1/namespaces/default/pods/web-0?resourceVersion=0"
	for range 2 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer secret-token")
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if len(col.all()) != len(spans.Ended()) {
			t.Fatal("reported before the body ended")
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if req.Header.Get("Traceparent") != "" {
			t.Error("the caller's request was modified")
		}
	}

	first, second := col.wait(t, 1), col.wait(t, 2)
	for i, o := range []Observation{first, second} {
		if o.Key() != "get/pods/resource" || o.Labels.SpanName != "get pods" || o.Class.Resource != "pods" {
			t.Errorf("obs %d: class %+v labels %+v", i, o.Class, o.Labels)
		}
		if o.Class.Namespace != "" {
			t.Errorf("obs %d: namespace %q leaked into the Observation", i, o.Class.Namespace)
		}
		if o.StatusCode != 200 || o.Error != ErrNone || o.Protocol != ProtoHTTP1 || !o.GotConn || o.LongRunning {
			t.Errorf("obs %d: %+v", i, o)
		}
		if o.Phases.Sum() != o.Total || o.Total <= 0 || o.FirstByte <= 0 || o.FirstByte > o.Total {
			t.Errorf("obs %d: phases %v sum %v, total %v, first byte %v", i, o.Phases, o.Phases.Sum(), o.Total, o.FirstByte)
		}
		if o.Phases[PhaseServer] <= 0 || o.Phases[PhaseTransfer] < 0 {
			t.Errorf("obs %d: server %v transfer %v", i, o.Phases[PhaseServer], o.Phases[PhaseTransfer])
		}
		if !o.Sampled || !o.TraceID.IsValid() {
			t.Errorf("obs %d: trace %v sampled %v", i, o.TraceID, o.Sampled)
		}
		if !strings.Contains(gotTraceparent[i], o.TraceID.String()) || !strings.Contains(gotTraceparent[i], o.SpanID.String()) {
			t.Errorf("obs %d: server got traceparent %q, span %s/%s", i, gotTraceparent[i], o.TraceID, o.SpanID)
		}
		if gotAuth[i] != "Bearer secret-token" {
			t.Errorf("obs %d: Authorization did not reach the server", i)
		}
	}
	if first.ConnReused || first.Phases[PhaseConnect] <= 0 || first.Phases[PhaseTLS] <= 0 {
		t.Errorf("first request: reused %v, connect %v, tls %v", first.ConnReused, first.Phases[PhaseConnect], first.Phases[PhaseTLS])
	}
	if !second.ConnReused || second.Phases[PhaseDNS]+second.Phases[PhaseConnect]+second.Phases[PhaseTLS] != 0 {
		t.Errorf("second request: reused %v, dial phases %v", second.ConnReused, second.Phases)
	}

	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want 2", len(ended))
	}
	s := ended[0]
	a := attrs(s)
	if s.Name() != "get pods" || s.SpanKind() != trace.SpanKindClient {
		t.Errorf("span %q kind %v", s.Name(), s.SpanKind())
	}
	for k, want := range map[attribute.Key]string{
		"http.request.method": "GET", "url.full": srv.URL + "/api/v1/namespaces/default/pods/web-0",
		"k8s.namespace.name": "default", AttrVerb: "get", AttrResource: "pods", AttrScope: "resource",
		"server.address": "127.0.0.1", "network.protocol.version": "1.1",
	} {
		if got := a[k].Emit(); got != want {
			t.Errorf("span attribute %s = %q, want %q", k, got, want)
		}
	}
	if a["http.response.status_code"].AsInt64() != 200 || a[AttrConnReused].AsBool() {
		t.Errorf("span attributes %v", a)
	}
	for _, kv := range s.Attributes() {
		if strings.Contains(kv.Value.Emit(), "secret-token") || strings.Contains(kv.Value.Emit(), "resourceVersion") {
			t.Errorf("span attribute %s leaks %q", kv.Key, kv.Value.Emit())
		}
	}
	var events []string
	for _, e := range s.Events() {
		events = append(events, e.Name)
		if e.Time.Before(s.StartTime().Add(-time.Millisecond)) || e.Time.After(s.EndTime()) {
			t.Errorf("event %s at %v outside the span [%v, %v]", e.Name, e.Time, s.StartTime(), s.EndTime())
		}
	}
	if got := strings.Join(events, ","); got != "connect.start,connect.done,tls.start,tls.done,got_conn,wrote_request,first_byte" {
		t.Errorf("events of a new connection: %s", got)
	}
	events = nil
	for _, e := range ended[1].Events() {
		events = append(events, e.Name)
	}
	if got := strings.Join(events, ","); got != "got_conn,wrote_request,first_byte" {
		t.Errorf("events of a reused connection: %s", got)
	}
}

func TestHTTP2(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(podHandler))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	col := newCollector()
	rt := NewTransport(srv.Client().Transport, WithReporter(col))
	for range 3 {
		get(t, rt, srv.URL+"/apis/apps/v1/namespaces/prod/deployments")
	}
	for i, o := range col.all() {
		if o.Protocol != ProtoHTTP2 || o.Key() != "list/deployments.apps/namespace" || o.StatusCode != 200 {
			t.Errorf("obs %d: protocol %v key %s status %d", i, o.Protocol, o.Key(), o.StatusCode)
		}
		if o.ConnReused != (i > 0) {
			t.Errorf("obs %d: reused %v", i, o.ConnReused)
		}
		if o.Phases.Sum() != o.Total {
			t.Errorf("obs %d: phases sum %v != total %v", i, o.Phases.Sum(), o.Total)
		}
	}
	if len(col.all()) != 3 {
		t.Fatalf("%d observations, want 3", len(col.all()))
	}
}

func TestErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	block := make(chan struct{})
	defer close(block)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("do") {
		case "hang":
			select {
			case <-block:
			case <-r.Context().Done():
			}
		case "503":
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case "429":
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many", http.StatusTooManyRequests)
		case "403":
			http.Error(w, "forbidden", http.StatusForbidden)
		case "404":
			http.NotFound(w, r)
		case "cut":
			// Promise a long body, then drop the connection half way.
			conn, buf, _ := w.(http.Hijacker).Hijack()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{\"kind\":")
			_ = buf.Flush()
			_ = conn.Close()
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name    string
		url     string
		rt      http.RoundTripper
		timeout time.Duration
		status  int
		want    ErrorClass
	}{
		{"connection refused", closedURL + "/api/v1/pods", http.DefaultTransport, 0, 0, ErrConnRefused},
		{"untrusted certificate", srv.URL + "/api/v1/pods", &http.Transport{}, 0, 0, ErrTLS},
		{"deadline", srv.URL + "/api/v1/pods?do=hang", srv.Client().Transport, 50 * time.Millisecond, 0, ErrTimeout},
		{"503", srv.URL + "/api/v1/pods?do=503", srv.Client().Transport, 0, 503, ErrServer},
		{"429", srv.URL + "/api/v1/pods?do=429", srv.Client().Transport, 0, 429, ErrThrottled},
		{"403", srv.URL + "/api/v1/pods?do=403", srv.Client().Transport, 0, 403, ErrAuth},
		{"404 is an answer", srv.URL + "/api/v1/pods?do=404", srv.Client().Transport, 0, 404, ErrNone},
		{"body cut short", srv.URL + "/api/v1/pods?do=cut", srv.Client().Transport, 0, 200, ErrEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp, spans := newTracing(t)
			col := newCollector()
			rt := NewTransport(tc.rt, WithReporter(col), WithTracerProvider(tp))
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tc.url, nil)
			resp, err := rt.RoundTrip(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			o := col.wait(t, 1)
			if o.Error != tc.want || o.StatusCode != tc.status {
				t.Errorf("error class %v status %d (err %v), want %v %d", o.Error, o.StatusCode, err, tc.want, tc.status)
			}
			if o.Phases.Sum() > o.Total || o.Key() != "list/pods/cluster" {
				t.Errorf("phases %v total %v key %s", o.Phases, o.Total, o.Key())
			}
			if tc.want == ErrTimeout && (o.Total < tc.timeout*9/10 || o.Phases[PhaseServer] < o.Total/2) {
				t.Errorf("a server that never answers: total %v, server phase %v", o.Total, o.Phases[PhaseServer])
			}
			if tc.want == ErrConnRefused && (o.GotConn || o.Phases[PhaseConnect] <= 0) {
				t.Errorf("refused: got conn %v, connect %v", o.GotConn, o.Phases[PhaseConnect])
			}
			s := spans.Ended()[0]
			if wantErr := tc.want != ErrNone || tc.status >= 400; (s.Status().Code == codes.Error) != wantErr {
				t.Errorf("span status %v", s.Status())
			}
			for _, kv := range s.Attributes() {
				if strings.Contains(kv.Value.Emit(), "do=") {
					t.Errorf("span attribute %s leaks the query: %q", kv.Key, kv.Value.Emit())
				}
			}
		})
	}
}

func TestCanceledWhileReadingBody(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"kind":"PodList","items":[`))
		w.(http.Flusher).Flush()
		<-stop // never end the body: only the client's cancel can
	}))
	defer srv.Close()
	defer close(stop)
	col := newCollector()
	rt := NewTransport(srv.Client().Transport, WithReporter(col))
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/pods", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.Copy(io.Discard, resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v", err)
	}
	o := col.wait(t, 1)
	_ = resp.Body.Close()
	if o.Error != ErrCanceled || o.StatusCode != 200 || o.Phases[PhaseTransfer] <= 0 {
		t.Errorf("%+v", o)
	}
	if n := len(col.all()); n != 1 {
		t.Errorf("%d observations for one request", n)
	}
}

func TestBodyClosedEarlyEndsRequest(t *testing.T) {
	big := strings.Repeat("x", 1<<20)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, big)
	}))
	defer srv.Close()
	tp, spans := newTracing(t)
	col := newCollector()
	rt := NewTransport(srv.Client().Transport, WithReporter(col), WithTracerProvider(tp))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/api/v1/secrets", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadFull(resp.Body, make([]byte, 10))
	if len(col.all()) != 0 || len(spans.Ended()) != 0 {
		t.Fatal("finished before Close")
	}
	_ = resp.Body.Close()
	_ = resp.Body.Close() // twice: still one observation
	if n := len(col.all()); n != 1 || len(spans.Ended()) != 1 {
		t.Fatalf("%d observations, %d spans after Close", n, len(spans.Ended()))
	}
	if o := col.all()[0]; o.Error != ErrNone || o.Phases.Sum() != o.Total {
		t.Errorf("%+v", o)
	}
}

// watchServer streams watch events until the request ends.
func watchServer(t *testing.T) *httptest.Server {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for {
			_, _ = io.WriteString(w, `{"type":"ADDED","object":{"kind":"Pod"}}`+"\n")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWatchEndsOnClose(t *testing.T) {
	srv := watchServer(t)
	tp, spans := newTracing(t)
	col := newCollector()
	rt := NewTransport(srv.Client().Transport, WithReporter(col), WithTracerProvider(tp))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
		srv.URL+"/api/v1/namespaces/a/pods?watch=true&resourceVersion=1", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for range 3 {
		if !sc.Scan() {
			t.Fatal("no event")
		}
	}
	if len(col.all()) != 0 || len(spans.Ended()) != 0 {
		t.Fatal("a watch ended at its headers")
	}
	_ = resp.Body.Close()
	o := col.wait(t, 1)
	if !o.LongRunning || o.Key() != "watch/pods/namespace" || o.Error != ErrNone {
		t.Errorf("%+v", o)
	}
	if ttfb, ok := o.TimeToFirstByte(); !ok || ttfb > o.Total || o.Phases[PhaseTransfer] < 15*time.Millisecond {
		t.Errorf("ttfb %v total %v transfer %v", ttfb, o.Total, o.Phases[PhaseTransfer])
	}
	if s := spans.Ended(); len(s) != 1 || !attrs(s[0])[AttrLongRunning].AsBool() {
		t.Errorf("watch span: %v", s)
	}
}

func TestWatchEndsWithItsContext(t *testing.T) {
	srv := watchServer(t)
	col := newCollector()
	rt := NewTransport(srv.Client().Transport, WithReporter(col))
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/apis/apps/v1/deployments?watch=1", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel() // the body is neither read nor closed
	o := col.wait(t, 1)
	if !o.LongRunning || o.Error != ErrCanceled || o.Key() != "watch/deployments.apps/cluster" {
		t.Errorf("%+v", o)
	}
}

func TestUpgradeKeepsWriter(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test-echo\r\n\r\n")
		_ = buf.Flush()
		line, _ := buf.ReadString('\n')
		_, _ = buf.WriteString("echo " + line)
		_ = buf.Flush()
	}))
	defer srv.Close()
	col := newCollector()
	rt := NewTransport(http.DefaultTransport, WithReporter(col))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/v1/namespaces/a/pods/p/exec?command=sh", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "test-echo")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	rw, ok := resp.Body.(io.ReadWriteCloser)
	if resp.StatusCode != http.StatusSwitchingProtocols || !ok {
		t.Fatalf("status %d, body %T is not an io.ReadWriteCloser", resp.StatusCode, resp.Body)
	}
	if _, err := io.WriteString(rw, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(rw).ReadString('\n')
	if err != nil || line != "echo ping\n" {
		t.Fatalf("read %q, %v", line, err)
	}
	if len(col.all()) != 0 {
		t.Fatal("an upgraded stream ended before Close")
	}
	_ = rw.Close()
	o := col.wait(t, 1)
	if !o.LongRunning || o.StatusCode != 101 || o.Key() != "connect/pods/exec/resource" {
		t.Errorf("%+v", o)
	}
}

func TestParentSamplingRespected(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(podHandler))
	defer srv.Close()
	rec := newCollector()
	spans := tracetest.NewSpanRecorder()
	parentBased := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		sdktrace.WithSpanProcessor(spans))
	rt := NewTransport(srv.Client().Transport, WithReporter(rec), WithTracerProvider(parentBased))
	// A parent that was not sampled: our span must not be either.
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true})
	ctx := trace.ContextWithSpanContext(t.Context(), parent)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/nodes", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	o := rec.wait(t, 1)
	if o.Sampled || o.TraceID != parent.TraceID() || len(spans.Ended()) != 0 {
		t.Errorf("sampled %v trace %v, %d spans recorded", o.Sampled, o.TraceID, len(spans.Ended()))
	}
}

func TestFilter(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(podHandler))
	defer srv.Close()
	col := newCollector()
	rt := NewTransport(srv.Client().Transport, WithReporter(col),
		WithFilter(func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/healthz") }))
	get(t, rt, srv.URL+"/healthz")
	get(t, rt, srv.URL+"/version")
	if all := col.all(); len(all) != 1 || all[0].Key() != "get/version/cluster" {
		t.Errorf("observations %+v", all)
	}
}

func TestCardinalityCap(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(podHandler))
	defer srv.Close()
	col := newCollector()
	rt := NewTransport(srv.Client().Transport, WithReporter(col), WithMaxResources(2))
	for _, g := range []string{"a.example.com", "b.example.com", "c.example.com"} {
		get(t, rt, srv.URL+"/apis/"+g+"/v1/namespaces/ns/things/x")
	}
	get(t, rt, srv.URL+"/api/v1/namespaces/ns/pods/x")
	var got []string
	for _, o := range col.all() {
		got = append(got, o.Labels.Resource+"|"+o.Class.Resource)
	}
	want := "things.a.example.com|things,things.b.example.com|things,other|other,pods|pods"
	if strings.Join(got, ",") != want {
		t.Errorf("resources %v, want %s", got, want)
	}
}

func TestPhaseModes(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(podHandler))
	defer srv.Close()
	for _, tc := range []struct {
		mode  PhaseMode
		check func(t *testing.T, spans []sdktrace.ReadOnlySpan)
	}{
		{PhaseSpans, func(t *testing.T, spans []sdktrace.ReadOnlySpan) {
			names := map[string]bool{}
			var parent sdktrace.ReadOnlySpan
			for _, s := range spans {
				names[s.Name()] = true
				if s.Name() == "get pods" {
					parent = s
				}
			}
			for _, n := range []string{"connect", "tls", "server", "transfer"} {
				if !names[n] {
					t.Errorf("no %s child span; got %v", n, names)
				}
			}
			for _, s := range spans {
				if s != parent && s.Parent().SpanID() != parent.SpanContext().SpanID() {
					t.Errorf("%s is not a child of the request span", s.Name())
				}
			}
		}},
		{PhaseAttributes, func(t *testing.T, spans []sdktrace.ReadOnlySpan) {
			a := attrs(spans[0])
			if a[AttrPhasePrefix+"server"].AsFloat64() <= 0 || len(spans[0].Events()) != 0 {
				t.Errorf("attributes %v, events %v", a, spans[0].Events())
			}
		}},
	} {
		tp, rec := newTracing(t)
		rt := NewTransport(srv.Client().Transport, WithTracerProvider(tp), WithPhaseMode(tc.mode))
		get(t, rt, srv.URL+"/api/v1/namespaces/a/pods/b")
		tc.check(t, rec.Ended())
	}
}

func TestComputePhases(t *testing.T) {
	ms := func(v int) int64 { return int64(v)*int64(time.Millisecond) + 1 }
	for _, tc := range []struct {
		name   string
		marks  map[mark]int
		reused bool
		end    int
		want   Phases
	}{
		{"new connection", map[mark]int{markDNSStart: 1, markDNSDone: 3, markConnectStart: 3, markConnectDone: 5, markTLSStart: 5, markTLSDone: 9, markGotConn: 10, markWrote: 11, markFirstByte: 20}, false, 22,
			Phases{2 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 3 * time.Millisecond, 9 * time.Millisecond, 2 * time.Millisecond}},
		{"reused: a dial that lost the race is not ours", map[mark]int{markDNSStart: 1, markDNSDone: 3, markConnectStart: 3, markGotConn: 4, markWrote: 5, markFirstByte: 8}, true, 9,
			Phases{0, 0, 0, 5 * time.Millisecond, 3 * time.Millisecond, 1 * time.Millisecond}},
		{"new conn dialed for someone else: our unfinished dial is left out", map[mark]int{markDNSStart: 1, markDNSDone: 2, markConnectStart: 2, markGotConn: 6, markWrote: 7, markFirstByte: 9}, false, 10,
			Phases{1 * time.Millisecond, 0, 0, 6 * time.Millisecond, 2 * time.Millisecond, 1 * time.Millisecond}},
		{"TLS handshake timed out", map[mark]int{markConnectStart: 0, markConnectDone: 1, markTLSStart: 1}, false, 30,
			Phases{0, 1 * time.Millisecond, 29 * time.Millisecond, 0, 0, 0}},
		{"connection refused", map[mark]int{markConnectStart: 0, markConnectDone: 2}, false, 2,
			Phases{0, 2 * time.Millisecond, 0, 0, 0, 0}},
		{"no answer before the deadline", map[mark]int{markGotConn: 1, markWrote: 2}, true, 50,
			Phases{0, 0, 0, 2 * time.Millisecond, 48 * time.Millisecond, 0}},
		{"answer before the write was reported (HTTP/2 writer lag)", map[mark]int{markGotConn: 1, markFirstByte: 3, markWrote: 5}, true, 6,
			Phases{0, 0, 0, 1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}},
		{"answer before any write or connection was reported", map[mark]int{markFirstByte: 3}, true, 6,
			Phases{0, 0, 0, 3 * time.Millisecond, 0, 3 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m [numMarks]int64
			for k, v := range tc.marks {
				m[k] = ms(v)
			}
			got := computePhases(&m, tc.reused, ms(tc.end))
			if got != tc.want {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
			if got.Sum() != time.Duration(tc.end)*time.Millisecond {
				t.Errorf("sum %v != total %v", got.Sum(), time.Duration(tc.end)*time.Millisecond)
			}
		})
	}
}

func TestClassifyError(t *testing.T) {
	for err, want := range map[error]ErrorClass{
		context.Canceled:         ErrCanceled,
		context.DeadlineExceeded: ErrTimeout,
		&net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}: ErrDNS,
		&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}:       ErrTimeout,
		io.ErrUnexpectedEOF:               ErrEOF,
		errors.New("http2: stream error"): ErrReset,
		errors.New("something else"):      ErrOther,
		&net.OpError{Op: "dial", Err: errors.New("network is unreachable")}: ErrNetwork,
	} {
		if got := classifyError(err); got != want {
			t.Errorf("classifyError(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestStrings(t *testing.T) {
	var names []string
	for p := range NumPhases {
		names = append(names, p.String())
	}
	if got := strings.Join(names, ","); got != "dns,connect,tls,conn_wait,server,transfer" {
		t.Errorf("phases %s", got)
	}
	seen := map[string]bool{}
	for e := range NumErrorClasses {
		if seen[e.String()] {
			t.Errorf("duplicate error class %q", e.String())
		}
		seen[e.String()] = true
	}
	if ProtoHTTP2.String() != "HTTP/2" || ProtoHTTP1.String() != "HTTP/1.1" {
		t.Error("protocol strings")
	}
	_ = classify.Other
}
