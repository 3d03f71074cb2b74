package alertmanager

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPKI is a CA with a server and a client certificate, and an unrelated CA,
// written as PEM files.
type testPKI struct {
	ca, otherCA           string
	serverCert, serverKey string
	clientCert, clientKey string
	pool                  *x509.CertPool // holds ca
	server                tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{}
	caCert, caKey, caPEM := newCert(t, "kubepulse test CA", nil, nil)
	_, _, otherPEM := newCert(t, "unrelated CA", nil, nil)
	_, serverKey, serverPEM := newCert(t, "alertmanager", caCert, caKey)
	_, clientKey, clientPEM := newCert(t, "kubepulse", caCert, caKey)
	write := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	p.ca, p.otherCA = write("ca.pem", caPEM), write("other-ca.pem", otherPEM)
	p.serverCert, p.serverKey = write("server.pem", serverPEM), write("server-key.pem", keyPEM(t, serverKey))
	p.clientCert, p.clientKey = write("client.pem", clientPEM), write("client-key.pem", keyPEM(t, clientKey))
	p.pool = x509.NewCertPool()
	p.pool.AddCert(caCert)
	var err error
	if p.server, err = tls.X509KeyPair(serverPEM, keyPEM(t, serverKey)); err != nil {
		t.Fatal(err)
	}
	return p
}

// newCert makes a certificate for 127.0.0.1 signed by parent (self-signed CA
// when parent is nil).
func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.IPAddresses = nil
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(t *testing.T, k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// newTLSFakeAM serves the fake Alertmanager over TLS with pki's server
// certificate, requiring a client certificate from pki's CA when mTLS is set.
func newTLSFakeAM(t *testing.T, pki *testPKI, mTLS bool) *fakeAM {
	t.Helper()
	f := &fakeAM{}
	f.Server = httptest.NewUnstartedServer(f)
	f.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}}
	if mTLS {
		f.TLS.ClientAuth, f.TLS.ClientCAs = tls.RequireAndVerifyClientCert, pki.pool
	}
	f.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are what some tests cause
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

// replaceFile swaps a file's content the way kubelet updates a mounted Secret:
// write a new file, rename it over the old one.
func replaceFile(t *testing.T, path string, content []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	am := newTLSFakeAM(t, pki, true)
	c, _ := startClient(t, Options{URLs: []string{am.URL},
		TLS: TLSOptions{CAFile: pki.ca, CertFile: pki.clientCert, KeyFile: pki.clientKey}})
	_ = c.Firing(alertNamed(KubeAPILatencyDrift))
	am.waitReceived(t, 1)
}

func TestTLSFailures(t *testing.T) {
	pki := newTestPKI(t)
	for _, tc := range []struct {
		name string
		mTLS bool
		tls  TLSOptions
		want string
	}{
		{"unknown authority", false, TLSOptions{CAFile: pki.otherCA}, "certificate signed by unknown authority"},
		{"system roots do not know the test CA", false, TLSOptions{}, "certificate signed by unknown authority"},
		{"wrong server name", false, TLSOptions{CAFile: pki.ca, ServerName: "am.example"}, "wanted to match am.example"},
		{"no client certificate", true, TLSOptions{CAFile: pki.ca}, "certificate required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			am := newTLSFakeAM(t, pki, tc.mTLS)
			c, _ := startClient(t, Options{URLs: []string{am.URL}, TLS: tc.tls})
			_ = c.Firing(alertNamed(KubeAPILatencyDrift))
			eventually(t, func() (bool, string) {
				s := statsOf(t, c, am.URL)
				return s.SendErrors >= 1 && strings.Contains(s.LastError, tc.want), fmt.Sprintf("%+v", s)
			})
		})
	}
}

func TestInsecureSkipVerify(t *testing.T) {
	pki := newTestPKI(t)
	am := newTLSFakeAM(t, pki, false)
	c, _ := startClient(t, Options{URLs: []string{am.URL}, TLS: TLSOptions{InsecureSkipVerify: true}})
	_ = c.Firing(alertNamed(KubeAPILatencyDrift))
	am.waitReceived(t, 1)
}

