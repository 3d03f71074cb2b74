package alertmanager

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewValidation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pki := newTestPKI(t)
	token := write("token", "s3cr3t\n")
	empty := write("empty", "\n")
	notPEM := write("notpem", "hello")
	missing := filepath.Join(dir, "missing")

	for _, tc := range []struct {
		name string
		o    Options
		want []string // every line of the error, in order
	}{
		{"bad scheme", Options{URLs: []string{"http://am-0:9093", "htp://x"}},
			[]string{`alertmanager.urls[1]: "htp://x": want http or https URL`}},
		{"no host", Options{URLs: []string{"http://"}},
			[]string{`alertmanager.urls[0]: "http://": want http or https URL`}},
		{"unparsable", Options{URLs: []string{"http://a b:x"}},
			[]string{`alertmanager.urls[0]: "http://a b:x": want http or https URL: invalid port ":x" after host`}},
		{"credentials redacted", Options{URLs: []string{"https://admin:hunter2@am:9093"}},
			[]string{`alertmanager.urls[0]: "https://admin:xxxxx@am:9093": want no credentials in the URL (use basicAuth or bearerTokenFile)`}},
		{"credentials redacted, unparsable", Options{URLs: []string{"https://admin:hunter2@am:port"}},
			[]string{`alertmanager.urls[0]: "https://admin:xxxxx@am:port": want http or https URL: invalid port ":port" after host`}},
		{"query", Options{URLs: []string{"http://am:9093/?x=1"}},
			[]string{`alertmanager.urls[0]: "http://am:9093/?x=1": want a base URL without query or fragment`}},
		{"duplicate", Options{URLs: []string{"http://am:9093", "http://am:9093/"}},
			[]string{`alertmanager.urls[1]: "http://am:9093/": duplicate of urls[0]`}},
		{"external labels", Options{ExternalLabels: map[string]string{"cluster": "", "0bad": "x"}},
			[]string{`alertmanager.externalLabels: "0bad": want a label name ([a-zA-Z_][a-zA-Z0-9_]*)`,
				`alertmanager.externalLabels.cluster: want a non-empty value`}},
		{"generator URL", Options{GeneratorURL: "/status"},
			[]string{`alertmanager.generatorURL: "/status": want http or https URL`}},
		{"runbook base", Options{RunbookBaseURL: "docs/alerts.md"},
			[]string{`alertmanager.runbookBaseURL: "docs/alerts.md": want http or https URL`}},
		{"negative durations", Options{Timeout: -time.Second, ResendInterval: -1, ResolvedResendWindow: -1, DrainTimeout: -1},
			[]string{`alertmanager.timeout: want a positive duration, got -1s`,
				`alertmanager.resendInterval: want a positive duration, got -1ns`,
				`alertmanager.resolvedResendWindow: want a positive duration, got -1ns`,
				`alertmanager.drainTimeout: want a positive duration, got -1ns`}},
		{"sizes", Options{QueueCapacity: -1, BatchSize: -2},
			[]string{`alertmanager.queueCapacity: want a positive number, got -1`,
				`alertmanager.batchSize: want a positive number, got -2`}},
		{"batch above capacity", Options{QueueCapacity: 10, BatchSize: 64},
			[]string{`alertmanager.batchSize: 64: want at most queueCapacity (10)`}},
		{"cert without key", Options{TLS: TLSOptions{CertFile: pki.clientCert}},
			[]string{`alertmanager.tls.keyFile: required with tls.certFile`}},
		{"key without cert", Options{TLS: TLSOptions{KeyFile: pki.clientKey}},
			[]string{`alertmanager.tls.certFile: required with tls.keyFile`}},
		{"token and basic auth", Options{BearerTokenFile: token, BasicAuth: BasicAuth{Username: "u", PasswordFile: token}},
			[]string{`alertmanager.bearerTokenFile: cannot be used together with basicAuth`}},
		{"basic auth without user", Options{BasicAuth: BasicAuth{PasswordFile: token}},
			[]string{`alertmanager.basicAuth.username: required with basicAuth.passwordFile`}},
		{"basic auth without password", Options{BasicAuth: BasicAuth{Username: "u"}},
			[]string{`alertmanager.basicAuth.passwordFile: required with basicAuth.username`}},
		{"missing CA", Options{TLS: TLSOptions{CAFile: missing}},
			[]string{`alertmanager.tls.caFile: open ` + missing + `: no such file or directory`}},
		{"CA not PEM", Options{TLS: TLSOptions{CAFile: notPEM}},
			[]string{`alertmanager.tls.caFile: ` + notPEM + `: no PEM certificate found`}},
		{"key does not match", Options{TLS: TLSOptions{CertFile: pki.clientCert, KeyFile: pki.serverKey}},
			[]string{`alertmanager.tls.certFile, alertmanager.tls.keyFile: ` + pki.clientCert + `, ` + pki.serverKey +
				`: tls: private key does not match public key`}},
		{"missing token", Options{BearerTokenFile: missing},
			[]string{`alertmanager.bearerTokenFile: open ` + missing + `: no such file or directory`}},
		{"empty token", Options{BearerTokenFile: empty},
			[]string{`alertmanager.bearerTokenFile: ` + empty + ` is empty`}},
		{"missing password", Options{BasicAuth: BasicAuth{Username: "u", PasswordFile: missing}},
			[]string{`alertmanager.basicAuth.passwordFile: open ` + missing + `: no such file or directory`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.o)
			if err == nil {
				t.Fatalf("New(%+v) = %v, want an error", tc.o, c)
			}
			if got := strings.Split(err.Error(), "\n"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("error:\n%s\nwant:\n%s", err, strings.Join(tc.want, "\n"))
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error reveals a secret: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := c.o
	if o.Timeout != 10*time.Second || o.ResendInterval != time.Minute || o.ResolvedResendWindow != 15*time.Minute ||
		o.QueueCapacity != 1024 || o.BatchSize != 64 || o.DrainTimeout != 5*time.Second ||
		o.RunbookBaseURL != DefaultRunbookBaseURL || o.UserAgent != "kubepulse" || o.Logger == nil || o.Clock == nil {
		t.Errorf("defaults: %+v", o)
	}
	if len(c.URLs()) != 0 || len(c.Stats()) != 0 {
		t.Errorf("no URLs configured, got %v", c.URLs())
	}
}

func TestURLsAreNormalized(t *testing.T) {
	c, err := New(Options{URLs: []string{"http://b:9093/", "https://a:9093/prefix/"}})
	if err != nil {
		t.Fatal(err)
	}
	got := c.URLs()
	if strings.Join(got, " ") != "http://b:9093 https://a:9093/prefix" {
		t.Errorf("URLs() = %v", got)
	}
	if p := c.replicas["https://a:9093/prefix"].postURL; p != "https://a:9093/prefix/api/v2/alerts" {
		t.Errorf("post URL with a route prefix = %s", p)
	}
}
