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
