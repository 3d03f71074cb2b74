//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/exporters/alertmanager"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// Two real Alertmanager replicas (an HA pair gossiping on loopback) behind a
// webhook receiver: an alert reaches both replicas, the webhook is notified,
// and the resolve ends it everywhere.
func TestAlertmanagerReachesEveryReplica(t *testing.T) {
	hook := newAMWebhook(t)
	am := framework.Start(t, "alertmanager", "--replicas", "2", "--webhook", hook.URL)
	urls := strings.Split(am["ALERTMANAGER_URLS"], ",")
	c := runAMClient(t, alertmanager.Options{
		URLs:           urls,
		ExternalLabels: map[string]string{"cluster": "e2e"},
		GeneratorURL:   "http://127.0.0.1:8080/",
		ResendInterval: time.Second, // endsAt = now + 4s: only resends keep it active
	})

	target := alertmanager.Target{Node: "node-a", Verb: "list", Resource: "pods", Phase: "tls"}
	al := alertmanager.NewAlert(alertmanager.KubeAPILatencyDrift, target,
		alertmanager.Numbers{Stat: "p99", Current: 0.2, Reference: 0.05, Z: 6.1, Samples: 900}, time.Now())
	start := time.Now()
	if err := c.Firing(al); err != nil {
		t.Fatal(err)
	}
	t.Logf("Firing returned in %v", time.Since(start))

	for _, u := range urls {
		got := amWaitActive(t, u, `alertname="KubeAPILatencyDrift"`, 1)[0]
		wantLabels := map[string]string{"alertname": "KubeAPILatencyDrift", "severity": "warning", "node": "node-a",
			"verb": "list", "resource": "pods", "phase": "tls", "cluster": "e2e"}
		if fmt.Sprint(got.Labels) != fmt.Sprint(wantLabels) {
			t.Errorf("%s: labels %v, want %v", u, got.Labels, wantLabels)
		}
		if d := got.Annotations["description"]; d != "p99 200ms vs baseline 50ms (4.00× baseline, z=6.10, 900 samples)" {
			t.Errorf("%s: description %q", u, d)
		}
		if r := got.Annotations["runbook_url"]; r != "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md#kubeapilatencydrift" {
			t.Errorf("%s: runbook_url %q", u, r)
		}
		if got.GeneratorURL != "http://127.0.0.1:8080/" {
			t.Errorf("%s: generatorURL %q", u, got.GeneratorURL)
		}
	}
	msg := hook.waitFor(t, "firing", "resource", "pods")
	if msg.Alerts[0].Labels["phase"] != "tls" {
		t.Errorf("webhook got %+v", msg)
	}

	resolvedAt := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	if err := c.Resolved(al, resolvedAt); err != nil {
		t.Fatal(err)
	}
	msg = hook.waitFor(t, "resolved", "resource", "pods")
	// endsAt is the resolution we sent, not an expiry: the resolve ended it.
	if ends := msg.Alerts[0].EndsAt; !ends.Equal(resolvedAt) {
		t.Errorf("resolved notification endsAt %v, want %v", ends, resolvedAt)
	}
	for _, u := range urls {
		amWaitActive(t, u, `alertname="KubeAPILatencyDrift"`, 0)
	}
	for _, s := range c.Stats() {
		if s.Sent < 2 || s.Dropped != 0 {
			t.Errorf("stats %+v", s)
		}
	}
}

