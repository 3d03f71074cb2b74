// Package framework starts the real components kubepulse's end-to-end tests run
// against — kube-apiserver + etcd (optionally with controllers and kwok fake
// nodes), Prometheus, Alertmanager, an OTLP receiver (Jaeger v2) and Chromium —
// using the scripts in test/kube and test/observability.
//
// Binaries are built by `make deps-e2e` before `go test` runs (a cold build takes
// many minutes and must not count against go test's timeout); the scripts called
// here only find them in the cache. Every component is started with --owner-pid,
// so a test binary killed by -timeout leaves nothing running.
package framework

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// RepoRoot is the repository's root directory, found from this file's location.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("framework: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// KubeRecipeDir holds build.sh, start.sh and stop.sh for the control plane.
// KUBE_E2E_RECIPE_DIR overrides it.
func KubeRecipeDir() string {
	if d := os.Getenv("KUBE_E2E_RECIPE_DIR"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "test", "kube")
}

// ObsRecipeDir holds install.sh, start-*.sh and stop.sh for Prometheus,
// Alertmanager, the OTLP receiver and Chromium. OBS_E2E_RECIPE_DIR overrides it.
func ObsRecipeDir() string {
	if d := os.Getenv("OBS_E2E_RECIPE_DIR"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "test", "observability")
}

// script returns a command running a recipe script; its progress goes to stderr.
func script(dir, name string, args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{filepath.Join(dir, name)}, args...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// ParseEnv reads "export KEY=value" lines as the recipe scripts print and write
// them (values are never quoted).
func ParseEnv(out []byte) map[string]string {
	env := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "="); ok {
			env[k] = v
		}
	}
	return env
}

func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	return ParseEnv(b), nil
}
