//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubepulse/kubepulse/agent/status"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// The agent end to end: `kubepulse run` as a process, authenticated as its
// ServiceAccount under the RBAC of manifests/kubepulse.yaml, against the
// real kube-apiserver + etcd (kwok renews its node's Lease) through
// toxiproxy, alerting a real Alertmanager, scraped by a real Prometheus with
// kubepulse's rules. One agent lives through the phases in order, as one
// would in a cluster: it learns, sees latency injected and removed, is
// restarted, loses the API server and gets it back.
func TestAgentEndToEnd(t *testing.T) {
	t.Parallel()
	c := framework.SharedCluster(t)
	k := kube{t, c}
	bin := framework.KubepulseBinary(t)
	admin := c.AdminConfig(t)
	cs := kubernetes.NewForConfigOrDie(admin)
	node := firstNode(t, k)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	ns := k.namespace("kp-agent")
	k.apply(shippedRBAC(t, ns, ns))
	token := serviceAccountToken(t, cs, ns, "kubepulse")
	proxy := framework.StartFaultProxy(t, strings.TrimPrefix(c.Env["KUBE_E2E_APISERVER"], "https://"))
	dir := t.TempDir()
	kubeconfig := writeKubeconfig(t, dir, "https://"+proxy.Addr(), c.Env["KUBE_E2E_CA_FILE"], token)
	hook := newAlertHook(t)
	am := framework.Start(t, "alertmanager", "--webhook", hook.URL)
	addr := framework.FreeAddr(t)
	cfg := agentConfig{Listen: addr, Checkpoint: filepath.Join(dir, "checkpoint"),
		Alertmanager: strings.Split(am["ALERTMANAGER_URLS"], ",")[0], StartupSpread: time.Second}
	start := func(name string, cfg agentConfig) *framework.Process {
		return framework.StartProcess(t, bin, []string{"run", "--config", cfg.write(t, dir, name+".yaml"), "--kubeconfig", kubeconfig},
			framework.ProcessOptions{Name: name, Env: []string{"NODE_NAME=" + node, "POD_NAMESPACE=" + ns, "POD_NAME=kubepulse-e2e"}})
	}
	agent := start("agent", cfg)
	api := agentClient{"http://" + addr}
	framework.WaitListening(t, addr, 30*time.Second)
	t.Cleanup(func() {
		if t.Failed() { // what the agent knew, charts' history included, for the post-mortem
			saveStatus(t, api, "status.json")
		}
	})

	prom := framework.Start(t, "prometheus", "--config", agentPromConfig(t, c, node, addr, startLibraryController(t, admin, ns)))
	promURL := prom["PROMETHEUS_URL"]
	stages := dashboardStages(t, node)

	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"probes and the Lease watch work under the shipped RBAC", func(t *testing.T) {
			agentWorks(t, api, agent, node)
		}},
		{"latency injected by the proxy fires KubeAPILatencyDrift, removed it resolves", func(t *testing.T) {
			waitLearned(t, api, 120*time.Second)
			agentDrift(t, api, proxy, hook, node, func(t *testing.T) {
				requireData(t, promURL, append(stages[stageTraffic], stages[stageFiring]...), 90*time.Second)
			})
		}},
		{"a restart keeps the baselines", func(t *testing.T) {
			agent = agentRestart(t, api, agent, cfg, start, len(nodes.Items))
		}},
		{"an unreachable API server fires KubeAPIUnreachable, the agent backs off and recovers", func(t *testing.T) {
			agentOutage(t, api, agent, proxy, hook, node, func(t *testing.T) {
				requireData(t, promURL, stages[stageOutage], 90*time.Second)
			})
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			return // the later steps build on this one
		}
	}

	agent.Signal(syscall.SIGTERM)
	if code := agent.Wait(15 * time.Second); code != 0 {
		t.Errorf("agent exited %d after SIGTERM, want 0", code)
	}
	agentLogsClean(t, agent)
}

