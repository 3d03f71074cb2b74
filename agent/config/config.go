// Package config holds the agent's configuration: a YAML file (usually a
// mounted ConfigMap), overridden by environment variables, overridden by
// command-line flags. Every problem is reported with the field's path and
// what was expected, e.g. `probe.interval: want ≥ 1s, got 100ms`.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/kubepulse/kubepulse/agent/logging"
	"github.com/kubepulse/kubepulse/baseline"
)

// Duration is a duration written as a Go duration string ("10s", "5m").
type Duration = baseline.Duration

// Config is the agent's whole configuration. It is data: print it, diff it,
// validate it.
type Config struct {
	// NodeName, PodName and PodNamespace identify this agent; the DaemonSet
	// sets them from the downward API (NODE_NAME, POD_NAME, POD_NAMESPACE).
	NodeName     string `json:"nodeName,omitempty"`
	PodName      string `json:"podName,omitempty"`
	PodNamespace string `json:"podNamespace,omitempty"`
	// Kubeconfig is a kubeconfig file; empty means in-cluster configuration.
	Kubeconfig string `json:"kubeconfig,omitempty"`
	// ListenAddress serves /metrics, /healthz, /readyz, /api/v1/status and
	// the status page.
	ListenAddress string `json:"listenAddress"`
	// ShutdownTimeout bounds the graceful stop: checkpoint, alert and span
	// flushes (keep it below the pod's terminationGracePeriodSeconds).
	ShutdownTimeout Duration `json:"shutdownTimeout"`

	Log          Log             `json:"log"`
	Probe        Probe           `json:"probe"`
	Watch        Watch           `json:"watch"`
	Checkpoint   Checkpoint      `json:"checkpoint"`
	Alertmanager Alertmanager    `json:"alertmanager"`
	OTLP         OTLP            `json:"otlp"`
	Metrics      Metrics         `json:"metrics"`
	Baseline     baseline.Config `json:"baseline"`
}

// Log configures the agent's structured logs.
type Log struct {
	Level  string `json:"level"`  // debug, info, warn, error
	Format string `json:"format"` // json, text
}

// Probe configures the synthetic calls and the cluster-wide budget.
type Probe struct {
	// Enabled turns the probes off when false (the agent then only watches
	// its Lease and serves what it learned).
	Enabled bool `json:"enabled"`
	// ClusterQPS is the most probe requests per second of all agents of the
	// cluster together.
	ClusterQPS float64 `json:"clusterQPS"`
	// Interval is the wanted time for one agent to send every probe once,
	// when the budget allows it.
	Interval Duration `json:"interval"`
	// StartupSpread spreads the first request of agents without a node count.
	StartupSpread Duration `json:"startupSpread"`
	// MaxBackoff caps the backoff after failed probes.
	MaxBackoff Duration `json:"maxBackoff"`
	// Timeout bounds one probe.
	Timeout Duration `json:"timeout"`
}

// Watch configures the watch-health measurement.
type Watch struct {
	// Lease watches this node's Lease in kube-node-lease.
	Lease bool `json:"lease"`
}

// Checkpoint configures where what was learned survives restarts.
type Checkpoint struct {
	// Path is the checkpoint file (a hostPath volume by default); empty
	// disables checkpoints.
	Path string `json:"path"`
	// Interval is how often it is written (and once more on shutdown).
	Interval Duration `json:"interval"`
}

// Alertmanager configures where alerts go.
type Alertmanager struct {
	// URLs are Alertmanager base URLs; every one gets every alert.
	URLs []string `json:"urls,omitempty"`
	// Service discovers the replicas from a Service's EndpointSlices.
	Service *AlertmanagerService `json:"service,omitempty"`
	// ExternalLabels are added to every alert (e.g. cluster).
	ExternalLabels map[string]string `json:"externalLabels,omitempty"`
	// GeneratorURL is where an alert's link points; default this agent's
	// status page (http://<pod IP or node>:<port>/).
	GeneratorURL         string   `json:"generatorURL,omitempty"`
	Timeout              Duration `json:"timeout,omitempty"`
	ResendInterval       Duration `json:"resendInterval,omitempty"`
	ResolvedResendWindow Duration `json:"resolvedResendWindow,omitempty"`
	QueueCapacity        int      `json:"queueCapacity,omitempty"`
	TLS                  TLS      `json:"tls,omitempty"`
	BearerTokenFile      string   `json:"bearerTokenFile,omitempty"`
	BasicAuth            struct {
		Username     string `json:"username,omitempty"`
		PasswordFile string `json:"passwordFile,omitempty"`
	} `json:"basicAuth,omitempty"`
}

// AlertmanagerService names a Service whose ready endpoints are the
// Alertmanager replicas.
type AlertmanagerService struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Port      string `json:"port"`   // port name, e.g. "web" (or a number)
	Scheme    string `json:"scheme"` // http (default) or https
	Path      string `json:"path"`   // route prefix, if any
}

// TLS names PEM files.
type TLS struct {
	CAFile             string `json:"caFile,omitempty"`
	CertFile           string `json:"certFile,omitempty"`
	KeyFile            string `json:"keyFile,omitempty"`
	ServerName         string `json:"serverName,omitempty"`
	InsecureSkipVerify bool   `json:"insecureSkipVerify,omitempty"`
}

