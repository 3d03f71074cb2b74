package agent

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/agent/config"
	"github.com/kubepulse/kubepulse/agent/demo"
	"github.com/kubepulse/kubepulse/agent/status"
)

// runAgent runs the agent against the simulated API server on a free port
// and returns its base URL and a stop function that waits for Run.
func runAgent(t *testing.T, sim *demo.SimServer, checkpoint string) (string, func() error) {
	t.Helper()
	cfg := DemoConfig()
	cfg.Checkpoint.Path = checkpoint
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, RestConfig: sim.RestConfig(), Listener: l, KnownNodes: 1, Demo: true})
	}()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(15 * time.Second):
			t.Fatal("Run did not return within 15 s of its context ending")
			return nil
		}
	}
	t.Cleanup(func() { cancel() })
	return "http://" + l.Addr().String(), stop
}

func getStatus(t *testing.T, base string) status.Snapshot {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/status?history=false")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s status.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func samplesOf(s status.Snapshot, key string) int64 {
	for _, k := range s.Keys {
		if k.Key == key {
			return k.Samples
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRunServesLearnsAndRestores runs the whole agent in-process against the
// simulated API server: it probes, learns keys, serves /metrics, /readyz and
// the status API, stops gracefully writing a checkpoint, and a restarted
// agent continues from it.
func TestRunServesLearnsAndRestores(t *testing.T) {
	sim := demo.NewSimServer(demo.SimOptions{Seed: 5, LeaseRenewal: 200 * time.Millisecond})
	defer sim.Close()
	checkpoint := t.TempDir() + "/checkpoint"
	base, stop := runAgent(t, sim, checkpoint)

	const key = "node_get_cached/server"
	waitFor(t, "5 samples of "+key, func() bool { return samplesOf(getStatus(t, base), key) >= 5 })
	s := getStatus(t, base)
	if !s.Ready || s.Node != "demo-node" || !s.Demo || s.Budget.Nodes != 1 || s.Watch.Events == 0 {
		t.Errorf("snapshot: ready=%v node=%q demo=%v nodes=%d watch events=%d", s.Ready, s.Node, s.Demo, s.Budget.Nodes, s.Watch.Events)
	}
	for _, path := range []string{"/readyz", "/healthz", "/"} {
		resp, err := http.Get(base + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", path, resp.Status, err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`kubepulse_probes_total{probe="node_get_cached",result="success"}`,
		`kubepulse_baseline_samples{phase="server",probe="node_get_cached",resource="nodes",scope="resource",verb="get"}`,
		`kubepulse_request_duration_seconds_bucket{code="200",resource="nodes",scope="resource",verb="get"`,
		`kubepulse_watch_delivery_delay_seconds_count`,
		`kubepulse_alerts{alertname="KubeAPILatencyDrift",state="firing"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	before := samplesOf(s, key)
	if _, err := os.Stat(checkpoint); err != nil {
		t.Fatalf("no checkpoint after a graceful stop: %v", err)
	}
	if n := readNodeCount(checkpoint); n != 1 {
		t.Errorf("node count saved = %d, want 1", n)
	}

	base, stop = runAgent(t, sim, checkpoint)
	s = getStatus(t, base)
	if got := samplesOf(s, key); got < before {
		t.Errorf("after restart %s has %d samples, want ≥ %d (restored)", key, got, before)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after restart: %v", err)
	}
}

// TestReloadKeepsBaselines: a new configuration file changes the probe
// budget and the detector while running, without losing a learned sample;
// a broken file is rejected and the running configuration stays.
func TestReloadKeepsBaselines(t *testing.T) {
	sim := demo.NewSimServer(demo.SimOptions{Seed: 6})
	defer sim.Close()
	dir := t.TempDir()
	file := dir + "/config.yaml"
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file+".tmp", []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil { // atomic, as a ConfigMap update is
			t.Fatal(err)
		}
	}
	write("probe:\n  clusterQPS: 20\n")
	base := DemoConfig()
	base.Checkpoint.Path = ""
	sources := &config.Sources{File: file, Base: &base, Getenv: func(string) string { return "" }}
	cfg, err := sources.Load()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Sources: sources, RestConfig: sim.RestConfig(), Listener: l,
			KnownNodes: 1, ReloadInterval: 100 * time.Millisecond})
	}()
	defer func() { cancel(); <-done }()
	url := "http://" + l.Addr().String()

	const key = "readyz/server"
	waitFor(t, "samples", func() bool { return samplesOf(getStatus(t, url), key) >= 3 })
	write("probe:\n  clusterQPS: 7\nbaseline:\n  detector:\n    minSamples: 2000\n")
	waitFor(t, "the new budget", func() bool { return getStatus(t, url).Budget.ClusterQPS == 7 })
	before := samplesOf(getStatus(t, url), key)
	waitFor(t, "more samples in the new tracker", func() bool {
		s := getStatus(t, url)
		for _, k := range s.Keys {
			if k.Key == key {
				return k.Samples > before && k.MinSamples == 2000 && k.State == "learning"
			}
		}
		return false
	})
	write("probe:\n  clusterQPS: -1\n")
	waitFor(t, "the rejection", func() bool {
		return strings.Contains(scrape(t, url), `kubepulse_config_reloads_total{result="failure"} 1`)
	})
	if s := getStatus(t, url); s.Budget.ClusterQPS != 7 {
		t.Errorf("a rejected file changed the budget to %v", s.Budget.ClusterQPS)
	}
}
