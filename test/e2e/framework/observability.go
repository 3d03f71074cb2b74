package framework

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

var (
	toolsOnce sync.Once
	tools     map[string]string
	toolsErr  error
)

// Tools returns install.sh's paths: PROMETHEUS_BIN, PROMTOOL, ALERTMANAGER_BIN,
// AMTOOL, JAEGER_BIN, CHROMIUM. install.sh only finds what `make deps-e2e`
// built (0.6 s); a missing component is built here, slowly.
func Tools(t testing.TB) map[string]string {
	t.Helper()
	toolsOnce.Do(func() {
		out, err := script(ObsRecipeDir(), "install.sh").Output()
		if err != nil {
			toolsErr = fmt.Errorf("install.sh: %w", err)
			return
		}
		tools = ParseEnv(out)
	})
	if toolsErr != nil {
		t.Fatal(toolsErr)
	}
	return tools
}

// Start runs test/observability/start-NAME.sh (prometheus, alertmanager,
// otlp-receiver) in a run dir owned by this test and returns the variables it
// prints (PROMETHEUS_URL, ALERTMANAGER_URLS, OTLP_GRPC_ENDPOINT, ...). The
// component is stopped when the test ends; on failure its log tail is shown.
func Start(t testing.TB, name string, args ...string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	args = append(args, "--owner-pid", strconv.Itoa(os.Getpid()), dir)
	out, err := script(ObsRecipeDir(), "start-"+name+".sh", args...).Output()
	if err != nil {
		t.Fatalf("start-%s.sh: %v", name, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, f := range logs {
				b, _ := os.ReadFile(f)
				t.Logf("--- %s (last 2 KiB)\n%s", f, b[max(0, len(b)-2048):])
			}
		}
		_ = script(ObsRecipeDir(), "stop.sh", dir).Run()
	})
	env := ParseEnv(out)
	env["RUN_DIR"] = dir
	return env
}

// Stop stops the named components (e.g. "alertmanager") of a run dir returned by
// Start, leaving the others running; Start again with the same arguments to
// bring them back.
func Stop(t testing.TB, runDir string, names ...string) {
	t.Helper()
	if err := script(ObsRecipeDir(), "stop.sh", append([]string{runDir}, names...)...).Run(); err != nil {
		t.Fatalf("stop.sh %s %v: %v", runDir, names, err)
	}
}
