//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/kubepulse/kubepulse/agent/status"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// What `kubepulse run` needs around it in the end-to-end tests: the shipped
// RBAC in a namespace of its own, a ServiceAccount token from the
// TokenRequest API, a kubeconfig whose server is a fault-injecting proxy in
// front of the real API server, a configuration file, and an Alertmanager
// webhook receiver that keeps every notification.

// rbacKinds are the objects of manifests/kubepulse.yaml the agent's identity
// is made of (the DaemonSet, ConfigMaps and Service are left out: the agent
// runs as a process here).
var rbacKinds = []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}

// shippedRBAC returns the RBAC objects of manifests/kubepulse.yaml moved
// into namespace ns: the ServiceAccount and its namespace's Role and
// RoleBinding live in ns, and every role and binding name gets suffix so
// that the cluster-scoped ones (and those in kube-node-lease) do not collide
// with other tests. Rules and subjects are otherwise exactly as shipped.
func shippedRBAC(t *testing.T, ns, suffix string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(framework.RepoRoot(), "manifests", "kubepulse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n := 0
	for _, obj := range docs(t, b) {
		kind := kindOf(obj)
		if !slices.Contains(rbacKinds, kind) {
			continue
		}
		meta := obj["metadata"].(map[string]any)
		if meta["namespace"] == "kubepulse" {
			meta["namespace"] = ns
		}
		if kind != "ServiceAccount" {
			meta["name"] = fmt.Sprint(meta["name"]) + "-" + suffix
		}
		if ref, ok := obj["roleRef"].(map[string]any); ok {
			ref["name"] = fmt.Sprint(ref["name"]) + "-" + suffix
		}
		if subjects, ok := obj["subjects"].([]any); ok {
			for _, s := range subjects {
				if s := s.(map[string]any); s["namespace"] == "kubepulse" {
					s["namespace"] = ns
				}
			}
		}
		y, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString("---\n")
		out.Write(y)
		n++
	}
	if n < 6 {
		t.Fatalf("manifests/kubepulse.yaml has %d RBAC objects, want the ServiceAccount, roles and bindings", n)
	}
	return out.Bytes()
}

// serviceAccountToken asks the TokenRequest API for a token of the
// ServiceAccount, as the kubelet does for a pod's projected token.
func serviceAccountToken(t *testing.T, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

// writeKubeconfig writes a kubeconfig for a bearer token against server,
// trusting caFile, and returns its path.
func writeKubeconfig(t *testing.T, dir, server, caFile, token string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos["kubepulse"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["kubepulse"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "kubepulse"}
	cfg.CurrentContext = "kubepulse"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// agentConfig is what differs between the agent configurations the tests
// write; everything else is the shipped default.
type agentConfig struct {
	Listen        string
	Checkpoint    string
	Alertmanager  string
	StartupSpread time.Duration
}

// write writes the configuration file and returns its path. Probes run every
// second (the default is 10 s) so that baselines are learned in about 30 s,
// the backoff is capped at 15 s and the checkpoint written every 10 s.
func (c agentConfig) write(t *testing.T, dir, name string) string {
	t.Helper()
	doc := fmt.Sprintf(`listenAddress: %q
shutdownTimeout: 10s
log:
  level: info
  format: json
probe:
  interval: 1s
  startupSpread: %s
  maxBackoff: 15s
  timeout: 5s
checkpoint:
  path: %q
  interval: 10s
alertmanager:
  urls: [%q]
`, c.Listen, c.StartupSpread, c.Checkpoint, c.Alertmanager)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// agentClient reads a running agent's HTTP endpoints.
type agentClient struct{ base string }

func (a agentClient) metrics() (framework.Metrics, error) {
	return framework.Scrape(a.base + "/metrics")
}

func (a agentClient) status() (status.Snapshot, error) {
	var s status.Snapshot
	err := framework.GetJSON(a.base+"/api/v1/status", &s)
	return s, err
}

// readyz returns /readyz's status code and body.
func (a agentClient) readyz() (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(a.base + "/readyz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, strings.TrimSpace(b.String()), nil
}

// metric returns the sum of a family's series matching labels (0 if none).
func (a agentClient) metric(name string, labels map[string]string) (float64, error) {
	m, err := a.metrics()
	if err != nil {
		return 0, err
	}
	v, _ := m.Sum(name, labels)
	return v, nil
}

// hookAlert is one alert of an Alertmanager webhook notification.
type hookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// alertHook is an Alertmanager webhook receiver that keeps every alert of
// every notification, with its annotations.
type alertHook struct {
	*httptest.Server
	mu     sync.Mutex
	alerts []hookAlert
}

func newAlertHook(t *testing.T) *alertHook {
	h := &alertHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []hookAlert `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.alerts = append(h.alerts, msg.Alerts...)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// find returns the first alert received so far for which match is true.
func (h *alertHook) find(match func(hookAlert) bool) (hookAlert, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.alerts {
		if match(a) {
			return a, true
		}
	}
	return hookAlert{}, false
}

// summary lists the alerts received so far.
func (h *alertHook) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var seen []string
	for _, a := range h.alerts {
		seen = append(seen, fmt.Sprintf("%s %v", a.Status, a.Labels))
	}
	return fmt.Sprintf("%d alerts:\n  %s", len(h.alerts), strings.Join(seen, "\n  "))
}

// wait returns the first alert received so far for which match is true,
// waiting up to timeout for one.
func (h *alertHook) wait(t *testing.T, timeout time.Duration, what string, match func(hookAlert) bool) hookAlert {
	t.Helper()
	var found hookAlert
	framework.Eventually(t, timeout, func() (bool, string) {
		var ok bool
		found, ok = h.find(match)
		return ok, "no webhook alert " + what + " among " + h.summary()
	})
	return found
}

// sameLabels reports whether two label sets are equal.
func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
