package alertmanager

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// Defaults for the zero values of Options.
const (
	DefaultTimeout              = 10 * time.Second
	DefaultResendInterval       = time.Minute
	DefaultResolvedResendWindow = 15 * time.Minute
	DefaultQueueCapacity        = 1024
	DefaultBatchSize            = 64
	DefaultDrainTimeout         = 5 * time.Second
)

// maxBackoff caps the wait between retries of a failing replica; it is also
// capped by the resend interval, so a replica that comes back is caught up
// within one resend.
const maxBackoff = 30 * time.Second

// Options configure a Client. They are data: the zero value of every field means
// its documented default. Validation errors name fields by the path written in
// brackets, under "alertmanager." (e.g. alertmanager.tls.caFile), so the agent's
// configuration should use the same names.
type Options struct {
	// URLs [urls] are Alertmanager base URLs (http or https, with the route
	// prefix if any): alerts are POSTed to <url>/api/v2/alerts. Every URL gets
	// every alert. Empty: nothing is sent until SetURLs (discovery) names some.
	URLs []string
	// ExternalLabels [externalLabels] are added to every alert (an alert's own
	// label of the same name wins), e.g. {cluster: prod-eu1}.
	ExternalLabels map[string]string
	// GeneratorURL [generatorURL] is the generatorURL of alerts that have none:
	// the agent's status page.
	GeneratorURL string
	// RunbookBaseURL [runbookBaseURL] is where runbook_url annotations point
	// (see RunbookURL); empty: DefaultRunbookBaseURL.
	RunbookBaseURL string

	// Timeout [timeout] bounds one POST. Default 10s.
	Timeout time.Duration
	// ResendInterval [resendInterval]: firing alerts are re-sent this often,
	// with endsAt = now + 4 × ResendInterval. Default 1m.
	ResendInterval time.Duration
	// ResolvedResendWindow [resolvedResendWindow]: resolved alerts are re-sent
	// for this long after they resolved, then forgotten. Default 15m.
	ResolvedResendWindow time.Duration
	// QueueCapacity [queueCapacity] bounds the alerts queued per replica; when
	// full, the oldest is dropped and counted. Default 1024.
	QueueCapacity int
	// BatchSize [batchSize] is the most alerts in one POST. Default 64.
	BatchSize int
	// DrainTimeout [drainTimeout] bounds how long Run, once its context ends,
	// keeps sending what is queued. Default 5s.
	DrainTimeout time.Duration

	// TLS [tls] configures https URLs.
	TLS TLSOptions
	// BearerTokenFile [bearerTokenFile] holds a token sent as
	// "Authorization: Bearer"; re-read when the file changes (e.g. a projected
	// service account token). Not with BasicAuth.
	BearerTokenFile string
	// BasicAuth [basicAuth] sends HTTP basic authentication. Not with
	// BearerTokenFile.
	BasicAuth BasicAuth
	// UserAgent [userAgent] is the User-Agent header; default "kubepulse".
	UserAgent string

	// Logger receives the Client's logs; nil discards them. Tokens, passwords
	// and request bodies are never logged.
	Logger *slog.Logger
	// Clock drives resends and retry backoff; nil is the real clock. Tests pass
	// k8s.io/utils/clock/testing's FakeClock.
	Clock clock.Clock
}

// TLSOptions configure TLS to Alertmanager. Files are re-read when they change
// (checked before each POST), so rotated certificates are picked up.
type TLSOptions struct {
	CAFile             string // [caFile] PEM CA bundle; empty: the system roots
	CertFile           string // [certFile] client certificate (PEM), with KeyFile
	KeyFile            string // [keyFile] client key (PEM), with CertFile
	ServerName         string // [serverName] overrides the name verified
	InsecureSkipVerify bool   // [insecureSkipVerify] do not verify the server: tests only
}

// BasicAuth is HTTP basic authentication; the password is read from a file (a
// mounted Secret), re-read when it changes.
type BasicAuth struct {
	Username     string // [username]
	PasswordFile string // [passwordFile]
}

