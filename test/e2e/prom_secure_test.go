//go:build e2e

package e2e

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
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/kubepulse/kubepulse/exporters/prom"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// promSecureEnv is a namespace with ServiceAccounts on the shared cluster:
// the exporter's own (allowed to create TokenReviews and
// SubjectAccessReviews, nothing else), a scraper bound to a ClusterRole that
// may get /metrics, and a plain one.
type promSecureEnv struct {
	admin                           kubernetes.Interface
	adminCfg                        *rest.Config
	ns                              string
	exporterTok, boundTok, plainTok string
}

func newPromSecureEnv(t *testing.T) *promSecureEnv {
	t.Helper()
	cluster := framework.SharedCluster(t)
	cfg := cluster.AdminConfig(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	e := &promSecureEnv{admin: cs, adminCfg: cfg, ns: fmt.Sprintf("prom-secure-%d", time.Now().UnixNano()%1_000_000)}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{})
	must("create namespace", err)
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(t.Context(), e.ns, metav1.DeleteOptions{}) })

	// The exporter's RBAC is exactly what AuthOptions documents (and the
	// chart grants with config.metrics.secure).
	roles := map[string][]rbacv1.PolicyRule{
		"exporter": {
			{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
			{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
		},
		"scraper-bound": {{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}
	for _, sa := range []string{"exporter", "scraper-bound", "scraper-plain"} {
		_, err := cs.CoreV1().ServiceAccounts(e.ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
		must("create ServiceAccount "+sa, err)
		rules, ok := roles[sa]
		if !ok {
			continue
		}
		name := e.ns + "-" + sa
		_, err = cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
		must("create ClusterRole "+name, err)
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: e.ns, Name: sa}},
		}, metav1.CreateOptions{})
		must("create ClusterRoleBinding "+name, err)
		t.Cleanup(func() {
			_ = cs.RbacV1().ClusterRoleBindings().Delete(t.Context(), name, metav1.DeleteOptions{})
			_ = cs.RbacV1().ClusterRoles().Delete(t.Context(), name, metav1.DeleteOptions{})
		})
	}
	token := func(sa string) string {
		tr, err := cs.CoreV1().ServiceAccounts(e.ns).CreateToken(ctx, sa, &authnv1.TokenRequest{
			Spec: authnv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
		}, metav1.CreateOptions{})
		must("TokenRequest for "+sa, err)
		return tr.Status.Token
	}
	e.exporterTok, e.boundTok, e.plainTok = token("exporter"), token("scraper-bound"), token("scraper-plain")

	// RBAC reaches the authorizer's cache within moments: wait for it, so
	// that no test step meets (and caches) a decision from before.
	e.waitAllowed(t, "exporter", &authzv1.ResourceAttributes{Group: "authentication.k8s.io", Resource: "tokenreviews", Verb: "create"}, nil)
	e.waitAllowed(t, "exporter", &authzv1.ResourceAttributes{Group: "authorization.k8s.io", Resource: "subjectaccessreviews", Verb: "create"}, nil)
	e.waitAllowed(t, "scraper-bound", nil, &authzv1.NonResourceAttributes{Path: "/metrics", Verb: "get"})
	return e
}

func (e *promSecureEnv) waitAllowed(t *testing.T, sa string, ra *authzv1.ResourceAttributes, na *authzv1.NonResourceAttributes) {
	t.Helper()
	framework.Eventually(t, 20*time.Second, func() (bool, string) {
		sar, err := e.admin.AuthorizationV1().SubjectAccessReviews().Create(t.Context(), &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + e.ns + ":" + sa,
			Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + e.ns, "system:authenticated"},
			ResourceAttributes: ra, NonResourceAttributes: na,
		}}, metav1.CreateOptions{})
		if err != nil {
			return false, err.Error()
		}
		return sar.Status.Allowed, fmt.Sprintf("%s not yet allowed %+v %+v: %s", sa, ra, na, sar.Status.Reason)
	})
}

