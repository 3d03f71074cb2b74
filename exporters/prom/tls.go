package prom

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCertReloadInterval is how often the certificate files are read
// again. A Secret volume is updated within about a minute of the Secret, so
// checking more often gains little.
const DefaultCertReloadInterval = 10 * time.Second

// TLSOptions configure HTTPS serving.
type TLSOptions struct {
	// CertFile and KeyFile are the PEM serving certificate (with its chain)
	// and key. They are read again every ReloadInterval and the new pair is
	// served from the next handshake on, so a renewed certificate (a
	// cert-manager Secret, say) needs no restart. A pair that does not load
	// (half written, mismatched) is logged and the previous one kept.
	//
	// Both empty: a self-signed certificate is generated at start (ECDSA
	// P-256, one year, for localhost, the loopback addresses, the host name
	// and Hosts). Scrapers then skip verification (insecureSkipVerify), as
	// they do for the kubelet's own self-signed /metrics.
	CertFile, KeyFile string
	// ReloadInterval is how often the files are checked; 0 means
	// DefaultCertReloadInterval.
	ReloadInterval time.Duration
	// Hosts are further DNS names or IP addresses of the self-signed
	// certificate (e.g. the pod IP).
	Hosts []string
	// MinVersion is the lowest TLS version accepted; 0 means TLS 1.2.
	MinVersion uint16
}

// certSource holds the certificate served and reloads it from files.
type certSource struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate]

	mu   sync.Mutex // serialises reload
	seen [sha256.Size]byte
}

// newCertSource loads o's files, or generates a self-signed certificate.
func newCertSource(o TLSOptions, log *slog.Logger) (*certSource, error) {
	s := &certSource{certFile: o.CertFile, keyFile: o.KeyFile, log: log}
	switch {
	case o.CertFile == "" && o.KeyFile == "":
		c, err := selfSigned(o.Hosts, time.Now())
		if err != nil {
			return nil, fmt.Errorf("tls: generate a self-signed certificate: %w", err)
		}
		s.cur.Store(c)
		return s, nil
	case o.CertFile == "" || o.KeyFile == "":
		return nil, fmt.Errorf("tls: certFile %q and keyFile %q: want both set or both empty", o.CertFile, o.KeyFile)
	}
	if _, err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// getCertificate implements tls.Config.GetCertificate.
func (s *certSource) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.cur.Load(), nil
}

// reload reads the files and swaps in their pair if the content changed and
// loads; changed reports a swap. An error leaves the served pair as it was;
// the same bad content is reported once, not on every check.
func (s *certSource) reload() (changed bool, err error) {
	if s.certFile == "" {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	certPEM, err := os.ReadFile(s.certFile)
	if err != nil {
		return false, fmt.Errorf("tls: read certFile: %w", err)
	}
	keyPEM, err := os.ReadFile(s.keyFile)
	if err != nil {
		return false, fmt.Errorf("tls: read keyFile: %w", err)
	}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if sum == s.seen {
		return false, nil
	}
	s.seen = sum
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("tls: load certFile %s and keyFile %s: %w", s.certFile, s.keyFile, err)
	}
	s.cur.Store(&c)
	return true, nil
}

// run checks the files every interval until ctx ends.
func (s *certSource) run(ctx context.Context, interval time.Duration) {
	if s.certFile == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := s.reload()
		switch {
		case err != nil:
			s.log.Warn("serving certificate not reloaded; keeping the previous one", "err", err)
		case changed:
			if leaf := s.cur.Load().Leaf; leaf != nil {
				s.log.Info("serving certificate reloaded", "subject", leaf.Subject.String(),
					"notAfter", leaf.NotAfter, "serial", leaf.SerialNumber.Text(16))
			}
		}
	}
}

// selfSigned returns a fresh self-signed serving certificate.
func selfSigned(hosts []string, now time.Time) (*tls.Certificate, error) {
	certPEM, keyPEM, err := selfSignedPEM(hosts, now)
	if err != nil {
		return nil, err
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// selfSignedPEM returns the PEM certificate and key of a fresh self-signed
// serving certificate valid from an hour before now (clock skew) for a year,
// for localhost, the loopback addresses, the host name and hosts.
func selfSignedPEM(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubepulse", Organization: []string{"kubepulse (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
