package otlp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variables read here. The OTLP exporters read the
// OTEL_EXPORTER_OTLP_* ones again themselves; this package validates them so
// that a typo is an error at New instead of a setting silently ignored.
const (
	envSDKDisabled     = "OTEL_SDK_DISABLED"
	envTracesExporter  = "OTEL_TRACES_EXPORTER"
	envResourceAttrs   = "OTEL_RESOURCE_ATTRIBUTES"
	envSampler         = "OTEL_TRACES_SAMPLER"
	envSamplerArg      = "OTEL_TRACES_SAMPLER_ARG"
	envBSPQueueSize    = "OTEL_BSP_MAX_QUEUE_SIZE"
	envBSPBatchSize    = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
	envBSPDelay        = "OTEL_BSP_SCHEDULE_DELAY"
	envBSPTimeout      = "OTEL_BSP_EXPORT_TIMEOUT"
	envOTLP            = "OTEL_EXPORTER_OTLP_"
	envOTLPTraces      = "OTEL_EXPORTER_OTLP_TRACES_"
	envEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	envCompression     = "OTEL_EXPORTER_OTLP_COMPRESSION"
	envTracesCompress  = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
	protocolGRPC       = "grpc"
	protocolHTTP       = "http/protobuf"
	compressionGzip    = "gzip"
	compressionNone    = "none"
	tracesPathHTTP     = "/v1/traces"
	valuesHiddenReason = "values are not shown"
)

// getenv reads a variable the way the OTel SDK does: trimmed, empty = unset.
func getenv(name string) string { return strings.TrimSpace(os.Getenv(name)) }

// setting is one configuration value and the name of where it came from
// (an environment variable or an Options field), for error messages.
type setting struct {
	name  string
	value string
}

// first returns the first set value: per-signal variables before generic ones.
func first(names ...string) setting {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return setting{n, v}
		}
	}
	return setting{}
}

// settingError names the setting and what was expected.
func settingError(name, format string, args ...any) error {
	return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
}

// parseEndpoint checks an OTLP endpoint URL. The SDK's exporters accept
// "collector:4317" (parsed as scheme "collector") for gRPC by accident and
// send HTTP to an empty host with it; the specification wants a URL with
// scheme http or https, and so do we.
func parseEndpoint(name, v string) (*url.URL, error) {
	u, err := url.Parse(v)
	if err != nil {
		return nil, settingError(name, "%s: not a URL: want http(s)://host:port", showURL(v))
	}
	if s := strings.ToLower(u.Scheme); s != "http" && s != "https" {
		like := "http://collector:4318"
		if !strings.ContainsAny(v, "@/?#") {
			like = "http://" + v // the common mistake: host:port without scheme
		}
		return nil, settingError(name, "%s: want a URL with scheme http or https, like %s", showURL(v), like)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, settingError(name, "%s: want a URL with a host, like http://collector:4318", showURL(v))
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, settingError(name, "%s: port %q: want 1-65535", showURL(v), p)
		}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, settingError(name, "%s: want no query or fragment", showURL(v))
	}
	return u, nil
}

// showURL quotes an endpoint for an error message without the user:password
// part a URL may carry (up to the last "@": hiding too much is safe).
func showURL(v string) string {
	if i := strings.LastIndex(v, "@"); i >= 0 {
		scheme, _, ok := strings.Cut(v[:i], "//")
		if ok {
			return strconv.Quote(scheme + "//xxxxx" + v[i:])
		}
		return strconv.Quote("xxxxx" + v[i:])
	}
	return strconv.Quote(v)
}

// redact is the form of an endpoint safe to log: scheme, host and path.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return c.String()
}

