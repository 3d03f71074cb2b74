package framework

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	binMu    sync.Mutex
	binPaths = map[bool]string{}
	binErrs  = map[bool]error{}
)

// KubepulseBinary builds ./cmd/kubepulse once per test binary and returns its
// path. When the tests run with -race, so is the binary built: a data race in
// the running agent then fails its test (the race detector exits 66).
// KUBEPULSE_E2E_BIN names a binary to use instead (a release build, or one
// built from another tree).
func KubepulseBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("KUBEPULSE_E2E_BIN"); bin != "" {
		return bin
	}
	return kubepulseBinary(t, raceEnabled)
}

// KubepulseReleaseBinary builds ./cmd/kubepulse as `make build` does (no race
// detector, -trimpath, stripped): the binary whose memory is measured.
// KUBEPULSE_E2E_RELEASE_BIN names one to use instead.
func KubepulseReleaseBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("KUBEPULSE_E2E_RELEASE_BIN"); bin != "" {
		return bin
	}
	return kubepulseBinary(t, false)
}

func kubepulseBinary(t testing.TB, race bool) string {
	binMu.Lock()
	defer binMu.Unlock()
	if binPaths[race] == "" && binErrs[race] == nil {
		binPaths[race], binErrs[race] = buildKubepulse(race)
	}
	if binErrs[race] != nil {
		t.Fatalf("build kubepulse: %v", binErrs[race])
	}
	return binPaths[race]
}

// binDirPrefix names the per-process directories the binaries are built in;
// those of processes that are gone are removed on the next build.
const binDirPrefix = "kubepulse-e2e-bin-"

func buildKubepulse(race bool) (string, error) {
	removeStaleBinDirs()
	dir := filepath.Join(os.TempDir(), binDirPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := "kubepulse"
	args := []string{"build", "-trimpath", "-o"}
	if race {
		name += "-race"
		args = []string{"build", "-race", "-o"}
	} else {
		args = append(args[:2], "-ldflags", "-s -w", "-o")
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", append(args, out, "./cmd/kubepulse")...)
	cmd.Dir = RepoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(cmd.Args[1:], " "), err, b)
	}
	return out, nil
}

func removeStaleBinDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), binDirPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); os.IsNotExist(err) {
			_ = os.RemoveAll(d)
		}
	}
}
