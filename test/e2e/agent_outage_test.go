//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// outageWindow is how long the connection attempts are counted.
const outageWindow = 90 * time.Second

// agentOutage takes the API server away from the agent and gives it back.
//
// First the proxy stops listening: connections are refused, as from a
// stopped kube-apiserver. KubeAPIUnreachable fires (three probes in a row got
// no answer) and the failing connects become the slow-connect finding. Then
// the proxy listens again but resets every connection as soon as the agent
// speaks, so that every attempt is counted (refused ones never reach a
// process): over outageWindow the agent must try far less often than its
// probe rate — it backs off — and /readyz must turn 503 with a reason, while
// the process keeps running. When the server is back the alert resolves and
// the agent is ready again.
func agentOutage(t *testing.T, api agentClient, agent *framework.Process, proxy *framework.FaultProxy, hook *alertHook,
	node string, whileDown func(*testing.T)) {
	s, err := api.status()
	if err != nil {
		t.Fatal(err)
	}
	probeRate := s.Budget.AgentQPS // probes per second while healthy
	if probeRate <= 0 {
		t.Fatalf("status budget %+v: no probe rate", s.Budget)
	}

	down := time.Now()
	proxy.Disable()
	unreachable := hook.wait(t, 60*time.Second, "KubeAPIUnreachable firing", func(a hookAlert) bool {
		return a.Status == "firing" && a.Labels["alertname"] == "KubeAPIUnreachable" && a.Labels["node"] == node
	})
	t.Logf("KubeAPIUnreachable fired %v after the server went away: %s", time.Since(down).Round(time.Second),
		unreachable.Annotations["description"])
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		m, err := api.metrics()
		if err != nil {
			return false, err.Error()
		}
		v, _ := m.Sum("kubepulse_findings", map[string]string{"finding": "slow-connect"})
		return v == 1, m.Series("kubepulse_findings")
	})
	whileDown(t)

	proxy.ResetPeers("outage")
	proxy.Enable()
	from, attempts0 := time.Now(), proxy.Accepted()
	failures0, err := api.metric("kubepulse_probes_total", map[string]string{"result": "failure"})
	if err != nil {
		t.Fatal(err)
	}
	var notReady string
	for time.Since(from) < outageWindow {
		if agent.Exited() {
			t.Fatalf("the agent exited during the outage")
		}
		if code, body, err := api.readyz(); err == nil && code == http.StatusServiceUnavailable && notReady == "" {
			notReady = body
			t.Logf("/readyz 503 %v after the server went away: %s", time.Since(down).Round(time.Second), body)
		}
		time.Sleep(time.Second) // a measurement window, not a wait for a condition
	}
	attempts := proxy.Accepted() - attempts0
	failures, err := api.metric("kubepulse_probes_total", map[string]string{"result": "failure"})
	if err != nil {
		t.Fatal(err)
	}
	noBackoff := probeRate * outageWindow.Seconds()
	t.Logf("in %v without an answer: %d connection attempts at the proxy, %v failed probes; at its healthy rate of %.2f probes/s the agent would have sent %.0f",
		outageWindow, attempts, failures-failures0, probeRate, noBackoff)
	if float64(attempts) > noBackoff/10 {
		t.Errorf("%d connection attempts in %v: the agent does not back off (no backoff: %.0f)", attempts, outageWindow, noBackoff)
	}
	if attempts == 0 {
		t.Errorf("no connection attempt in %v: the agent gave up instead of retrying", outageWindow)
	}
	if notReady == "" {
		t.Errorf("/readyz never answered 503 during the outage")
	}
	if s, err := api.status(); err != nil {
		t.Fatal(err)
	} else if s.Ready || s.Reason == "" || s.Budget.Failures == 0 {
		t.Errorf("status during the outage: ready %v reason %q failures %d", s.Ready, s.Reason, s.Budget.Failures)
	}

	proxy.Remove("outage")
	back := time.Now()
	hook.wait(t, 60*time.Second, "KubeAPIUnreachable resolved", func(a hookAlert) bool {
		return a.Status == "resolved" && sameLabels(a.Labels, unreachable.Labels)
	})
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		code, body, err := api.readyz()
		return err == nil && code == http.StatusOK, fmt.Sprintf("/readyz %d %q %v", code, body, err)
	})
	t.Logf("resolved and ready %v after the server came back", time.Since(back).Round(time.Second))
}
