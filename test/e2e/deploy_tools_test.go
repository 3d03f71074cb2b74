//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// Tools and helpers of the deploy tests (deploy_test.go): Helm, the chart,
// kubectl against the shared cluster, and prometheus-operator's CRDs.

// chartDir is the Helm chart.
func chartDir() string {
	return filepath.Join(framework.RepoRoot(), "manifests", "charts", "kubepulse")
}

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helm returns the Helm binary that test/tools/install-helm.sh built (a
// no-op once cached; `make deps-e2e` builds it before go test runs).
func helm(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() {
		cmd := exec.Command("bash", filepath.Join(framework.RepoRoot(), "test", "tools", "install-helm.sh"))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		helmPath, helmErr = strings.TrimSpace(string(out)), err
	})
	if helmErr != nil {
		t.Fatalf("install-helm.sh: %v", helmErr)
	}
	return helmPath
}

// run runs a command and returns its stdout; stderr is returned in the error.
func run(stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// render is `helm template RELEASE chart --namespace NS --set ...`.
func render(t testing.TB, release, namespace string, set ...string) []byte {
	t.Helper()
	args := []string{"template", release, chartDir(), "--namespace", namespace}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := run(nil, helm(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kube runs kubectl against a cluster, as cluster admin.
type kube struct {
	t       testing.TB
	cluster *framework.Cluster
}

func (k kube) run(stdin []byte, args ...string) ([]byte, error) {
	return run(stdin, k.cluster.Kubectl(), append([]string{"--kubeconfig", k.cluster.Env["KUBECONFIG"]}, args...)...)
}

// combined runs kubectl and returns stdout and stderr together: server-side
// dry-run and apply print Pod Security warnings on stderr.
func (k kube) combined(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(k.cluster.Kubectl(), append([]string{"--kubeconfig", k.cluster.Env["KUBECONFIG"]}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k kube) must(stdin []byte, args ...string) []byte {
	k.t.Helper()
	out, err := k.run(stdin, args...)
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

// namespace creates a namespace for one test, with labels, and deletes it
// (without waiting) when the test ends.
func (k kube) namespace(prefix string, labels ...string) string {
	k.t.Helper()
	name := fmt.Sprintf("%s-%06x", prefix, rand.Uint32()&0xffffff)
	manifest := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels: {%s}\n", name, strings.Join(labels, ", "))
	k.must([]byte(manifest), "apply", "-f", "-")
	k.t.Cleanup(func() { _, _ = k.run(nil, "delete", "namespace", name, "--wait=false") })
	return name
}

// apply applies rendered manifests for real and deletes them when the test
// ends (cluster-scoped objects included). It returns kubectl's output,
// warnings included.
func (k kube) apply(manifests []byte) string {
	k.t.Helper()
	out, err := k.combined(manifests, "apply", "--validate=strict", "-f", "-")
	if err != nil {
		k.t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	k.t.Cleanup(func() { _, _ = k.run(manifests, "delete", "--ignore-not-found", "--wait=false", "-f", "-") })
	return out
}

var (
	crdOnce sync.Once
	crdDir  string
	crdErr  error
)

// promOperatorCRDs is the directory of prometheus-operator's CRDs, from its
// Go module (downloaded into the module cache; not a dependency of ours).
func promOperatorCRDs(t testing.TB) string {
	t.Helper()
	crdOnce.Do(func() {
		out, err := run(nil, "go", "mod", "download", "-json", "github.com/prometheus-operator/prometheus-operator@v0.85.0")
		if err != nil {
			crdErr = err
			return
		}
		var mod struct{ Dir, Error string }
		if err := json.Unmarshal(out, &mod); err != nil || mod.Error != "" {
			crdErr = fmt.Errorf("go mod download prometheus-operator: %v %s", err, mod.Error)
			return
		}
		crdDir = filepath.Join(mod.Dir, "example", "prometheus-operator-crd")
	})
	if crdErr != nil {
		t.Fatal(crdErr)
	}
	return crdDir
}

var (
	installCRDs   sync.Once
	installCRDErr error
)

// installPromOperatorCRDs installs the ServiceMonitor, PodMonitor and
// PrometheusRule CRDs into the shared cluster and waits until they serve.
func (k kube) installPromOperatorCRDs() {
	k.t.Helper()
	dir := promOperatorCRDs(k.t)
	installCRDs.Do(func() {
		for _, kind := range []string{"servicemonitors", "podmonitors", "prometheusrules"} {
			f := filepath.Join(dir, "monitoring.coreos.com_"+kind+".yaml")
			// Server-side: these CRDs exceed the client-side annotation limit.
			if _, installCRDErr = k.run(nil, "apply", "--server-side", "--force-conflicts", "-f", f); installCRDErr != nil {
				return
			}
			if _, installCRDErr = k.run(nil, "wait", "--for=condition=Established", "--timeout=60s", "crd/"+kind+".monitoring.coreos.com"); installCRDErr != nil {
				return
			}
		}
	})
	if installCRDErr != nil {
		k.t.Fatal(installCRDErr)
	}
}
