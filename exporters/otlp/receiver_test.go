package otlp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

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