// agentWorks: probes succeed and keep coming, the Lease watch delivers
// kwok's renewals, and nothing was forbidden.
func agentWorks(t *testing.T, api agentClient, agent *framework.Process, node string) {
	success := map[string]string{"result": "success"}
	var first float64
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		v, err := api.metric("kubepulse_probes_total", success)
		first = v
		return err == nil && v >= 3, fmt.Sprintf("%v successful probes (%v)", v, err)
	})
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		v, err := api.metric("kubepulse_probes_total", success)
		return err == nil && v >= first+10, fmt.Sprintf("successful probes %v, want ≥ %v (%v)", v, first+10, err)
	})
	// kwok renews the Lease every 10 s (40 s lease duration).
	framework.Eventually(t, 45*time.Second, func() (bool, string) {
		v, err := api.metric("kubepulse_watch_delivery_delay_seconds", nil)
		return err == nil && v >= 2, fmt.Sprintf("%v Lease renewals delivered (%v)", v, err)
	})
	m, err := api.metrics()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Sum("kubepulse_probes_total", map[string]string{"result": "failure"}); v != 0 {
		t.Errorf("%v probes failed:\n%s", v, m.Series("kubepulse_probes_total"))
	}
	for _, code := range []string{"401", "403"} {
		if v, ok := m.Sum("kubepulse_requests_total", map[string]string{"code": code}); ok {
			t.Errorf("%v requests answered %s:\n%s", v, code, m.Series("kubepulse_requests_total"))
		}
	}
	if n, _ := m.Sum("kubepulse_probe_cluster_nodes", nil); n < 1 {
		t.Errorf("kubepulse_probe_cluster_nodes = %v", n)
	}
	if logs := strings.ToLower(agent.Stderr()); strings.Contains(logs, "forbidden") || strings.Contains(logs, "unauthorized") {
		t.Errorf("RBAC errors in the agent's log:\n%s", agent.Stderr())
	}
	s, err := api.status()
	if err != nil {
		t.Fatal(err)
	}
	if s.Node != node || !s.Ready || s.Watch.Events < 2 {
		t.Errorf("status: node %q ready %v watch %+v", s.Node, s.Ready, s.Watch)
	}
}

// probeKeys are the keys every probe cycle feeds: after about 30 cycles
// they leave learning.
var probeKeys = []string{"node_get_cached/total", "node_get_cached/server", "pods_list_node/total",
	"pods_list_node/server", "readyz/total", "readyz/server"}

// waitLearned waits until every probe key has a baseline.
func waitLearned(t *testing.T, api agentClient, timeout time.Duration) {
	t.Helper()
	framework.Eventually(t, timeout, func() (bool, string) {
		s, err := api.status()
		if err != nil {
			return false, err.Error()
		}
		var not []string
		for _, key := range probeKeys {
			if k, ok := findKey(s, key); !ok || k.State != "normal" {
				not = append(not, fmt.Sprintf("%s: %s %d/%d", key, k.State, k.Samples, k.MinSamples))
			}
		}
		return len(not) == 0, "keys not learned yet: " + strings.Join(not, ", ")
	})
}

// alertLabels are the labels the agent's alerts may carry.
var alertLabels = map[string]bool{"alertname": true, "severity": true, "node": true, "verb": true,
	"resource": true, "phase": true, "probe": true}

// descriptionNumbers is what an alert's description must hold: the current
// value against the baseline, the ratio, z and the sample count.
var descriptionNumbers = regexp.MustCompile(`^ewma [0-9.]+(µs|ms|s) vs baseline [0-9.]+(µs|ms|s) \([0-9.]+× baseline, z=[0-9.]+, [0-9]+ samples\)`)

