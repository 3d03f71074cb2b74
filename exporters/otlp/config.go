package otlp

import (
	"crypto/tls"
	"log/slog"
	"net/url"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Defaults of the bounded batch processor: the SDK's (OTel specification) values.
const (
	DefaultMaxQueueSize       = sdktrace.DefaultMaxQueueSize
	DefaultMaxExportBatchSize = sdktrace.DefaultMaxExportBatchSize
	DefaultBatchTimeout       = sdktrace.DefaultScheduleDelay * time.Millisecond
	DefaultExportTimeout      = sdktrace.DefaultExportTimeout * time.Millisecond
	// DefaultSampler is used when neither Options.Sampler nor
	// OTEL_TRACES_SAMPLER names one: follow the caller's decision when there
	// is a parent, else sample DefaultSampleRatio of new traces.
	DefaultSampler = "parentbased_traceidratio"
	// DefaultSampleRatio: the agent's own traffic is bounded (probes have a
	// cluster-wide budget), so every trace is kept unless
	// OTEL_TRACES_SAMPLER_ARG or Options.SampleRatio lowers it.
	DefaultSampleRatio = 1.0
)

// Options configure New. The zero value reads the standard OTEL_* environment
// and, if no OTLP endpoint is configured there either, turns tracing off
// (a no-op TracerProvider that costs nothing).
//
// Precedence, for every setting: a non-zero Options field, then the
// per-signal variable (OTEL_EXPORTER_OTLP_TRACES_*), then the generic one
// (OTEL_EXPORTER_OTLP_*), then the default. Options.Headers are merged into
// the environment's headers key by key.
type Options struct {
	// Disabled turns tracing off, as OTEL_SDK_DISABLED=true or
	// OTEL_TRACES_EXPORTER=none do.
	Disabled bool

	// Endpoint is the receiver's base URL, http(s)://host:port[/path], like
	// OTEL_EXPORTER_OTLP_ENDPOINT: for http/protobuf, /v1/traces is appended
	// to its path. http:// means plaintext.
	Endpoint string
	// Protocol is "grpc" or "http/protobuf" (the specification's default).
	Protocol string
	// Headers are sent with every export (e.g. an API key). Never logged.
	Headers map[string]string
	// CertificateFile is a PEM bundle of CAs to trust for the receiver.
	CertificateFile string
	// ClientCertificateFile and ClientKeyFile are a PEM pair for mutual TLS.
	ClientCertificateFile, ClientKeyFile string
	// Timeout bounds one export request, retries included (default 10 s).
	Timeout time.Duration
	// Compression is "gzip" or "none".
	Compression string

	// Sampler is one of always_on, always_off, traceidratio,
	// parentbased_always_on, parentbased_always_off, parentbased_traceidratio.
	Sampler string
	// SampleRatio is the ratio for the *traceidratio samplers, in (0, 1];
	// 0 means unset. To sample nothing use Sampler "always_off".
	SampleRatio float64

	// ServiceName replaces the default "kubepulse" (and OTEL_SERVICE_NAME).
	ServiceName string
	// ServiceVersion is service.version; default: the main module's version.
	ServiceVersion string
	// NodeName, PodName and Namespace become k8s.node.name, k8s.pod.name and
	// k8s.namespace.name (the agent fills them from the downward API).
	NodeName, PodName, Namespace string

	// MaxQueueSize bounds the spans held at once: queued, being batched and
	// being exported. A span ended while it is full is dropped and counted.
	MaxQueueSize int
	// MaxExportBatchSize is the most spans sent in one export.
	MaxExportBatchSize int
	// BatchTimeout is the longest a span waits for its batch to fill.
	BatchTimeout time.Duration
	// ExportTimeout bounds one batch export as the processor sees it.
	ExportTimeout time.Duration

	// Exporter, if set, replaces the OTLP exporter (tests; a caller with its
	// own exporter). The OTLP settings are then not used.
	Exporter sdktrace.SpanExporter
	// Logger receives startup, failure and recovery messages; nil = none.
	Logger *slog.Logger
}

// config is Options and the environment resolved and validated.
type config struct {
	disabledBy string // the setting that turned tracing off; "" = on

	protocol string
	endpoint *url.URL // nil: the exporter reads the environment or its default
	// Set only when Options give them; else the exporter reads the environment.
	headers     map[string]string
	tls         *tls.Config
	timeout     time.Duration
	compression string

	sampler     sdktrace.Sampler
	samplerDesc string

	queueSize, batchSize       int
	batchTimeout, exportTimout time.Duration
}

// resolve merges Options over the environment and validates every setting,
// returning all problems at once, each naming its setting.
func resolve(o Options) (*config, error) {
	var bad errs
	c := &config{}

	// Off switches first: when off, nothing else is read.
	if o.Disabled {
		c.disabledBy = "Options.Disabled"
		return c, nil
	}
	if v := getenv(envSDKDisabled); v != "" {
		off, err := parseBool(envSDKDisabled, v)
		if err != nil {
			return nil, err
		}
		if off {
			c.disabledBy = envSDKDisabled + "=true"
			return c, nil
		}
	}
	explicitOTLP := false
	if v := getenv(envTracesExporter); v != "" && o.Exporter == nil {
		for _, e := range strings.Split(v, ",") {
			switch e = strings.TrimSpace(e); e {
			case "otlp":
				explicitOTLP = true
			case "none":
				c.disabledBy = envTracesExporter + "=none"
			default:
				return nil, settingError(envTracesExporter, "%q: want otlp or none (kubepulse exports traces only over OTLP)", e)
			}
		}
		if c.disabledBy != "" && explicitOTLP {
			return nil, settingError(envTracesExporter, "%q: want otlp or none, not both", v)
		}
		if c.disabledBy != "" {
			return c, nil
		}
	}

	c.resolveSampler(o, &bad)
	c.resolveBatching(o, &bad)
	if v := getenv(envResourceAttrs); v != "" {
		bad.add(parseResourceAttrs(envResourceAttrs, v))
	}
	if o.Exporter != nil {
		return c, bad.err()
	}
	c.resolveExport(o, &bad)
	if err := bad.err(); err != nil {
		return nil, err
	}
	if c.endpoint == nil && !explicitOTLP && first(envTracesEndpoint, envEndpoint).value == "" {
		// Tracing is opt-in for the agent: no endpoint anywhere means off,
		// not a stream of failed exports to localhost.
		c.disabledBy = "no OTLP endpoint (Options.Endpoint, " + envTracesEndpoint + ", " + envEndpoint + ")"
	}
	return c, nil
}

// resolveExport validates the OTLP transport settings. Environment values
// are only checked (the exporter applies them itself); Options values are
// kept to be passed to the exporter, which lets them win.
func (c *config) resolveExport(o Options, bad *errs) {
	c.protocol = protocolHTTP
	if o.Protocol != "" {
		p, err := parseProtocol("Options.Protocol", o.Protocol)
		bad.add(err)
		c.protocol = p
	} else if s := first(envTracesProtocol, envProtocol); s.value != "" {
		p, err := parseProtocol(s.name, s.value)
		bad.add(err)
		c.protocol = p
	}

	for _, n := range []string{envEndpoint, envTracesEndpoint} {
		if v := getenv(n); v != "" {
			_, err := parseEndpoint(n, v)
			bad.add(err)
		}
	}
	if o.Endpoint != "" {
		u, err := parseEndpoint("Options.Endpoint", o.Endpoint)
		bad.add(err)
		c.endpoint = u
	}

	var envHeaders map[string]string
	for _, n := range []string{envOTLP + "HEADERS", envOTLPTraces + "HEADERS"} {
		if v := getenv(n); v != "" {
			h, err := parseHeaders(n, v)
			bad.add(err)
			envHeaders = h // the per-signal list replaces the generic one, as in the exporter
		}
	}
	if len(o.Headers) > 0 {
		c.headers = make(map[string]string, len(envHeaders)+len(o.Headers))
		for k, v := range envHeaders {
			c.headers[k] = v
		}
		for k, v := range o.Headers {
			if !validHeaderKey(k) {
				bad.add(settingError("Options.Headers", "key %q: want a header name", k))
			}
			c.headers[k] = v
		}
	}

	for _, n := range []string{envOTLP + "INSECURE", envOTLPTraces + "INSECURE"} {
		if v := getenv(n); v != "" {
			_, err := parseBool(n, v)
			bad.add(err)
		}
	}
	for _, n := range []string{envOTLP + "TIMEOUT", envOTLPTraces + "TIMEOUT"} {
		if v := getenv(n); v != "" {
			_, err := parseMillis(n, v, false)
			bad.add(err)
		}
	}
	if o.Timeout < 0 {
		bad.add(settingError("Options.Timeout", "%v: want a positive duration", o.Timeout))
	}
	c.timeout = o.Timeout

	for _, n := range []string{envCompression, envTracesCompress} {
		if v := getenv(n); v != "" {
			_, err := parseCompression(n, v)
			bad.add(err)
		}
	}
	if o.Compression != "" {
		v, err := parseCompression("Options.Compression", o.Compression)
		bad.add(err)
		c.compression = v
	}

	c.resolveTLS(o, bad)
}

// resolveTLS checks the certificate settings. The exporter reads the
// environment's files itself; if Options name any file, the whole TLS
// configuration is built here (Options' files over the environment's).
func (c *config) resolveTLS(o Options, bad *errs) {
	type files struct{ ca, cert, key setting }
	byPrefix := func(p string) files {
		return files{
			ca:   setting{p + "CERTIFICATE", getenv(p + "CERTIFICATE")},
			cert: setting{p + "CLIENT_CERTIFICATE", getenv(p + "CLIENT_CERTIFICATE")},
			key:  setting{p + "CLIENT_KEY", getenv(p + "CLIENT_KEY")},
		}
	}
	var (
		ca   setting
		pair [2]setting
	)
	for _, f := range []files{byPrefix(envOTLP), byPrefix(envOTLPTraces)} {
		if f.ca.value != "" {
			_, err := loadCertPool(f.ca.name, f.ca.value)
			bad.add(err)
			ca = f.ca
		}
		if f.cert.value != "" || f.key.value != "" {
			_, err := loadKeyPair(f.cert.name, f.cert.value, f.key.name, f.key.value)
			bad.add(err)
			pair = [2]setting{f.cert, f.key}
		}
	}
	if o.CertificateFile == "" && o.ClientCertificateFile == "" && o.ClientKeyFile == "" {
		return
	}
	if o.CertificateFile != "" {
		ca = setting{"Options.CertificateFile", o.CertificateFile}
	}
	if o.ClientCertificateFile != "" || o.ClientKeyFile != "" {
		pair = [2]setting{{"Options.ClientCertificateFile", o.ClientCertificateFile}, {"Options.ClientKeyFile", o.ClientKeyFile}}
	}
	c.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	if ca.value != "" {
		pool, err := loadCertPool(ca.name, ca.value)
		bad.add(err)
		c.tls.RootCAs = pool
	}
	kp, err := loadKeyPair(pair[0].name, pair[0].value, pair[1].name, pair[1].value)
	bad.add(err)
	if kp != nil {
		c.tls.Certificates = []tls.Certificate{*kp}
	}
}
