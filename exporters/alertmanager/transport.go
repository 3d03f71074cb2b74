package alertmanager

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// watchedFile is a small file (token, password, certificate) read again when it
// changes: a kubelet-projected token or a rotated Secret is swapped in place.
type watchedFile struct {
	field string // option path, for errors: alertmanager.tls.caFile
	path  string

	mu   sync.Mutex
	info os.FileInfo // of the last successful read
	data []byte
}

func newWatchedFile(field, path string) (*watchedFile, error) {
	if path == "" {
		return nil, nil
	}
	if _, err := os.ReadFile(path); err != nil { // "open /x: no such file or directory"
		return nil, fmt.Errorf("alertmanager.%s: %w", field, err)
	}
	w := &watchedFile{field: field, path: path}
	if _, _, err := w.read(); err != nil {
		return nil, err
	}
	return w, nil
}

// read returns the file's content, re-read if the file changed since the last
// read, and whether it did. On error the last good content is kept (callers
// decide whether to use it).
func (w *watchedFile) read() (data []byte, changed bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fi, err := os.Stat(w.path)
	if err != nil {
		return w.data, false, fmt.Errorf("alertmanager.%s: %w", w.field, err)
	}
	if w.info != nil && os.SameFile(fi, w.info) && fi.ModTime().Equal(w.info.ModTime()) && fi.Size() == w.info.Size() {
		return w.data, false, nil
	}
	b, err := os.ReadFile(w.path)
	if err != nil {
		return w.data, false, fmt.Errorf("alertmanager.%s: %w", w.field, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return w.data, false, fmt.Errorf("alertmanager.%s: %s is empty", w.field, w.path)
	}
	w.info, w.data = fi, b
	return b, true, nil
}

// credentials put the configured Authorization header on a request.
type credentials struct {
	token    *watchedFile // bearer token
	username string
	password *watchedFile
}

func newCredentials(o Options) (*credentials, error) {
	token, err := newWatchedFile("bearerTokenFile", o.BearerTokenFile)
	if err != nil {
		return nil, err
	}
	password, err := newWatchedFile("basicAuth.passwordFile", o.BasicAuth.PasswordFile)
	if err != nil {
		return nil, err
	}
	return &credentials{token: token, username: o.BasicAuth.Username, password: password}, nil
}

// apply sets the Authorization header. A file that cannot be read now falls
// back to its last good content: a rotation in progress must not stop alerts.
func (c *credentials) apply(req *http.Request) {
	switch {
	case c.token != nil:
		tok, _, _ := c.token.read()
		req.Header.Set("Authorization", "Bearer "+string(bytes.TrimSpace(tok)))
	case c.password != nil:
		pw, _, _ := c.password.read()
		req.SetBasicAuth(c.username, string(bytes.TrimSpace(pw)))
	}
}

// transport builds the HTTP transport and rebuilds it when a TLS file changes.
type transport struct {
	opts            TLSOptions
	ca, cert, key   *watchedFile
	mu              sync.Mutex
	rt              *http.Transport
	lastReloadError string
}

func newTransport(o TLSOptions) (*transport, error) {
	t := &transport{opts: o}
	var err error
	if t.ca, err = newWatchedFile("tls.caFile", o.CAFile); err != nil {
		return nil, err
	}
	if t.cert, err = newWatchedFile("tls.certFile", o.CertFile); err != nil {
		return nil, err
	}
	if t.key, err = newWatchedFile("tls.keyFile", o.KeyFile); err != nil {
		return nil, err
	}
	cfg, err := t.tlsConfig()
	if err != nil {
		return nil, err
	}
	t.rt = newHTTPTransport(cfg)
	return t, nil
}

// current returns the transport to use now. If a TLS file changed it is
// rebuilt; if the new files are unusable (a rotation half done), the previous
// transport is kept and the error returned once, for logging.
func (t *transport) current() (*http.Transport, error) {
	changed := false
	for _, f := range []*watchedFile{t.ca, t.cert, t.key} {
		if f == nil {
			continue
		}
		if _, c, _ := f.read(); c {
			changed = true
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !changed {
		return t.rt, nil
	}
	cfg, err := t.tlsConfig()
	if err != nil {
		if err.Error() == t.lastReloadError {
			return t.rt, nil
		}
		t.lastReloadError = err.Error()
		return t.rt, fmt.Errorf("reloading TLS files, keeping the previous ones: %w", err)
	}
	t.lastReloadError = ""
	old := t.rt
	t.rt = newHTTPTransport(cfg)
	old.CloseIdleConnections()
	return t.rt, nil
}

// tlsConfig builds a tls.Config from the files' current content.
func (t *transport) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.opts.ServerName,
		InsecureSkipVerify: t.opts.InsecureSkipVerify, //nolint:gosec // an explicit option, documented as tests only
	}
	if t.ca != nil {
		pem, _, err := t.ca.read()
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("alertmanager.tls.caFile: %s: no PEM certificate found", t.ca.path)
		}
		cfg.RootCAs = pool
	}
	if t.cert != nil {
		certPEM, _, err := t.cert.read()
		if err != nil {
			return nil, err
		}
		keyPEM, _, err := t.key.read()
		if err != nil {
			return nil, err
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("alertmanager.tls.certFile, alertmanager.tls.keyFile: %s, %s: %w",
				t.cert.path, t.key.path, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// newHTTPTransport is net/http's default transport without the environment's
// proxy: Alertmanager runs in the cluster, and an egress HTTPS_PROXY without a
// matching NO_PROXY would silently swallow alerts.
func newHTTPTransport(cfg *tls.Config) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   10 * time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
