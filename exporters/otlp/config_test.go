package otlp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cleanEnv unsets every OTEL_* variable for the test (t.Setenv restores them),
// so that the machine's environment cannot change a result.
func cleanEnv(t testing.TB) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
		}
	}
}

func setEnv(t testing.TB, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// testdata holds PEM fixtures: ca.pem (a CA), client.pem/client-key.pem (a
// pair signed by it), garbage.pem (no PEM block).
func fixture(name string) string { return filepath.Join("testdata", name) }

func TestResolve(t *testing.T) {
	type want struct {
		disabledBy  string // substring; "" = enabled
		protocol    string
		sampler     string
		queue       int
		batch       int
		batchTimout time.Duration
		errs        []string // every substring must appear in the error
		notInErr    []string // secrets that must not appear in the error
	}
	cases := []struct {
		name string
		env  map[string]string
		opts Options
		want want
	}{
		{name: "zero value and no environment: off",
			want: want{disabledBy: "no OTLP endpoint"}},
		{name: "OTEL_SDK_DISABLED wins and reads nothing else",
			env:  map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_HEADERS": "garbage", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			want: want{disabledBy: "OTEL_SDK_DISABLED=true"}},
		{name: "OTEL_SDK_DISABLED=false keeps it on",
			env:  map[string]string{"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			want: want{protocol: "http/protobuf"}},
		{name: "OTEL_SDK_DISABLED must be a bool",
			env:  map[string]string{"OTEL_SDK_DISABLED": "yes"},
			want: want{errs: []string{`OTEL_SDK_DISABLED: "yes": want true or false`}}},
		{name: "Options.Disabled",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			opts: Options{Disabled: true},
			want: want{disabledBy: "Options.Disabled"}},
		{name: "OTEL_TRACES_EXPORTER=none",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"},
			want: want{disabledBy: "OTEL_TRACES_EXPORTER=none"}},
		{name: "OTEL_TRACES_EXPORTER=otlp without endpoint uses the exporter's default",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "otlp"},
			want: want{protocol: "http/protobuf"}},
		{name: "OTEL_TRACES_EXPORTER other than otlp or none",
			env:  map[string]string{"OTEL_TRACES_EXPORTER": "otlp,zipkin"},
			want: want{errs: []string{`OTEL_TRACES_EXPORTER: "zipkin": want otlp or none`}}},
		{name: "a custom exporter needs no endpoint",
			opts: Options{Exporter: discard{}},
			want: want{sampler: "parentbased_traceidratio(1)"}},

		// Endpoint and protocol.
		{name: "generic endpoint, default protocol and batching",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			want: want{protocol: "http/protobuf", sampler: "parentbased_traceidratio(1)", queue: 2048, batch: 512, batchTimout: 5 * time.Second}},
		{name: "per-signal protocol wins over generic",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
			want: want{protocol: "grpc"}},
		{name: "Options.Protocol wins over the environment",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf"},
			opts: Options{Protocol: "grpc"},
			want: want{protocol: "grpc"}},
		{name: "http/json is named as unsupported",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" is not supported by the Go OTLP exporter`}}},
		{name: "unknown protocol",
			opts: Options{Endpoint: "http://c:4318", Protocol: "thrift"},
			want: want{errs: []string{`Options.Protocol: "thrift": want grpc or http/protobuf`}}},
		{name: "endpoint without scheme",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4317": want a URL with scheme http or https, like http://collector:4317`}}},
		{name: "endpoint without host",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http:///v1/traces"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http:///v1/traces": want a URL with a host`}}},
		{name: "endpoint that is not a URL",
			opts: Options{Endpoint: "http://bad host:4318"},
			want: want{errs: []string{`Options.Endpoint: "http://bad host:4318": not a URL`}}},
		{name: "endpoint port out of range, credentials hidden",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://user:hunter2@c:99999"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_ENDPOINT: "https://xxxxx@c:99999": port "99999": want 1-65535`}, notInErr: []string{"hunter2", "user"}}},

		// Headers.
		{name: "header entry without =, values hidden",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer s3cr3t,tail-of-token"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_HEADERS: entry 2 of 2 has no "=": want comma-separated key=value pairs`},
				notInErr: []string{"s3cr3t", "tail-of-token"}}},
		{name: "header key not a token",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-ok=1,bad key=s3cr3t"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_TRACES_HEADERS: entry 2: key "bad key": want a header name`}, notInErr: []string{"s3cr3t"}}},
		{name: "header value bad percent-encoding",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "api-key=s3cr3t%zz"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_HEADERS: entry 1 (key "api-key"): value is not valid percent-encoding`}, notInErr: []string{"s3cr3t"}}},
		{name: "headers with trailing comma and encoded comma are fine",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_HEADERS": "a=b%2Cc, d = e ,"},
			want: want{protocol: "http/protobuf"}},
		{name: "Options header key not a token",
			opts: Options{Endpoint: "http://c:4318", Headers: map[string]string{"x y": "1"}},
			want: want{errs: []string{`Options.Headers: key "x y": want a header name`}}},

		// Other exporter settings.
		{name: "timeout with a unit",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "10s"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_TIMEOUT: "10s": want a positive integer number of milliseconds`}}},
		{name: "compression unknown",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "zstd": want gzip or none`}}},
		{name: "insecure not a bool",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_INSECURE": "1"},
			want: want{errs: []string{`OTEL_EXPORTER_OTLP_INSECURE: "1": want true or false`}}},
		{name: "several bad settings are all named",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_TIMEOUT": "-5",
				"OTEL_EXPORTER_OTLP_COMPRESSION": "br", "OTEL_TRACES_SAMPLER": "sometimes"},
			want: want{errs: []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_TRACES_SAMPLER"}}},

		// TLS files.
		{name: "CA file missing",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318", "OTEL_EXPORTER_OTLP_CERTIFICATE": "/nonexistent/ca.pem"},
			want: want{errs: []string{"OTEL_EXPORTER_OTLP_CERTIFICATE: open /nonexistent/ca.pem: no such file or directory"}}},
		{name: "CA file without PEM",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": fixture("garbage.pem")},
			want: want{errs: []string{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: testdata/garbage.pem: want PEM-encoded CA certificates, found none"}}},
		{name: "client certificate without key",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318", "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": fixture("client.pem")},
			want: want{errs: []string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: set without OTEL_EXPORTER_OTLP_CLIENT_KEY: want both or neither"}}},
		{name: "client key that does not match",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318",
				"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": fixture("client.pem"), "OTEL_EXPORTER_OTLP_CLIENT_KEY": fixture("ca.pem")},
			want: want{errs: []string{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY: tls:"}}},
		{name: "valid CA and client pair",
			env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318", "OTEL_EXPORTER_OTLP_CERTIFICATE": fixture("ca.pem"),
				"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": fixture("client.pem"), "OTEL_EXPORTER_OTLP_CLIENT_KEY": fixture("client-key.pem")},
			want: want{protocol: "http/protobuf"}},
		{name: "Options client key without certificate",
			opts: Options{Endpoint: "https://c:4318", ClientKeyFile: fixture("client-key.pem")},
			want: want{errs: []string{"Options.ClientKeyFile: set without Options.ClientCertificateFile"}}},
		{name: "Options CA file without PEM",
			opts: Options{Endpoint: "https://c:4318", CertificateFile: fixture("garbage.pem")},
			want: want{errs: []string{"Options.CertificateFile: testdata/garbage.pem: want PEM-encoded CA certificates"}}},

		// Sampler.
		{name: "sampler argument alone tunes the default sampler",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			want: want{sampler: "parentbased_traceidratio(0.25)"}},
		{name: "ratio sampler named without argument samples everything (spec)",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "TraceIDRatio"},
			want: want{sampler: "traceidratio(1)"}},
		{name: "argument ignored by samplers without ratio",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "always_on", "OTEL_TRACES_SAMPLER_ARG": "x"},
			want: want{sampler: "always_on"}},
		{name: "unknown sampler",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "jaeger_remote"},
			want: want{errs: []string{`OTEL_TRACES_SAMPLER: "jaeger_remote": want always_on, always_off`}}},
		{name: "sampler argument out of range",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"},
			want: want{errs: []string{`OTEL_TRACES_SAMPLER_ARG: "1.5": want a ratio between 0 and 1`}}},
		{name: "Options sampler and ratio win",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_SAMPLER": "always_off", "OTEL_TRACES_SAMPLER_ARG": "0.5"},
			opts: Options{Sampler: "traceidratio", SampleRatio: 0.125},
			want: want{sampler: "traceidratio(0.125)"}},
		{name: "Options ratio out of range",
			opts: Options{Endpoint: "http://c:4318", SampleRatio: -0.5},
			want: want{errs: []string{"Options.SampleRatio: -0.5: want a ratio in (0, 1]"}}},

		// Resource.
		{name: "resource attribute without =",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_RESOURCE_ATTRIBUTES": "k8s.cluster.name=c1,team"},
			want: want{errs: []string{`OTEL_RESOURCE_ATTRIBUTES: entry 2 of 2 ("team") has no "=": want comma-separated key=value pairs`}}},
		{name: "resource attribute with empty key",
			opts: Options{Exporter: discard{}},
			env:  map[string]string{"OTEL_RESOURCE_ATTRIBUTES": " =x"},
			want: want{errs: []string{`OTEL_RESOURCE_ATTRIBUTES: entry 1 of 1 has an empty key`}}},
		{name: "resource attribute value bad percent-encoding",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_RESOURCE_ATTRIBUTES": "a=%x"},
			want: want{errs: []string{`OTEL_RESOURCE_ATTRIBUTES: entry 1 (key "a"): value is not valid percent-encoding`}}},

		// Batching.
		{name: "small queue shrinks the default batch",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_SCHEDULE_DELAY": "250"},
			want: want{queue: 100, batch: 100, batchTimout: 250 * time.Millisecond}},
		{name: "batch larger than queue",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "600"},
			want: want{errs: []string{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 600: want at most the queue size (100, from OTEL_BSP_MAX_QUEUE_SIZE)"}}},
		{name: "queue size not a number",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_BSP_MAX_QUEUE_SIZE": "lots"},
			want: want{errs: []string{`OTEL_BSP_MAX_QUEUE_SIZE: "lots": want a positive integer`}}},
		{name: "Options batching wins",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_BSP_MAX_QUEUE_SIZE": "100"},
			opts: Options{MaxQueueSize: 10000, MaxExportBatchSize: 1000, BatchTimeout: time.Second},
			want: want{queue: 10000, batch: 1000, batchTimout: time.Second}},
		{name: "Options negative queue",
			opts: Options{Endpoint: "http://c:4318", MaxQueueSize: -1},
			want: want{errs: []string{"Options.MaxQueueSize: -1: want a positive number"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			setEnv(t, tc.env)
			c, err := resolve(tc.opts)
			w := tc.want
			if len(w.errs) > 0 {
				if err == nil {
					t.Fatalf("resolve: no error, want %q", w.errs)
				}
				for _, s := range w.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q\nwant it to contain %q", err, s)
					}
				}
				for _, s := range w.notInErr {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q reveals %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if w.disabledBy != "" || c.disabledBy != "" {
				if w.disabledBy == "" || !strings.Contains(c.disabledBy, w.disabledBy) {
					t.Fatalf("disabledBy = %q, want %q", c.disabledBy, w.disabledBy)
				}
				return
			}
			check := func(field string, got, want any, zero bool) {
				if !zero && got != want {
					t.Errorf("%s = %v, want %v", field, got, want)
				}
			}
			check("protocol", c.protocol, w.protocol, w.protocol == "")
			check("sampler", c.samplerDesc, w.sampler, w.sampler == "")
			check("queue", c.queueSize, w.queue, w.queue == 0)
			check("batch", c.batchSize, w.batch, w.batch == 0)
			check("batchTimeout", c.batchTimeout, w.batchTimout, w.batchTimout == 0)
		})
	}
}

// New wraps every configuration error in one error: "otlp: " and the
// settings, one per line.
func TestNewConfigError(t *testing.T) {
	cleanEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "a=b,c")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")
	_, err := New(context.Background(), Options{})
	want := "otlp: OTEL_EXPORTER_OTLP_HEADERS: entry 2 of 2 has no \"=\": want comma-separated key=value pairs, a \",\" inside a value written as %2C (values are not shown)\n" +
		"OTEL_EXPORTER_OTLP_TIMEOUT: \"soon\": want a positive integer number of milliseconds, like 10000"
	if err == nil || err.Error() != want {
		t.Fatalf("New error:\n%v\nwant:\n%s", err, want)
	}
}

// Options.Headers are merged into the environment's, key by key.
func TestHeadersMerge(t *testing.T) {
	cleanEnv(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "ignored=1")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "tenant=a%20b,api-key=env")
	c, err := resolve(Options{Headers: map[string]string{"api-key": "opt"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"tenant": "a b", "api-key": "opt"}
	if len(c.headers) != len(want) || c.headers["tenant"] != want["tenant"] || c.headers["api-key"] != want["api-key"] {
		t.Fatalf("headers = %v, want %v", c.headers, want)
	}
}

func TestShowURLHidesCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"http://c:4318":          `"http://c:4318"`,
		"http://u:p@c:4318/x":    `"http://xxxxx@c:4318/x"`,
		"u:p@c:4318":             `"xxxxx@c:4318"`,
		"https://token@c/v1/abc": `"https://xxxxx@c/v1/abc"`,
	} {
		if got := showURL(in); got != want {
			t.Errorf("showURL(%q) = %s, want %s", in, got, want)
		}
	}
}