// clientset returns a clientset that authenticates with token only, as the
// agent in its pod does with its ServiceAccount token.
func (e *promSecureEnv) clientset(t *testing.T, token string) kubernetes.Interface {
	t.Helper()
	cfg := rest.AnonymousClientConfig(e.adminCfg)
	cfg.BearerToken = token
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// promScrape GETs path with an optional bearer token over HTTPS.
func promScrape(t *testing.T, client *http.Client, addr, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPromSecureScrape: with TLS and authorization on, against the real
// kube-apiserver, only a ServiceAccount allowed to get /metrics reads it —
// both over plain HTTPS requests and for a real Prometheus.
func TestPromSecureScrape(t *testing.T) {
	env := newPromSecureEnv(t)
	exp := startPromExporter(t, prom.ServerOptions{
		TLS:  &prom.TLSOptions{},
		Auth: &prom.AuthOptions{Client: env.clientset(t, env.exporterTok)},
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed
	t.Cleanup(client.CloseIdleConnections)

	for _, tt := range []struct {
		name, path, token string
		code              int
		body              string
	}{
		{"bound ServiceAccount", "/metrics", env.boundTok, 200, "kubepulse_baseline_seconds{"},
		{"ServiceAccount without the role", "/metrics", env.plainTok, 403, `user "system:serviceaccount:` + env.ns + `:scraper-plain" may not get /metrics`},
		{"no token", "/metrics", "", 401, "Unauthorized"},
		{"garbage token", "/metrics", "not-a-token", 401, "Unauthorized"},
		{"a token whose signature is wrong", "/metrics", env.boundTok[:len(env.boundTok)-4] + "AAAA", 401, "Unauthorized"},
		{"liveness stays open to the kubelet", "/healthz", "", 200, "ok"},
		{"readiness stays open to the kubelet", "/readyz", "", 200, "ready"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := promScrape(t, client, exp.addr, tt.path, tt.token)
			if code != tt.code || !strings.Contains(body, tt.body) {
				t.Errorf("got %d %.200q, want %d containing %q", code, body, tt.code, tt.body)
			}
			if tt.token != "" && strings.Contains(body, tt.token) {
				t.Error("the token is echoed in the answer")
			}
		})
	}

	// A real Prometheus with the bound token scrapes; with the plain one it
	// is refused, and says why.
	dir := t.TempDir()
	tokenFile := func(name, tok string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	promURL := startPrometheus(t,
		promJob{name: "bound", target: exp.addr, https: true, tokenFile: tokenFile("bound", env.boundTok)},
		promJob{name: "plain", target: exp.addr, https: true, tokenFile: tokenFile("plain", env.plainTok)},
		promJob{name: "anonymous", target: exp.addr, https: true})
	promExpect(t, promURL, `up{job="bound"}`, 1, nil)
	promExpect(t, promURL, `kubepulse_anomaly_score{job="bound",verb="get",resource="pods"}`, 0.93, nil)
	promExpect(t, promURL, `up{job="plain"}`, 0, nil)
	promExpect(t, promURL, `up{job="anonymous"}`, 0, nil)
	for job, want := range map[string]string{"plain": "403", "anonymous": "401"} {
		framework.Eventually(t, 10*time.Second, func() (bool, string) {
			health, lastErr, err := promTargetError(promURL, job)
			return err == nil && health == "down" && strings.Contains(lastErr, want), fmt.Sprintf("%s: %s %q %v", job, health, lastErr, err)
		})
	}
	// The exporter counts what it refused; Prometheus reads it with the
	// bound token.
	promExpect(t, promURL, `kubepulse_http_auth_decisions_total{job="bound",decision="forbidden"} > bool 0`, 1, nil)
	promExpect(t, promURL, `kubepulse_http_auth_decisions_total{job="bound",decision="unauthenticated"} > bool 0`, 1, nil)
}

// TestPromSecureExporterNeedsRBAC: an exporter whose ServiceAccount may not
// create TokenReviews cannot let anyone in: the scrape gets 503, not a
// 401 that would blame the scraper.
func TestPromSecureExporterNeedsRBAC(t *testing.T) {
	env := newPromSecureEnv(t)
	exp := startPromExporter(t, prom.ServerOptions{
		TLS:  &prom.TLSOptions{},
		Auth: &prom.AuthOptions{Client: env.clientset(t, env.plainTok)},
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed
	t.Cleanup(client.CloseIdleConnections)
	code, body := promScrape(t, client, exp.addr, "/metrics", env.boundTok)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "could not check the credentials") {
		t.Errorf("got %d %q, want 503", code, body)
	}
}

// TestPromTLSCertificateReload: the exporter serves the certificate from its
// files, and a new one once the files are replaced, without a restart.
func TestPromTLSCertificateReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	derA := promWriteCert(t, certFile, keyFile, "kubepulse-a")
	logs := &promLogBuffer{}
	exp := startPromExporter(t, prom.ServerOptions{
		TLS:    &prom.TLSOptions{CertFile: certFile, KeyFile: keyFile, ReloadInterval: 200 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	served := func() (*x509.Certificate, error) {
		c, err := tls.Dial("tcp", exp.addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // we inspect the certificate
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0], nil
	}
	c, err := served()
	if err != nil || !bytes.Equal(c.Raw, derA) {
		t.Fatalf("serving %v (%v), want certificate A", c.Subject, err)
	}
	// A client that trusts A verifies the served chain for 127.0.0.1.
	pool := x509.NewCertPool()
	pool.AddCert(c)
	if _, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}).Get("https://" + exp.addr + "/healthz"); err != nil {
		t.Fatalf("verified HTTPS with certificate A: %v", err)
	}

	// Renewal, as a Secret volume update does it: write new files
	// elsewhere, then rename over the old ones.
	tmpCert, tmpKey := filepath.Join(dir, ".tls.crt.new"), filepath.Join(dir, ".tls.key.new")
	derB := promWriteCert(t, tmpCert, tmpKey, "kubepulse-b")
	for _, r := range [][2]string{{tmpKey, keyFile}, {tmpCert, certFile}} {
		if err := os.Rename(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		c, err := served()
		if err != nil {
			return false, err.Error()
		}
		return bytes.Equal(c.Raw, derB), fmt.Sprintf("still serving %s", c.Subject.CommonName)
	})

	if !strings.Contains(logs.String(), "serving certificate reloaded") {
		t.Errorf("reload not logged:\n%s", logs)
	}

	// A broken file (a half-finished copy) is noticed, and B stays in service.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\ntruncated"), 0o600); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(logs.String(), "serving certificate not reloaded"), "broken file not noticed:\n" + logs.String()
	})
	if c, err := served(); err != nil || !bytes.Equal(c.Raw, derB) {
		t.Fatalf("after a broken certificate file: %v, %v; want B still served", c, err)
	}
}

// promLogBuffer collects an exporter's log lines.
type promLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *promLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *promLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// promWriteCert writes a self-signed certificate for 127.0.0.1 and its key,
// and returns the certificate's DER.
func promWriteCert(t *testing.T, certFile, keyFile, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return der
}