// agentDrift adds latency to everything the API server sends the agent: the
// server phase and the whole call of the probes drift. Both alerts reach
// Alertmanager with the agent's labels and the numbers, show on the status
// page (in Chromium) and resolve once the latency goes.
func agentDrift(t *testing.T, api agentClient, proxy *framework.FaultProxy, hook *alertHook, node string, whileFiring func(*testing.T)) {
	latency := driftLatency(t, api)
	proxy.AddLatency("drift", latency, 0)
	injected := time.Now()
	t.Logf("injected %v of latency downstream", latency)
	drift := func(phase string) func(hookAlert) bool {
		return func(a hookAlert) bool {
			return a.Status == "firing" && a.Labels["alertname"] == "KubeAPILatencyDrift" && a.Labels["phase"] == phase &&
				a.Labels["node"] == node && a.StartsAt.After(injected.Add(-time.Second))
		}
	}
	var server, whole hookAlert
	framework.Eventually(t, 90*time.Second, func() (bool, string) {
		var ok1, ok2 bool
		server, ok1 = hook.find(drift("server"))
		whole, ok2 = hook.find(drift(""))
		return ok1 && ok2, fmt.Sprintf("webhook got a server-phase drift: %v, a whole-call drift: %v; %s\nwebhook: %s",
			ok1, ok2, keyStates(api), hook.summary())
	})
	t.Logf("fired %v after the injection: %s — %s", time.Since(injected).Round(time.Second),
		server.Annotations["summary"], server.Annotations["description"])
	for _, a := range []hookAlert{server, whole} {
		for _, l := range []string{"alertname", "severity", "node", "verb", "resource", "probe"} {
			if a.Labels[l] == "" {
				t.Errorf("alert %v lacks label %s", a.Labels, l)
			}
		}
		for l := range a.Labels {
			if !alertLabels[l] {
				t.Errorf("alert %v has label %s: an unbounded or unexpected label", a.Labels, l)
			}
		}
		if d := a.Annotations["description"]; !descriptionNumbers.MatchString(d) {
			t.Errorf("description %q does not give the numbers", d)
		}
		if a.Annotations["summary"] == "" || !strings.HasPrefix(a.Annotations["runbook_url"], "https://") {
			t.Errorf("annotations %v", a.Annotations)
		}
	}

	// The agent's own view agrees, and so does its page in a real browser.
	s, err := api.status()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := findAlert(s, "KubeAPILatencyDrift", "firing", "server"); !ok {
		t.Errorf("status API lists no firing server-phase drift: %+v", s.Alerts)
	}
	b := framework.Browser(t)
	p := CheckStatusPage(t, b, api.base+"/", StatusPageWant{Alert: "KubeAPILatencyDrift", MinCharts: len(probeKeys)})
	if n := p.Count(`#alerts article[data-alert="KubeAPILatencyDrift"][data-state="firing"][data-phase="server"]`); n == 0 {
		t.Errorf("no firing server-phase card on the page: %q", p.Text("#alerts"))
	}
	p.Screenshot(framework.ArtifactPath(t, "firing.png"))
	whileFiring(t)

	proxy.Remove("drift")
	removed := time.Now()
	for _, a := range []hookAlert{server, whole} {
		hook.wait(t, 90*time.Second, fmt.Sprintf("resolved %v", a.Labels), func(r hookAlert) bool {
			return r.Status == "resolved" && sameLabels(r.Labels, a.Labels)
		})
	}
	t.Logf("resolved %v after the latency was removed", time.Since(removed).Round(time.Second))
}

// driftLatency is the latency to inject: 40 ms — tens of times what a
// loopback API server takes — or, on a machine so busy that the probes'
// learned p99 is itself tens of milliseconds, ten times that p99 (at most
// 900 ms, below the 1 s SLO), so that the drift stands out of the noise the
// agent learned as normal. (With a warm-up as noisy as 1–105 ms, a level of
// 3× its p99 was not flagged by the detector of commit 87d5812.)
func driftLatency(t *testing.T, api agentClient) time.Duration {
	s, err := api.status()
	if err != nil {
		t.Fatal(err)
	}
	var p99 float64
	for _, key := range probeKeys {
		if k, ok := findKey(s, key); ok && k.Phase == "server" {
			p99 = max(p99, k.P99)
		}
	}
	d := (10 * time.Duration(p99*float64(time.Second))).Round(10 * time.Millisecond)
	t.Logf("learned p99 of the probes' server phase: up to %.1f ms", p99*1e3)
	return min(max(d, 40*time.Millisecond), 900*time.Millisecond)
}