// withDefaults returns o with zero values replaced by their defaults.
func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Timeout, DefaultTimeout)
	def(&o.ResendInterval, DefaultResendInterval)
	def(&o.ResolvedResendWindow, DefaultResolvedResendWindow)
	def(&o.DrainTimeout, DefaultDrainTimeout)
	if o.QueueCapacity == 0 {
		o.QueueCapacity = DefaultQueueCapacity
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.UserAgent == "" {
		o.UserAgent = "kubepulse"
	}
	if o.RunbookBaseURL == "" {
		o.RunbookBaseURL = DefaultRunbookBaseURL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// validate checks o (with defaults applied) except for the files, which
// newTransport and newCredentials read. Every problem is reported, each naming
// its field.
func (o Options) validate() error {
	var errs []error
	add := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("alertmanager.%s: "+format, append([]any{field}, a...)...))
	}
	if _, err := normalizeURLs(o.URLs); err != nil {
		errs = append(errs, err)
	}
	for _, k := range slices.Sorted(maps.Keys(o.ExternalLabels)) {
		switch {
		case !validLabelName(k):
			add("externalLabels", "%q: want a label name ([a-zA-Z_][a-zA-Z0-9_]*)", k)
		case o.ExternalLabels[k] == "":
			add("externalLabels."+k, "want a non-empty value")
		}
	}
	if o.GeneratorURL != "" {
		if err := checkHTTPURL(o.GeneratorURL, false); err != nil {
			add("generatorURL", "%q: %v", o.GeneratorURL, err)
		}
	}
	if err := checkHTTPURL(o.RunbookBaseURL, false); err != nil {
		add("runbookBaseURL", "%q: %v", o.RunbookBaseURL, err)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"timeout", o.Timeout}, {"resendInterval", o.ResendInterval},
		{"resolvedResendWindow", o.ResolvedResendWindow}, {"drainTimeout", o.DrainTimeout}} {
		if d.v < 0 {
			add(d.field, "want a positive duration, got %v", d.v)
		}
	}
	if o.QueueCapacity < 0 {
		add("queueCapacity", "want a positive number, got %d", o.QueueCapacity)
	}
	if o.BatchSize < 0 {
		add("batchSize", "want a positive number, got %d", o.BatchSize)
	}
	if o.BatchSize > o.QueueCapacity && o.QueueCapacity > 0 {
		add("batchSize", "%d: want at most queueCapacity (%d)", o.BatchSize, o.QueueCapacity)
	}
	if (o.TLS.CertFile == "") != (o.TLS.KeyFile == "") {
		if o.TLS.CertFile == "" {
			add("tls.certFile", "required with tls.keyFile")
		} else {
			add("tls.keyFile", "required with tls.certFile")
		}
	}
	if o.BearerTokenFile != "" && (o.BasicAuth.Username != "" || o.BasicAuth.PasswordFile != "") {
		add("bearerTokenFile", "cannot be used together with basicAuth")
	}
	if o.BasicAuth.PasswordFile != "" && o.BasicAuth.Username == "" {
		add("basicAuth.username", "required with basicAuth.passwordFile")
	}
	if o.BasicAuth.Username != "" && o.BasicAuth.PasswordFile == "" {
		add("basicAuth.passwordFile", "required with basicAuth.username")
	}
	return errors.Join(errs...)
}

// normalizeURLs checks Alertmanager base URLs and returns them without
// trailing slashes. Errors name the index: alertmanager.urls[1].
func normalizeURLs(urls []string) ([]string, error) {
	var errs []error
	out := make([]string, 0, len(urls))
	seen := map[string]int{}
	for i, raw := range urls {
		if err := checkHTTPURL(raw, true); err != nil {
			errs = append(errs, fmt.Errorf("alertmanager.urls[%d]: %q: %w", i, redactURL(raw), err))
			continue
		}
		u := strings.TrimRight(raw, "/")
		if j, dup := seen[u]; dup {
			errs = append(errs, fmt.Errorf("alertmanager.urls[%d]: %q: duplicate of urls[%d]", i, raw, j))
			continue
		}
		seen[u] = i
		out = append(out, u)
	}
	return out, errors.Join(errs...)
}

// checkHTTPURL accepts absolute http and https URLs. Base URLs must carry no
// credentials (they would end up in logs and metric labels), query or fragment.
func checkHTTPURL(raw string, base bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("want http or https URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return errors.New("want http or https URL")
	case !base:
		return nil
	case u.User != nil:
		return errors.New("want no credentials in the URL (use basicAuth or bearerTokenFile)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("want a base URL without query or fragment")
	}
	return nil
}

// redactURL hides a password written into a URL, even one that does not parse.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
			return scheme + "://" + user + ":xxxxx" + rest[at:]
		}
	}
	return raw
}
