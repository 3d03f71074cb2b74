package prom

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// certFiles writes a fresh self-signed pair for host into dir and returns
// the paths and the certificate's DER.
func certFiles(t *testing.T, dir, host string) (certFile, keyFile string, der []byte) {
	t.Helper()
	certPEM, keyPEM, err := selfSignedPEM([]string{host}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, certPEM)
	writeFile(t, keyFile, keyPEM)
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, c.Certificate[0]
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func served(t *testing.T, s *certSource) []byte {
	t.Helper()
	c, err := s.getCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil {
		t.Fatalf("getCertificate: %v, %v", c, err)
	}
	return c.Certificate[0]
}

func TestSelfSignedCertificate(t *testing.T) {
	s, err := newCertSource(TLSOptions{Hosts: []string{"10.1.2.3", "kubepulse.monitoring.svc"}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(served(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(leaf.DNSNames, "localhost") || !slices.Contains(leaf.DNSNames, "kubepulse.monitoring.svc") {
		t.Errorf("DNS names %v: want localhost and the given host", leaf.DNSNames)
	}
	var ips []string
	for _, ip := range leaf.IPAddresses {
		ips = append(ips, ip.String())
	}
	for _, want := range []string{"127.0.0.1", "::1", "10.1.2.3"} {
		if !slices.Contains(ips, want) {
			t.Errorf("IP addresses %v: want %s", ips, want)
		}
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d < 364*24*time.Hour {
		t.Errorf("valid for %v, want about a year", d)
	}
	// A client that trusts exactly this certificate verifies it for each name.
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, name := range []string{"localhost", "127.0.0.1", "10.1.2.3", "kubepulse.monitoring.svc"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	// Every start makes a new one.
	s2, err := newCertSource(TLSOptions{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(served(t, s), served(t, s2)) {
		t.Error("two self-signed certificates are the same")
	}
}

func TestCertSourceErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := certFiles(t, dir, "a")
	otherCert, _, _ := certFiles(t, t.TempDir(), "b")
	garbage := filepath.Join(dir, "garbage.pem")
	writeFile(t, garbage, []byte("not PEM"))
	for _, tt := range []struct {
		name string
		o    TLSOptions
		want string
	}{
		{"cert without key", TLSOptions{CertFile: certFile}, `certFile "` + certFile + `" and keyFile "": want both set or both empty`},
		{"key without cert", TLSOptions{KeyFile: keyFile}, `want both set or both empty`},
		{"missing cert file", TLSOptions{CertFile: filepath.Join(dir, "nope.crt"), KeyFile: keyFile}, "read certFile: open " + filepath.Join(dir, "nope.crt")},
		{"missing key file", TLSOptions{CertFile: certFile, KeyFile: filepath.Join(dir, "nope.key")}, "read keyFile: open"},
		{"not PEM", TLSOptions{CertFile: garbage, KeyFile: keyFile}, "load certFile " + garbage},
		{"key of another certificate", TLSOptions{CertFile: otherCert, KeyFile: keyFile}, "private key does not match public key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newCertSource(tt.o, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCertReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, derA := certFiles(t, dir, "a")
	s, err := newCertSource(TLSOptions{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(served(t, s), derA) {
		t.Fatal("not serving the files' certificate")
	}
	if changed, err := s.reload(); changed || err != nil {
		t.Fatalf("unchanged files: changed %v, err %v", changed, err)
	}

	// A renewal: both files replaced.
	_, _, derB := certFiles(t, dir, "b")
	if changed, err := s.reload(); !changed || err != nil {
		t.Fatalf("renewed files: changed %v, err %v", changed, err)
	}
	if !bytes.Equal(served(t, s), derB) {
		t.Fatal("renewed certificate not served")
	}

	// Half written: a new certificate, the old key. Keep serving B, report
	// the problem once, not on every check.
	certPEMC, _, err := selfSignedPEM([]string{"c"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certFile, certPEMC)
	if changed, err := s.reload(); changed || err == nil {
		t.Fatalf("mismatched pair: changed %v, err %v; want an error", changed, err)
	}
	if !bytes.Equal(served(t, s), derB) {
		t.Fatal("a bad pair replaced the served certificate")
	}
	if changed, err := s.reload(); changed || err != nil {
		t.Fatalf("same bad pair again: changed %v, err %v; want silence", changed, err)
	}

	// The key arrives: the pair loads.
	_, _, derD := certFiles(t, dir, "d")
	if changed, err := s.reload(); !changed || err != nil {
		t.Fatalf("completed pair: changed %v, err %v", changed, err)
	}
	if !bytes.Equal(served(t, s), derD) {
		t.Fatal("completed pair not served")
	}
}

// TestCertReloadLoop: the loop picks up new files within one interval, in
// fake time.
func TestCertReloadLoop(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := certFiles(t, dir, "a")
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		s, err := newCertSource(TLSOptions{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { s.run(ctx, 10*time.Second); close(done) }()

		_, _, derB := certFiles(t, dir, "b")
		time.Sleep(9 * time.Second)
		synctest.Wait()
		if bytes.Equal(served(t, s), derB) {
			t.Fatal("reloaded before the interval")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if !bytes.Equal(served(t, s), derB) {
			t.Fatal("not reloaded after the interval")
		}
		if !strings.Contains(logs.String(), "serving certificate reloaded") {
			t.Errorf("log: %s", logs.String())
		}
		cancel()
		<-done
	})
}

// TestTLSHandshakeServesReloadedCertificate checks the swap where clients see
// it: in the TLS handshake of new connections.
func TestTLSHandshakeServesReloadedCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, derA := certFiles(t, dir, "a")
	s, err := newCertSource(TLSOptions{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: s.getCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	handshake := func() []byte {
		c, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // we inspect the certificate
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].Raw
	}
	if !bytes.Equal(handshake(), derA) {
		t.Fatal("first handshake: not certificate A")
	}
	_, _, derB := certFiles(t, dir, "b")
	if _, err := s.reload(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(handshake(), derB) {
		t.Fatal("handshake after reload: not certificate B")
	}
}