// parseHeaders parses the W3C-baggage-like list the OTLP exporters accept:
// "k1=v1,k2=v2", values percent-encoded. Header values are secrets (API
// keys, tokens): errors name the entry and its key, never a value.
func parseHeaders(name, v string) (map[string]string, error) {
	entries := strings.Split(v, ",")
	h := make(map[string]string, len(entries))
	for i, e := range entries {
		if strings.TrimSpace(e) == "" {
			continue // "a=b," — a trailing comma is harmless
		}
		k, val, ok := strings.Cut(e, "=")
		if !ok {
			return nil, settingError(name, "entry %d of %d has no \"=\": want comma-separated key=value pairs, a \",\" inside a value written as %%2C (%s)",
				i+1, len(entries), valuesHiddenReason)
		}
		k = strings.TrimSpace(k)
		if !validHeaderKey(k) {
			return nil, settingError(name, "entry %d: key %q: want a header name (letters, digits and !#$%%&'*+-.^_`|~)", i+1, k)
		}
		dec, err := url.PathUnescape(val)
		if err != nil {
			return nil, settingError(name, "entry %d (key %q): value is not valid percent-encoding (%s)", i+1, k, valuesHiddenReason)
		}
		if strings.ContainsFunc(dec, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			return nil, settingError(name, "entry %d (key %q): value has control characters (%s)", i+1, k, valuesHiddenReason)
		}
		h[k] = strings.TrimSpace(dec)
	}
	return h, nil
}

// validHeaderKey reports whether k is an RFC 9110 token.
func validHeaderKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", c):
		default:
			return false
		}
	}
	return true
}

// parseResourceAttrs checks OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", values
// percent-encoded). The SDK drops bad entries with a partial-resource error;
// here the entry is named.
func parseResourceAttrs(name, v string) error {
	entries := strings.Split(v, ",")
	for i, e := range entries {
		if strings.TrimSpace(e) == "" {
			continue
		}
		k, val, ok := strings.Cut(e, "=")
		if !ok {
			return settingError(name, "entry %d of %d (%q) has no \"=\": want comma-separated key=value pairs", i+1, len(entries), strings.TrimSpace(e))
		}
		if strings.TrimSpace(k) == "" {
			return settingError(name, "entry %d of %d has an empty key: want key=value", i+1, len(entries))
		}
		if _, err := url.PathUnescape(strings.TrimSpace(val)); err != nil {
			return settingError(name, "entry %d (key %q): value is not valid percent-encoding", i+1, strings.TrimSpace(k))
		}
	}
	return nil
}

// parseBool accepts true or false in any case, as the SDK compares them; any
// other word is an error instead of a silent false.
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, settingError(name, "%q: want true or false", v)
}

// parseMillis parses the OTel convention for durations in the environment:
// an integer number of milliseconds.
func parseMillis(name, v string, allowZero bool) (time.Duration, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || (n == 0 && !allowZero) || n > int64(24*time.Hour/time.Millisecond) {
		want := "a positive integer number of milliseconds"
		if allowZero {
			want = "a non-negative integer number of milliseconds"
		}
		return 0, settingError(name, "%q: want %s, like 10000", v, want)
	}
	return time.Duration(n) * time.Millisecond, nil
}

// parsePositive parses a positive count (queue and batch sizes).
func parsePositive(name, v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || n > 1<<24 {
		return 0, settingError(name, "%q: want a positive integer", v)
	}
	return n, nil
}

// parseProtocol accepts the two transports the Go exporters implement.
func parseProtocol(name, v string) (string, error) {
	switch v {
	case protocolGRPC, protocolHTTP:
		return v, nil
	case "http/json":
		return "", settingError(name, "%q is not supported by the Go OTLP exporter: want grpc or http/protobuf", v)
	}
	return "", settingError(name, "%q: want grpc or http/protobuf", v)
}

// parseCompression accepts gzip and none.
func parseCompression(name, v string) (string, error) {
	switch v {
	case compressionGzip, compressionNone:
		return v, nil
	}
	return "", settingError(name, "%q: want gzip or none", v)
}

// loadCertPool reads a PEM bundle of CA certificates.
func loadCertPool(name, file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, settingError(name, "%s: want PEM-encoded CA certificates, found none", file)
	}
	return pool, nil
}

// loadKeyPair reads a client certificate and its key; both must be given.
func loadKeyPair(certName, certFile, keyName, keyFile string) (*tls.Certificate, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case keyFile == "":
		return nil, settingError(certName, "set without %s: want both or neither", keyName)
	case certFile == "":
		return nil, settingError(keyName, "set without %s: want both or neither", certName)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", certName, keyName, err)
	}
	return &c, nil
}

// errs collects every bad setting so that one error at New lists them all.
type errs []error

func (e *errs) add(err error) {
	if err != nil {
		*e = append(*e, err)
	}
}

func (e errs) err() error { return errors.Join(e...) }