// OTLP configures trace export. The standard OTEL_* environment variables
// apply too (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, ...); fields set here win.
type OTLP struct {
	// Enabled exports spans when an endpoint is set here or in the
	// environment.
	Enabled     bool    `json:"enabled"`
	Endpoint    string  `json:"endpoint,omitempty"`
	Protocol    string  `json:"protocol,omitempty"` // grpc or http/protobuf
	Sampler     string  `json:"sampler,omitempty"`
	SampleRatio float64 `json:"sampleRatio,omitempty"`
}

// Metrics configures the HTTP endpoint.
type Metrics struct {
	// Secure serves HTTPS and lets a scraper read /metrics only when a
	// TokenReview authenticates it and a SubjectAccessReview allows
	// "get" on the non-resource URL /metrics.
	Secure bool `json:"secure"`
	// CertFile and KeyFile are the serving certificate (reloaded when they
	// change); empty with Secure: a self-signed certificate.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// Pprof serves /debug/pprof/ (behind the same authorization when Secure).
	Pprof bool `json:"pprof"`
}

// DefaultPort is the agent's HTTP port.
const DefaultPort = 9477

// Default returns the defaults.
func Default() Config {
	return Config{
		ListenAddress:   fmt.Sprintf(":%d", DefaultPort),
		ShutdownTimeout: Duration(20 * time.Second),
		Log:             Log{Level: "info", Format: "json"},
		Probe: Probe{
			Enabled:       true,
			ClusterQPS:    20,
			Interval:      Duration(10 * time.Second),
			StartupSpread: Duration(5 * time.Minute),
			MaxBackoff:    Duration(5 * time.Minute),
			Timeout:       Duration(10 * time.Second),
		},
		Watch:      Watch{Lease: true},
		Checkpoint: Checkpoint{Path: "/var/lib/kubepulse/checkpoint", Interval: Duration(5 * time.Minute)},
		OTLP:       OTLP{Enabled: true},
		Baseline:   latencyBaseline(),
	}
}

// latencyBaseline is baseline.DefaultConfig with the floor latency needs: a
// change of less than a millisecond is scheduling noise, not an API problem,
// so phases that take microseconds (a reused connection's wait) do not alert
// on jitter.
func latencyBaseline() baseline.Config {
	c := baseline.DefaultConfig()
	c.Detector.AbsoluteStdDevFloor = 0.001
	return c
}

// Validate reports every invalid field, each named by its path.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, want string, got any) {
		errs = append(errs, fmt.Errorf("%s: want %s, got %v", field, want, got))
	}
	if c.NodeName == "" {
		bad("nodeName", "the node's name (set NODE_NAME from the downward API, or --node-name)", `""`)
	}
	if c.PodNamespace == "" {
		bad("podNamespace", "the agent's namespace (set POD_NAMESPACE from the downward API, or --pod-namespace)", `""`)
	}
	if _, _, err := net.SplitHostPort(c.ListenAddress); err != nil {
		bad("listenAddress", "host:port such as :9477", fmt.Sprintf("%q", c.ListenAddress))
	}
	if c.ShutdownTimeout < Duration(time.Second) {
		bad("shutdownTimeout", "≥ 1s", c.ShutdownTimeout)
	}
	if _, err := logging.ParseLevel(c.Log.Level); err != nil {
		errs = append(errs, fmt.Errorf("log.level: %w", err))
	}
	if _, err := logging.ParseFormat(c.Log.Format); err != nil {
		errs = append(errs, fmt.Errorf("log.format: %w", err))
	}
	p := c.Probe
	if !(p.ClusterQPS > 0 && p.ClusterQPS < 1e6) {
		bad("probe.clusterQPS", "> 0", p.ClusterQPS)
	}
	if p.Interval < Duration(time.Second) {
		bad("probe.interval", "≥ 1s", p.Interval)
	}
	if p.StartupSpread < 0 {
		bad("probe.startupSpread", "≥ 0", p.StartupSpread)
	}
	if p.MaxBackoff < p.Interval {
		bad("probe.maxBackoff", "≥ probe.interval ("+p.Interval.String()+")", p.MaxBackoff)
	}
	if p.Timeout < Duration(100*time.Millisecond) {
		bad("probe.timeout", "≥ 100ms", p.Timeout)
	}
	if c.Checkpoint.Path != "" && c.Checkpoint.Interval < Duration(time.Second) {
		bad("checkpoint.interval", "≥ 1s", c.Checkpoint.Interval)
	}
	for i, u := range c.Alertmanager.URLs {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad(fmt.Sprintf("alertmanager.urls[%d]", i), "an http or https URL", fmt.Sprintf("%q", u))
		}
	}
	if s := c.Alertmanager.Service; s != nil {
		if s.Namespace == "" || s.Name == "" || s.Port == "" {
			bad("alertmanager.service", "namespace, name and port", fmt.Sprintf("%+v", *s))
		}
		if s.Scheme != "" && s.Scheme != "http" && s.Scheme != "https" {
			bad("alertmanager.service.scheme", "http or https", fmt.Sprintf("%q", s.Scheme))
		}
	}
	switch c.OTLP.Protocol {
	case "", "grpc", "http/protobuf":
	default:
		bad("otlp.protocol", "grpc or http/protobuf", fmt.Sprintf("%q", c.OTLP.Protocol))
	}
	if (c.Metrics.CertFile == "") != (c.Metrics.KeyFile == "") {
		bad("metrics.keyFile", "set together with metrics.certFile", fmt.Sprintf("certFile %q, keyFile %q", c.Metrics.CertFile, c.Metrics.KeyFile))
	}
	if err := c.Baseline.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
