package config

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, dir, body string) string {
	t.Helper()
	// Atomically, as a ConfigMap volume changes: a reader never sees a
	// half-written file.
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p+".tmp", []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"probe:\n  intervall: 5s\n", "probe.intervall: unknown field (known: clusterQPS, enabled, interval, maxBackoff, startupSpread, timeout)"},
		{"probe:\n  interval: 5\n", `probe.interval: want a duration string such as "1h", got 5`},
		{"probe:\n  interval: soon\n", `probe.interval: want a duration such as "1h" or "30s", got "soon"`},
		{"probe:\n  clusterQPS: lots\n", "probe.clusterQPS: want a number, got string"},
		{"alertmanager:\n  urls: http://am:9093\n", "alertmanager.urls: want a list, got string"},
		{"baseline:\n  detector:\n    enterZ: [1]\n", "baseline.detector.enterZ"},
		{"baseline:\n  ewma:\n    halflife: 1h\n", "baseline.ewma.halflife: unknown field"},
		{"- a\n- b\n", "want a mapping of settings at the top level, got a list"},
		{"probe: [\n", "yaml"},
	} {
		_, err := Decode([]byte(tc.doc), Default())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Decode(%q) = %v\nwant error containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestDecodeKeepsUnsetDefaults(t *testing.T) {
	c, err := Decode([]byte("probe:\n  clusterQPS: 50\nbaseline:\n  detector:\n    enterZ: 5\n"), Default())
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	if c.Probe.ClusterQPS != 50 || c.Probe.Interval != d.Probe.Interval || c.Baseline.Detector.EnterZ != 5 ||
		c.Baseline.Detector.ExitZ != d.Baseline.Detector.ExitZ || c.ListenAddress != d.ListenAddress {
		t.Errorf("decoded %+v", c)
	}
	if c, err := Decode([]byte("  \n"), d); err != nil || c.Probe.ClusterQPS != 20 {
		t.Errorf("empty file: %v %+v", err, c.Probe)
	}
}

func TestPrecedenceFlagsOverEnvOverFile(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "nodeName: from-file\npodNamespace: kubepulse\nprobe:\n  clusterQPS: 30\n  interval: 30s\nlog:\n  level: warn\n")
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	s := BindFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--cluster-qps", "40"}); err != nil {
		t.Fatal(err)
	}
	s.Getenv = env(map[string]string{"NODE_NAME": "from-env", "KUBEPULSE_CLUSTER_QPS": "35", "KUBEPULSE_LOG_LEVEL": "debug"})
	c, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeName != "from-env" || c.Probe.ClusterQPS != 40 || c.Probe.Interval != Duration(30*time.Second) || c.Log.Level != "debug" {
		t.Errorf("loaded node=%q qps=%v interval=%v level=%q; want env node, flag qps 40, file interval 30s, env level",
			c.NodeName, c.Probe.ClusterQPS, c.Probe.Interval, c.Log.Level)
	}
}

func TestLoadErrorsNameTheSource(t *testing.T) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	BindFlags(fs)
	if err := fs.Parse([]string{"--probe-interval", "fast"}); err == nil || !strings.Contains(err.Error(), `want a duration such as 10s, got "fast"`) {
		t.Errorf("bad flag: %v", err)
	}

	s := &Sources{Getenv: env(map[string]string{"NODE_NAME": "n", "POD_NAMESPACE": "ns", "KUBEPULSE_CLUSTER_QPS": "x"})}
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "env KUBEPULSE_CLUSTER_QPS: want a number") {
		t.Errorf("bad env: %v", err)
	}

	s = &Sources{Getenv: env(map[string]string{"NODE_NAME": "n", "POD_NAMESPACE": "ns", "KUBEPULSE_PROBE_INTERVAL": "100ms",
		"KUBEPULSE_ALERTMANAGER_URLS": "http://am-0:9093, htp:/bad"})}
	_, err := s.Load()
	for _, want := range []string{"probe.interval: want ≥ 1s, got 100ms", `alertmanager.urls[1]: want an http or https URL, got "htp:/bad"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation: %v\nwant %q", err, want)
		}
	}

	s = &Sources{File: filepath.Join(t.TempDir(), "missing.yaml"), Getenv: env(nil)}
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "config file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestValidateDefaultsNeedOnlyIdentity(t *testing.T) {
	c := Default()
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "nodeName") || !strings.Contains(err.Error(), "podNamespace") {
		t.Fatalf("defaults without identity: %v", err)
	}
	c.NodeName, c.PodNamespace = "n", "ns"
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults with identity: %v", err)
	}
}

// TestReloader: a valid change is applied, a bad one is rejected and the
// running configuration stays; flags still win after a reload.
func TestReloader(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "nodeName: node-a\npodNamespace: ns\nprobe:\n  clusterQPS: 10\n")
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	s := BindFlags(fs)
	if err := fs.Parse([]string{"--config", file, "--log-level", "error"}); err != nil {
		t.Fatal(err)
	}
	s.Getenv = env(nil)
	if _, err := s.Load(); err != nil {
		t.Fatal(err)
	}
	clk := testingclock.NewFakeClock(time.Unix(0, 0))
	var mu sync.Mutex
	var applied []Config
	var rejected []error
	r := &Reloader{Sources: s, Interval: time.Second, Clock: clk,
		Apply:    func(c Config) { mu.Lock(); applied = append(applied, c); mu.Unlock() },
		Rejected: func(err error) { mu.Lock(); rejected = append(rejected, err); mu.Unlock() },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	tick := func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !clk.HasWaiters() {
			if time.Now().After(deadline) {
				t.Fatal("reloader is not waiting")
			}
			time.Sleep(time.Millisecond)
		}
		clk.Step(time.Second)
	}
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(applied), len(rejected)
	}
	waitCounts := func(a, rj int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			ga, gr := counts()
			if ga == a && gr == rj {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("applied %d rejected %d, want %d %d", ga, gr, a, rj)
			}
			tick()
		}
	}

	// The reloader reads the file's first content before it waits on its
	// ticker: change the file only once it waits.
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	writeFile(t, dir, "nodeName: node-a\npodNamespace: ns\nprobe:\n  clusterQPS: 25\n")
	waitCounts(1, 0)
	writeFile(t, dir, "nodeName: node-a\npodNamespace: ns\nprobe:\n  clusterQPS: -1\n")
	waitCounts(1, 1)
	mu.Lock()
	got := applied[0]
	err := rejected[0]
	mu.Unlock()
	if got.Probe.ClusterQPS != 25 || got.Log.Level != "error" {
		t.Errorf("applied qps %v level %q, want 25 and the flag's error", got.Probe.ClusterQPS, got.Log.Level)
	}
	if !strings.Contains(err.Error(), "probe.clusterQPS: want > 0, got -1") {
		t.Errorf("rejection: %v", err)
	}
}
