//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/agent/status"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// `kubepulse demo` as a user runs it: the binary built as `make build` and
// `go run` build it (no race detector: its 5–10× slower instrumented client
// would be what the demo measures), the default scenario
// (LIST pods' server time slows 4× at 1:00, recovers at 2:00). Within three
// minutes /metrics and /api/v1/status show KubeAPILatencyDrift firing for
// that key and phase, the status page shows it in a real Chromium (a
// screenshot is kept in test/e2e/artifacts), then it resolves; the demo
// prints its URLs and exits 0 at --duration.
func TestDemo(t *testing.T) {
	t.Parallel()
	bin := framework.KubepulseReleaseBinary(t)
	addr := framework.FreeAddr(t)
	started := time.Now()
	demo := framework.StartProcess(t, bin, []string{"demo", "--duration", "170s", "--listen-address", addr, "--seed", "42"},
		framework.ProcessOptions{Name: "demo"})
	b := framework.Browser(t) // started now: Chromium takes a few seconds

	base := "http://" + addr
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		out := demo.Stdout()
		for _, u := range []string{base + "/", base + "/metrics", base + "/api/v1/status"} {
			if !strings.Contains(out, u+"\n") {
				return false, "banner without " + u + ":\n" + out
			}
		}
		return true, ""
	})

	// The scenario's key and phase: the probe pods_list_node, server phase.
	const key, phase = "pods_list_node/server", "server"
	within3m := time.Until(started.Add(3 * time.Minute))
	var firing status.Alert
	framework.Eventually(t, within3m, func() (bool, string) {
		m, err := framework.Scrape(base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		n, _ := m.Sum("kubepulse_alerts", map[string]string{"alertname": "KubeAPILatencyDrift", "state": "firing"})
		if n < 1 {
			return false, m.Series("kubepulse_alerts")
		}
		s, err := demoStatus(base)
		if err != nil {
			return false, err.Error()
		}
		a, ok := findAlert(s, "KubeAPILatencyDrift", "firing", phase)
		if !ok {
			return false, fmt.Sprintf("metrics show %v firing, status alerts: %+v", n, s.Alerts)
		}
		if got := countAlerts(s, "KubeAPILatencyDrift", "firing"); float64(got) != n {
			return false, fmt.Sprintf("kubepulse_alerts says %v firing, the status API lists %d", n, got)
		}
		firing = a
		return true, ""
	})
	t.Logf("firing after %v: %s — %s", time.Since(started).Round(time.Second), firing.Summary, firing.Description)
	want := map[string]string{"alertname": "KubeAPILatencyDrift", "verb": "list", "resource": "pods", "phase": phase,
		"probe": "pods_list_node", "node": "demo-node"}
	for k, v := range want {
		if firing.Labels[k] != v {
			t.Errorf("firing alert label %s = %q, want %q (labels %v)", k, firing.Labels[k], v, firing.Labels)
		}
	}
	// The alert may fire while the fast EWMA is still on its way up.
	if !(firing.Ratio > 1.2 && firing.Z > 0 && firing.Current > firing.Baseline && firing.Samples >= 30) {
		t.Errorf("firing alert numbers: ratio %v z %v current %v baseline %v samples %d", firing.Ratio, firing.Z,
			firing.Current, firing.Baseline, firing.Samples)
	}
	// While it fires, its numbers follow the key: the 4× server time shows.
	framework.Eventually(t, time.Until(started.Add(115*time.Second)), func() (bool, string) {
		s, err := demoStatus(base)
		if err != nil {
			return false, err.Error()
		}
		a, ok := findAlert(s, "KubeAPILatencyDrift", "firing", phase)
		if !ok || a.Ratio < 2.5 || !a.Since.Equal(firing.Since) || a.Samples <= firing.Samples {
			return false, fmt.Sprintf("firing alert %+v (found %v)", a, ok)
		}
		t.Logf("refreshed numbers after %v: %s", time.Since(started).Round(time.Second), a.Description)
		return true, ""
	})
	if s, err := demoStatus(base); err != nil {
		t.Fatal(err)
	} else if k, ok := findKey(s, key); !ok || k.State != "firing" {
		t.Errorf("key %s: %+v (found %v), want state firing", key, k.State, ok)
	}

	// The page, while it fires, in a real browser.
	p := CheckStatusPage(t, b, base+"/", StatusPageWant{Alert: "KubeAPILatencyDrift", MinCharts: 10})
	card := `#alerts article[data-alert="KubeAPILatencyDrift"][data-state="firing"][data-phase="` + phase + `"]`
	if p.Count(card) != 1 {
		t.Errorf("no single firing card for phase %s: %q", phase, p.Text("#alerts"))
	} else if got := p.Attr(card, "data-key"); got != key {
		t.Errorf("firing %s card is about key %q, want %q", phase, got, key)
	}
	if p.Count(`#keys article.key[data-key="`+key+`"] svg.chart rect.firing`) == 0 {
		t.Errorf("the chart of %s does not mark the firing stretch", key)
	}
	p.Screenshot(framework.ArtifactPath(t, "firing.png"))

	// Recovery at 2:00: resolved, nothing firing.
	framework.Eventually(t, time.Until(started.Add(165*time.Second)), func() (bool, string) {
		m, err := framework.Scrape(base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		if n, _ := m.Sum("kubepulse_alerts", map[string]string{"alertname": "KubeAPILatencyDrift", "state": "firing"}); n != 0 {
			return false, m.Series("kubepulse_alerts")
		}
		s, err := demoStatus(base)
		if err != nil {
			return false, err.Error()
		}
		if _, ok := findAlert(s, "KubeAPILatencyDrift", "resolved", phase); !ok {
			return false, fmt.Sprintf("no resolved alert: %+v", s.Alerts)
		}
		return true, ""
	})
	t.Logf("resolved after %v", time.Since(started).Round(time.Second))
	if s, err := demoStatus(base); err != nil {
		t.Fatal(err)
	} else if k, _ := findKey(s, key); k.State == "firing" || k.State == "pending" {
		t.Errorf("key %s still %s after the recovery", key, k.State)
	}

	// --duration ends it, with exit code 0 and the console's story told.
	if code := demo.Wait(time.Until(started.Add(170*time.Second + 30*time.Second))); code != 0 {
		t.Fatalf("demo exited %d, want 0", code)
	}
	out := demo.Stdout()
	for _, line := range []string{"INJECT", "FIRING   KubeAPILatencyDrift", "RECOVER", "RESOLVED KubeAPILatencyDrift", "demo stopped after"} {
		if !strings.Contains(out, line) {
			t.Errorf("console output lacks %q:\n%s", line, out)
		}
	}
}

// demoStatus reads /api/v1/status.
func demoStatus(base string) (status.Snapshot, error) {
	var s status.Snapshot
	err := framework.GetJSON(base+"/api/v1/status", &s)
	return s, err
}

// findAlert returns the first alert of that name and state whose phase label
// is phase ("" for the whole request, which has none).
func findAlert(s status.Snapshot, name, state, phase string) (status.Alert, bool) {
	for _, a := range s.Alerts {
		if a.Name == name && a.State == state && a.Labels["phase"] == phase {
			return a, true
		}
	}
	return status.Alert{}, false
}

func countAlerts(s status.Snapshot, name, state string) int {
	n := 0
	for _, a := range s.Alerts {
		if a.Name == name && a.State == state {
			n++
		}
	}
	return n
}

func findKey(s status.Snapshot, key string) (status.Key, bool) {
	for _, k := range s.Keys {
		if k.Key == key {
			return k, true
		}
	}
	return status.Key{}, false
}
