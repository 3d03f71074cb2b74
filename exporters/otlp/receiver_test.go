package otlp

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/proto"
)

// receiver is a minimal in-process OTLP trace receiver (gRPC and HTTP) that
// records what the real exporters send, including headers: unit tests check
// wiring (protocol, endpoint, headers, TLS, compression, resource) here, and
// test/e2e checks the same against a real receiver (Jaeger v2).
type receiver struct {
	mu          sync.Mutex
	reqs        []received
	compression string // of the last gRPC request (not visible in metadata)
	coltracepb.UnimplementedTraceServiceServer
}

// TagRPC, HandleRPC, TagConn and HandleConn make receiver a gRPC
// stats.Handler, to see the request's compression.
func (r *receiver) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (r *receiver) HandleRPC(_ context.Context, s stats.RPCStats) {
	if h, ok := s.(*stats.InHeader); ok {
		r.mu.Lock()
		r.compression = h.Compression
		r.mu.Unlock()
	}
}
func (r *receiver) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (r *receiver) HandleConn(context.Context, stats.ConnStats)                       {}

type received struct {
	path    string
	headers map[string]string // lower-case keys
	req     *coltracepb.ExportTraceServiceRequest
}

// span is one received span, flattened for assertions.
type span struct {
	name     string
	attrs    map[string]string
	events   []string
	resource map[string]string
	headers  map[string]string
	path     string
}

func (r *receiver) record(path string, h map[string]string, req *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, received{path, h, req})
}

func (r *receiver) spans() []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []span
	for _, rq := range r.reqs {
		for _, rs := range rq.req.GetResourceSpans() {
			res := kvs(rs.GetResource().GetAttributes())
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					sp := span{name: s.GetName(), attrs: kvs(s.GetAttributes()), resource: res, headers: rq.headers, path: rq.path}
					for _, e := range s.GetEvents() {
						sp.events = append(sp.events, e.GetName())
					}
					out = append(out, sp)
				}
			}
		}
	}
	return out
}

func kvs(in []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range in {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.GetStringValue()
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}

// Export is the gRPC TraceService method.
func (r *receiver) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	h := map[string]string{}
	for k, v := range md {
		h[k] = strings.Join(v, ",")
	}
	r.mu.Lock()
	h["grpc-encoding"] = r.compression
	r.mu.Unlock()
	r.record("grpc", h, req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// ServeHTTP is the OTLP/HTTP protobuf endpoint.
func (r *receiver) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	var body io.Reader = hr.Body
	if hr.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(hr.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	req := &coltracepb.ExportTraceServiceRequest{}
	if err == nil {
		err = proto.Unmarshal(b, req)
	}
	if err != nil || hr.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, fmt.Sprintf("bad request: %v", err), http.StatusBadRequest)
		return
	}
	h := map[string]string{}
	for k, v := range hr.Header {
		h[strings.ToLower(k)] = strings.Join(v, ",")
	}
	r.record(hr.URL.Path, h, req)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// serve starts the receiver for protocol on addr ("127.0.0.1:0" for any
// port), with TLS if cfg is set, and returns its endpoint URL.
func (r *receiver) serve(t *testing.T, protocol, addr string, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if cfg != nil {
		scheme = "https"
	}
	if protocol == protocolGRPC {
		opts := []grpc.ServerOption{grpc.StatsHandler(r)}
		if cfg != nil {
			opts = append(opts, grpc.Creds(credentials.NewTLS(cfg)))
		}
		s := grpc.NewServer(opts...)
		coltracepb.RegisterTraceServiceServer(s, r)
		go func() { _ = s.Serve(ln) }()
		t.Cleanup(s.Stop)
	} else {
		if cfg != nil {
			ln = tls.NewListener(ln, cfg)
		}
		s := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = s.Serve(ln) }()
		t.Cleanup(func() { _ = s.Close() })
	}
	return scheme + "://" + ln.Addr().String()
}

