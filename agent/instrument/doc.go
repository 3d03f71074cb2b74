// Package instrument times, traces and classifies every request a client-go
// client makes, with one call:
//
//	reg := prometheus.NewRegistry()
//	cfg = instrument.Wrap(cfg, instrument.WithReporter(prom.NewRecorder(reg)),
//		instrument.WithTracerProvider(tp))
//	cs := kubernetes.NewForConfigOrDie(cfg) // clientsets, informers, dynamic clients
//
// # What each request gives
//
// The transport classifies the request from its method and URL
// (package classify: verb, group/resource, subresource, scope, long-running),
// follows it through net/http/httptrace and reports an Observation when it
// ends: at the end of the response body, when the body is closed, or at the
// error. An Observation holds the phases
//
//	dns        resolving the server's name              (new connections only)
//	connect    the TCP handshake                        (new connections only)
//	tls        the TLS handshake                        (new connections only)
//	conn_wait  the rest until the request is written: an idle connection, a
//	           connection slot or a free HTTP/2 stream, and writing it
//	server     request written → first response byte
//	transfer   first response byte → body end or Close
//
// which add up to the total; the status, an error class, whether the
// connection was reused, the protocol, and the trace ID. A dial that loses the
// race to an idle connection is not counted: GotConn tells which connection
// served the request.
//
// Long-running requests — watches, logs with follow=true, exec, attach,
// port-forward, proxy, and any 101 Switching Protocols — end their span when
// the stream is closed (or its context ends) and are marked LongRunning: only
// their time to first byte and their duration mean something, and they never
// feed latency histograms or baselines. An upgraded body stays an io.Writer.
//
// # Spans
//
// Each request gets a client span named "{verb} {resource}" ("list
// deployments.apps") with the HTTP semantic-convention attributes
// (http.request.method, server.address, server.port, url.full without the
// query, http.response.status_code, network.protocol.version, error.type),
// k8s.namespace.name, and kubepulse.verb, kubepulse.resource,
// kubepulse.scope. Phases are span events by default (WithPhaseMode for child
// spans or attributes). The W3C trace context is injected into a copy of the
// request, so a kube-apiserver with APIServerTracing continues the trace; the
// parent's sampling decision is respected. Headers, tokens, bodies and query
// strings are never recorded.
//
// # Reporters
//
// A Reporter receives every Observation on the request's goroutine: it must be
// cheap and must never block. exporters/prom.Recorder turns Observations into
// Prometheus histograms and counters; the kubepulse agent fans them out to it
// and to its baselines. Labels are bounded: resources beyond a cap (100 by
// default, built-in Kubernetes resources excepted) fold into "other".
//
// # client-go's own signals
//
// Two things happen above the transport, inside client-go's rest.Request, where
// no RoundTripper can see them: waiting in client-go's QPS/Burst rate limiter
// (client-side throttling, not the server's fault) and retries. client-go
// reports them through the hooks in k8s.io/client-go/tools/metrics.
// RegisterClientGoMetrics installs hooks that forward them to a
// ClientGoReporter (prom.Recorder is one):
//
//	if !instrument.RegisterClientGoMetrics(rec) {
//		log.Info("client-go metrics hooks were registered by someone else")
//	}
//
// client-go's metrics.Register works only once per process (a sync.Once), so
// whoever calls it first wins and later calls are silently ignored:
//
//   - k8s.io/component-base/metrics/prometheus/restclient registers in its
//     init(), so in a binary that imports it (kube components, many apiserver
//     extensions) RegisterClientGoMetrics returns false. Its
//     rest_client_rate_limiter_duration_seconds still shows throttling.
//   - controller-runtime registers its rest_client_requests_total hook 30 s
//     after start, or when metrics.RegisterClientMetrics(opts) is called.
//     Call crmetrics.RegisterClientMetrics(instrument.ClientGoMetrics(rec))
//     early instead: both sets of hooks are then installed.
//   - Otherwise call RegisterClientGoMetrics at start-up, before clients are
//     built; it returns true.
//
// The hooks receive the call's context, and the transport sees a child of it,
// but not the other way round: nothing the transport learns can reach the hook,
// and the hook cannot put anything into the transport's context. So the rate
// limiter wait and retries are reported per class (not per call) by default.
// To attribute them to a call's Observation, give the call a context from
// TrackCall; the note in it is shared by hook and transport without any
// global lock.
package instrument