// agentRestart stops the agent with SIGTERM and starts it again: it exits 0
// within its shutdown timeout having written the checkpoint and the node
// count; the new process shows the keys it had learned as learned, and its
// probe budget knows the node count at once. The new configuration spreads a
// cold start over 5 minutes: an agent that did not know the node count would
// send nothing but node-counting LISTs for that long.
func agentRestart(t *testing.T, api agentClient, agent *framework.Process, cfg agentConfig,
	start func(string, agentConfig) *framework.Process, nodes int) *framework.Process {
	before, err := api.status()
	if err != nil {
		t.Fatal(err)
	}
	learned := map[string]status.Key{}
	for _, k := range before.Keys {
		if k.State != "learning" {
			learned[k.Key] = k
		}
	}
	if len(learned) < len(probeKeys) {
		t.Fatalf("only %d learned keys before the restart", len(learned))
	}

	stopped := time.Now()
	agent.Signal(syscall.SIGTERM)
	if code := agent.Wait(12 * time.Second); code != 0 {
		t.Fatalf("agent exited %d after SIGTERM, want 0", code)
	}
	t.Logf("stopped in %v", time.Since(stopped).Round(10*time.Millisecond))
	if d := time.Since(stopped); d > 10*time.Second {
		t.Errorf("stopping took %v, more than shutdownTimeout 10s", d)
	}
	for _, f := range []string{cfg.Checkpoint, cfg.Checkpoint + ".nodes.json"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("after SIGTERM: %v", err)
		}
		if st.ModTime().Before(stopped.Add(-time.Second)) {
			t.Errorf("%s last written %v, before the SIGTERM at %v", f, st.ModTime(), stopped)
		}
	}
	var saved struct{ Nodes int }
	if b, err := os.ReadFile(cfg.Checkpoint + ".nodes.json"); err != nil || json.Unmarshal(b, &saved) != nil || saved.Nodes != nodes {
		t.Errorf("node count file: %s, %v; want %d nodes", b, err, nodes)
	}
	agentLogsClean(t, agent)

	cfg.StartupSpread = 5 * time.Minute
	agent = start("agent-restarted", cfg)
	restarted := time.Now()
	framework.Eventually(t, 20*time.Second, func() (bool, string) {
		m, err := api.metrics()
		if err != nil {
			return false, err.Error()
		}
		v, _ := m.Sum("kubepulse_probes_total", map[string]string{"probe": "node_get_cached", "result": "success"})
		return v >= 1, m.Series("kubepulse_probes_total")
	})
	t.Logf("first regular probe %v after the restart", time.Since(restarted).Round(10*time.Millisecond))
	after, err := api.status()
	if err != nil {
		t.Fatal(err)
	}
	if after.Budget.Nodes != nodes {
		t.Errorf("status budget: %d nodes right after the restart, want %d", after.Budget.Nodes, nodes)
	}
	if v, _ := api.metric("kubepulse_probe_cluster_nodes", nil); int(v) != nodes {
		t.Errorf("kubepulse_probe_cluster_nodes = %v right after the restart, want %d", v, nodes)
	}
	for key, was := range learned {
		k, ok := findKey(after, key)
		switch {
		case !ok:
			t.Errorf("%s (%s, %d samples) is gone after the restart", key, was.State, was.Samples)
		case k.State == "learning" || k.Samples < was.Samples:
			t.Errorf("%s: %s with %d samples after the restart, was %s with %d", key, k.State, k.Samples, was.State, was.Samples)
		}
	}
	return agent
}

// keyStates describes the probe keys for failure messages.
func keyStates(api agentClient) string {
	s, err := api.status()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "budget %+v", s.Budget)
	for _, key := range probeKeys {
		k, _ := findKey(s, key)
		fmt.Fprintf(&b, "\n  %s: %s current %.2gs mean %.2gs z %.2g samples %d last %v", key, k.State, k.Current, k.Mean, k.Z,
			k.Samples, k.LastSample.Format(time.TimeOnly))
	}
	return b.String()
}

// saveStatus keeps the agent's /api/v1/status in the artifacts directory.
func saveStatus(t *testing.T, api agentClient, name string) {
	var raw json.RawMessage
	if err := framework.GetJSON(api.base+"/api/v1/status", &raw); err != nil {
		t.Logf("status not saved: %v", err)
		return
	}
	path := framework.ArtifactPath(t, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
		if err := os.WriteFile(path, raw, 0o644); err == nil {
			t.Logf("the agent's status at the end: %s", path)
		}
	}
}

// agentLogsClean: no data race, no panic.
func agentLogsClean(t *testing.T, p *framework.Process) {
	t.Helper()
	for _, bad := range []string{"DATA RACE", "panic:", "goroutine "} {
		if strings.Contains(p.Stderr(), bad) {
			t.Errorf("%q in the agent's output", bad)
		}
	}
}