// serverTLS requires a client certificate signed by testdata/ca.pem.
func serverTLS(t *testing.T) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(fixture("server.pem"), fixture("server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(fixture("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

func abs(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Spans reach the receiver with their names, attributes and events, and the
// resource describes kubepulse on its node, configured only by OTEL_* (and
// the downward-API values the agent passes as Options).
func TestExportConfiguredByEnv(t *testing.T) {
	for _, protocol := range []string{protocolGRPC, protocolHTTP} {
		t.Run(protocol, func(t *testing.T) {
			cleanEnv(t)
			rx := &receiver{}
			endpoint := rx.serve(t, protocol, "127.0.0.1:0", nil)
			setEnv(t, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":    endpoint,
				"OTEL_EXPORTER_OTLP_PROTOCOL":    protocol,
				"OTEL_EXPORTER_OTLP_HEADERS":     "x-api-key=s3cr3t%2Cvalue,x-tenant=team-a",
				"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
				"OTEL_SERVICE_NAME":              "kubepulse-unit",
				"OTEL_RESOURCE_ATTRIBUTES":       "deployment.environment.name=unit,k8s.node.name=from-env,k8s.cluster.name=c1",
				"OTEL_TRACES_SAMPLER":            "parentbased_always_on",
			})
			var logs logBuffer
			p, err := New(context.Background(), Options{
				NodeName: "node-a", PodName: "kubepulse-x7k2p", Namespace: "kube-system",
				ServiceVersion: "v1.2.3", Logger: logs.logger(),
			})
			if err != nil {
				t.Fatal(err)
			}
			endSpans(p.TracerProvider(), 3)
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}

			got := rx.spans()
			if len(got) != 3 {
				t.Fatalf("receiver got %d spans, want 3", len(got))
			}
			s := got[0]
			if s.name != "GET pods" || s.attrs["kubepulse.verb"] != "list" || s.attrs["http.response.status_code"] != "200" ||
				len(s.events) != 1 || s.events[0] != "server" {
				t.Errorf("span = %+v", s)
			}
			wantRes := map[string]string{
				"service.name":                "kubepulse-unit", // OTEL_SERVICE_NAME over the default
				"service.version":             "v1.2.3",
				"k8s.node.name":               "node-a", // Options over OTEL_RESOURCE_ATTRIBUTES
				"k8s.pod.name":                "kubepulse-x7k2p",
				"k8s.namespace.name":          "kube-system",
				"k8s.cluster.name":            "c1",
				"deployment.environment.name": "unit",
				"telemetry.sdk.language":      "go",
			}
			for k, v := range wantRes {
				if s.resource[k] != v {
					t.Errorf("resource[%s] = %q, want %q", k, s.resource[k], v)
				}
			}
			if s.headers["x-api-key"] != "s3cr3t,value" || s.headers["x-tenant"] != "team-a" {
				t.Errorf("headers = %v, want the decoded OTEL_EXPORTER_OTLP_HEADERS", s.headers)
			}
			if protocol == protocolHTTP && (s.path != "/v1/traces" || s.headers["content-encoding"] != "gzip") {
				t.Errorf("HTTP path %q, content-encoding %q: want /v1/traces, gzip", s.path, s.headers["content-encoding"])
			}
			if protocol == protocolGRPC && s.headers["grpc-encoding"] != "gzip" {
				t.Errorf("grpc-encoding = %q, want gzip", s.headers["grpc-encoding"])
			}
			wantStats(t, p.Stats(), Stats{SpansExported: 3, QueueCapacity: DefaultMaxQueueSize})
			if l := logs.String(); strings.Contains(l, "s3cr3t") || !strings.Contains(l, "tracing on") {
				t.Errorf("logs reveal a header or lack the startup line:\n%s", l)
			}
		})
	}
}

// TLS with a private CA and a client certificate, from the environment and
// from Options.
func TestExportMutualTLS(t *testing.T) {
	for _, protocol := range []string{protocolGRPC, protocolHTTP} {
		for _, from := range []string{"env", "options"} {
			t.Run(protocol+"/"+from, func(t *testing.T) {
				cleanEnv(t)
				rx := &receiver{}
				endpoint := rx.serve(t, protocol, "127.0.0.1:0", serverTLS(t))
				o := Options{Sampler: "always_on"}
				t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
				if from == "env" {
					setEnv(t, map[string]string{
						"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":    endpoint + map[string]string{protocolGRPC: "", protocolHTTP: "/v1/traces"}[protocol],
						"OTEL_EXPORTER_OTLP_CERTIFICATE":        abs(t, "ca.pem"),
						"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": abs(t, "client.pem"),
						"OTEL_EXPORTER_OTLP_CLIENT_KEY":         abs(t, "client-key.pem"),
					})
				} else {
					o.Endpoint, o.CertificateFile = endpoint, abs(t, "ca.pem")
					o.ClientCertificateFile, o.ClientKeyFile = abs(t, "client.pem"), abs(t, "client-key.pem")
				}
				p, err := New(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				endSpans(p.TracerProvider(), 2)
				if err := p.Shutdown(context.Background()); err != nil {
					t.Fatal(err)
				}
				if n := len(rx.spans()); n != 2 {
					t.Fatalf("receiver got %d spans over TLS, want 2", n)
				}
			})
		}
	}
}

// Options win over the environment; headers merge key by key.
func TestOptionsWinOverEnv(t *testing.T) {
	for _, protocol := range []string{protocolGRPC, protocolHTTP} {
		t.Run(protocol, func(t *testing.T) {
			cleanEnv(t)
			rx := &receiver{}
			endpoint := rx.serve(t, protocol, "127.0.0.1:0", nil)
			setEnv(t, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", // nothing listens on port 1
				"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
				"OTEL_EXPORTER_OTLP_HEADERS":  "x-env=1,x-api-key=from-env",
				"OTEL_SERVICE_NAME":           "from-env",
				"OTEL_TRACES_SAMPLER":         "always_off",
			})
			p, err := New(context.Background(), Options{
				Endpoint: endpoint, Protocol: protocol, Headers: map[string]string{"x-api-key": "from-options"},
				ServiceName: "from-options", Sampler: "always_on", Timeout: 5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			endSpans(p.TracerProvider(), 1)
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := rx.spans()
			if len(got) != 1 {
				t.Fatalf("receiver got %d spans, want 1", len(got))
			}
			if h := got[0].headers; h["x-env"] != "1" || h["x-api-key"] != "from-options" {
				t.Errorf("headers = %v", h)
			}
			if n := got[0].resource["service.name"]; n != "from-options" {
				t.Errorf("service.name = %q", n)
			}
		})
	}
}

// A receiver that is not there yet is no startup error: exports fail,
// counted and logged once; once it listens, spans flow.
func TestReceiverComesLater(t *testing.T) {
	for _, protocol := range []string{protocolGRPC, protocolHTTP} {
		t.Run(protocol, func(t *testing.T) {
			cleanEnv(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close() // the port is free: connections are refused
			setEnv(t, map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr,
				"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
				"OTEL_EXPORTER_OTLP_TIMEOUT":  "2000",
				"OTEL_TRACES_SAMPLER":         "always_on",
			})
			var logs logBuffer
			p, err := New(context.Background(), Options{Logger: logs.logger()})
			if err != nil {
				t.Fatalf("New with the receiver down: %v", err)
			}
			defer func() { _ = p.Shutdown(context.Background()) }()

			for range 3 {
				endSpans(p.TracerProvider(), 5)
				if err := p.ForceFlush(context.Background()); err == nil {
					t.Fatal("ForceFlush succeeded with no receiver")
				}
			}
			if st := p.Stats(); st.SpansFailed != 15 || st.ExportErrors != 3 || st.SpansExported != 0 {
				t.Fatalf("stats = %+v, want 15 failed spans in 3 failed exports", st)
			}
			if n := logs.count("OTLP trace export failing"); n != 1 {
				t.Fatalf("%d failure lines, want 1:\n%s", n, logs.String())
			}

			rx := &receiver{}
			rx.serve(t, protocol, addr, nil)
			// gRPC reconnects with backoff (capped at 5 s): poll until a flush
			// gets through.
			deadline := time.Now().Add(30 * time.Second)
			for p.ForceFlush(context.Background()) != nil || len(rx.spans()) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("no span arrived within 30s of the receiver starting; stats %+v", p.Stats())
				}
				endSpans(p.TracerProvider(), 1)
				time.Sleep(50 * time.Millisecond)
			}
			if n := logs.count("OTLP trace export recovered"); n != 1 {
				t.Fatalf("%d recovery lines, want 1:\n%s", n, logs.String())
			}
		})
	}
}