// A rotated CA file is picked up on the next attempt, without a restart.
func TestCAFileReload(t *testing.T) {
	pki := newTestPKI(t)
	am := newTLSFakeAM(t, pki, false)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	other, _ := os.ReadFile(pki.otherCA)
	replaceFile(t, caFile, other)
	c, clk := startClient(t, Options{URLs: []string{am.URL}, TLS: TLSOptions{CAFile: caFile}})
	_ = c.Firing(alertNamed(KubeAPILatencyDrift))
	waitForTimers(t, clk, 2) // failed: scheduler + backoff
	if s := statsOf(t, c, am.URL); !strings.Contains(s.LastError, "unknown authority") {
		t.Fatalf("with the wrong CA: %+v", s)
	}
	right, _ := os.ReadFile(pki.ca)
	replaceFile(t, caFile, right)
	clk.Step(time.Second)
	am.waitReceived(t, 1)
}

func TestBearerTokenFile(t *testing.T) {
	am := newFakeAM(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	replaceFile(t, tokenFile, []byte("token-one\n"))
	c, _ := startClient(t, Options{URLs: []string{am.URL}, BearerTokenFile: tokenFile})
	_ = c.Firing(alertNamed(KubeAPILatencyDrift))
	am.waitReceived(t, 1)
	if got := am.header(0).Get("Authorization"); got != "Bearer token-one" {
		t.Errorf("Authorization = %q", got)
	}
	replaceFile(t, tokenFile, []byte("token-two")) // rotated (e.g. a projected service account token)
	_ = c.Firing(alertNamed(KubeAPIUnreachable))
	am.waitReceived(t, 2)
	if got := am.header(1).Get("Authorization"); got != "Bearer token-two" {
		t.Errorf("after rotation Authorization = %q", got)
	}
	// A token file missing during a rotation: the last good token is used.
	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	_ = c.Firing(alertNamed(KubeAPIClientThrottled))
	am.waitReceived(t, 3)
	if got := am.header(2).Get("Authorization"); got != "Bearer token-two" {
		t.Errorf("with the file gone Authorization = %q", got)
	}
}

func TestBasicAuth(t *testing.T) {
	am := newFakeAM(t)
	pw := filepath.Join(t.TempDir(), "password")
	replaceFile(t, pw, []byte("pa55word\n"))
	c, _ := startClient(t, Options{URLs: []string{am.URL}, BasicAuth: BasicAuth{Username: "kubepulse", PasswordFile: pw}})
	_ = c.Firing(alertNamed(KubeAPILatencyDrift))
	am.waitReceived(t, 1)
	r := &http.Request{Header: am.header(0)}
	if u, p, ok := r.BasicAuth(); !ok || u != "kubepulse" || p != "pa55word" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
}

// Credentials never show in logs or stats, even when Alertmanager refuses them.
func TestSecretsNeverLogged(t *testing.T) {
	am := newFakeAM(t)
	am.status.Store(http.StatusUnauthorized)
	tokenFile := filepath.Join(t.TempDir(), "token")
	replaceFile(t, tokenFile, []byte("very-secret-token"))
	var logs syncBuffer
	c, _ := startClient(t, Options{URLs: []string{am.URL}, BearerTokenFile: tokenFile,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	_ = c.Firing(alertNamed(KubeAPILatencyDrift))
	eventually(t, func() (bool, string) {
		s := statsOf(t, c, am.URL)
		return s.Dropped == 1, fmt.Sprintf("%+v", s) // 401 is not retried
	})
	s := statsOf(t, c, am.URL)
	if !strings.Contains(s.LastError, "401") || !strings.Contains(logs.String(), "401 Unauthorized") {
		t.Errorf("401 not reported: stats %+v, logs %s", s, logs.String())
	}
	for _, where := range []string{logs.String(), fmt.Sprintf("%+v", c.Stats())} {
		if strings.Contains(where, "very-secret-token") {
			t.Errorf("token leaked: %s", where)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