// One replica of the pair is frozen, then stopped for a long time (in resend
// intervals), then restarted with its old address: the other replica keeps
// getting every alert and notifying, Firing never waits, the stopped replica's
// queue drops its oldest alerts and counts them, and once back it gets the
// current alerts again.
//
// Real time used: resend interval 1s; the replica is down until its queue has
// dropped at least 40 alerts (about 10 s, i.e. 10 resend intervals — 10 minutes
// at the default 1m interval); with 5 firing alerts and a queue of 8.
func TestAlertmanagerReplicaDownAndBack(t *testing.T) {
	hook := newAMWebhook(t)
	am := framework.Start(t, "alertmanager", "--replicas", "2", "--webhook", hook.URL)
	urls := strings.Split(am["ALERTMANAGER_URLS"], ",")
	pids := strings.Split(am["ALERTMANAGER_PIDS"], ",")
	up, down := urls[0], urls[1]
	c := runAMClient(t, alertmanager.Options{
		URLs:                 urls,
		ResendInterval:       time.Second,
		ResolvedResendWindow: time.Minute,
		QueueCapacity:        8,
		BatchSize:            4,
		Timeout:              time.Second,
	})
	fire := func(resource string) alertmanager.Alert {
		t.Helper()
		a := alertmanager.NewAlert(alertmanager.KubeAPIErrorRateDrift, alertmanager.Target{Node: "node-b", Verb: "get", Resource: resource},
			alertmanager.Numbers{Stat: "error rate", Unit: alertmanager.Fraction, Current: 0.05, Reference: 0.001}, time.Now())
		start := time.Now()
		if err := c.Firing(a); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("Firing took %v: it must never wait for a replica", d)
		}
		return a
	}
	fire("configmaps")
	for _, u := range urls {
		amWaitActive(t, u, `resource="configmaps"`, 1)
	}

	// Frozen (SIGSTOP): connections are accepted by the kernel but never
	// answered. The other replica is not delayed; the frozen one times out.
	frozen := amPid(t, pids[1])
	if err := syscall.Kill(frozen, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	fire("secrets")
	amWaitActive(t, up, `resource="secrets"`, 1)
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		s := amStats(c, down)
		return strings.Contains(s.LastError, "deadline exceeded"), fmt.Sprintf("%+v", s)
	})
	if err := syscall.Kill(frozen, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	amWaitActive(t, down, `resource="secrets"`, 1)

	// Stopped.
	restart := amStopReplica(t, frozen)
	for _, r := range []string{"nodes", "services", "endpoints"} {
		fire(r)
	}
	for _, r := range []string{"nodes", "services", "endpoints"} {
		amWaitActive(t, up, `resource="`+r+`"`, 1)
		hook.waitFor(t, "firing", "resource", r) // the living replica notifies alone
	}
	resolvedWhileDown := fire("leases")
	amWaitActive(t, up, `resource="leases"`, 1)
	if err := c.Resolved(resolvedWhileDown, time.Time{}); err != nil {
		t.Fatal(err)
	}
	amWaitActive(t, up, `resource="leases"`, 0)
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		s := amStats(c, down)
		return s.Dropped >= 40, fmt.Sprintf("waiting for drops on the stopped replica: %+v", s)
	})
	s := amStats(c, down)
	if s.QueueLength > s.QueueCapacity || s.SendErrors == 0 || !strings.Contains(s.LastError, "connection refused") {
		t.Errorf("stopped replica: %+v", s)
	}
	if u := amStats(c, up); u.Dropped != 0 || time.Since(u.LastSuccess) > 5*time.Second {
		t.Errorf("the living replica was affected: %+v", u)
	}
	// Firing alerts stayed active on the living replica all along (endsAt is 4s
	// ahead: without resends they would have expired long ago).
	amWaitActive(t, up, `alertname="KubeAPIErrorRateDrift"`, 5)

	// Back, at the same address, with no alerts in memory: it gets the current
	// ones again, and not the one resolved meanwhile.
	restart()
	got := amWaitActive(t, down, `alertname="KubeAPIErrorRateDrift"`, 5)
	var resources []string
	for _, a := range got {
		resources = append(resources, a.Labels["resource"])
	}
	slices.Sort(resources)
	if fmt.Sprint(resources) != "[configmaps endpoints nodes secrets services]" {
		t.Errorf("restarted replica lists %v", resources)
	}
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		s := amStats(c, down)
		return time.Since(s.LastSuccess) < 2*time.Second && s.QueueLength == 0, fmt.Sprintf("%+v", s)
	})
	t.Logf("stopped replica: %+v", amStats(c, down))
	t.Logf("living replica: %+v", amStats(c, up))
}

// runAlertmanagerClient runs a client until the test ends.
func runAMClient(t *testing.T, o alertmanager.Options) *alertmanager.Client {
	t.Helper()
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c, err := alertmanager.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return c
}

func amStats(c *alertmanager.Client, url string) alertmanager.ReplicaStats {
	for _, s := range c.Stats() {
		if s.URL == url {
			return s
		}
	}
	return alertmanager.ReplicaStats{}
}

// amGettableAlert is the part of Alertmanager's GET /api/v2/alerts we check.
type amGettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// waitActive waits until the replica at base lists exactly n active alerts
// matching filter (a matcher such as alertname="X"), and returns them.
func amWaitActive(t *testing.T, base, filter string, n int) []amGettableAlert {
	t.Helper()
	var got []amGettableAlert
	framework.Eventually(t, 30*time.Second, func() (bool, string) {
		got = nil
		var all []amGettableAlert
		if err := framework.GetJSON(base+"/api/v2/alerts?active=true&silenced=false&inhibited=false&filter="+
			url.QueryEscape(filter), &all); err != nil {
			return false, err.Error()
		}
		for _, a := range all {
			if a.Status.State == "active" && a.EndsAt.After(time.Now()) {
				got = append(got, a)
			}
		}
		return len(got) == n, fmt.Sprintf("%s lists %d active alerts matching %s, want %d: %+v", base, len(got), filter, n, all)
	})
	return got
}
