package alertmanager

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFiringReachesEveryReplica(t *testing.T) {
	a, b := newFakeAM(t), newFakeAM(t)
	c, _ := startClient(t, Options{
		URLs:           []string{a.URL, b.URL + "/"},
		ExternalLabels: map[string]string{"cluster": "prod-eu1", LabelNode: "ignored"},
		GeneratorURL:   "http://10.0.0.7:9090/status",
	})
	n := Numbers{Stat: "p99", Current: 0.412, Reference: 0.12, Z: 5.2, Samples: 1200, Window: 10 * time.Minute}
	al := NewAlert(KubeAPILatencyDrift, Target{Node: "node-1", Verb: "list", Resource: "pods", Phase: "server"}, n,
		t0.Add(-time.Minute))
	if err := c.Firing(al); err != nil {
		t.Fatal(err)
	}
	want := posted{
		Labels: map[string]string{"alertname": "KubeAPILatencyDrift", "severity": "warning", "node": "node-1",
			"verb": "list", "resource": "pods", "phase": "server", "cluster": "prod-eu1"},
		Annotations: map[string]string{
			"summary":     "list pods latency in phase server drifted above its baseline on node node-1",
			"description": "p99 412ms vs baseline 120ms (3.43× baseline, z=5.20, 1200 samples over 10m0s)",
			"runbook_url": "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md#kubeapilatencydrift",
		},
		StartsAt:     t0.Add(-time.Minute),
		EndsAt:       t0.Add(4 * DefaultResendInterval),
		GeneratorURL: "http://10.0.0.7:9090/status",
	}
	for _, am := range []*fakeAM{a, b} {
		got := am.waitReceived(t, 1)[0]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s received\n %+v\nwant\n %+v", am.URL, got, want)
		}
		if ua := am.header(0).Get("User-Agent"); ua != "kubepulse" {
			t.Errorf("User-Agent = %q", ua)
		}
	}
	for _, am := range []*fakeAM{a, b} {
		eventually(t, func() (bool, string) { // the server records before the client hears back
			s := statsOf(t, c, am.URL)
			return s.Sent == 1 && s.Dropped == 0 && s.SendErrors == 0 && s.QueueLength == 0 &&
				s.LastSuccess.Equal(t0), fmt.Sprintf("%+v, want 1 sent, last success at t0", s)
		})
	}
}

// The client owns the schedule: firing alerts are re-sent every resend interval
// with endsAt = now + 4 intervals; once resolved, sent with endsAt = resolution
// time for the resolved window, then forgotten.
func TestResendSchedule(t *testing.T) {
	am := newFakeAM(t)
	const resend = time.Minute
	c, clk := startClient(t, Options{URLs: []string{am.URL}, ResendInterval: resend,
		ResolvedResendWindow: 3 * time.Minute})
	al := alertNamed(KubeAPIErrorRateDrift, LabelVerb, "get")
	al.StartsAt = t0
	// Calling Firing on every evaluation must not send more often.
	for range 3 {
		if err := c.Firing(al); err != nil {
			t.Fatal(err)
		}
	}
	am.waitReceived(t, 1)
	for i := 1; i <= 3; i++ {
		waitForTimers(t, clk, 1)
		clk.Step(resend)
		got := am.waitReceived(t, 1+i)[i]
		if want := t0.Add(time.Duration(i)*resend + 4*resend); !got.EndsAt.Equal(want) {
			t.Errorf("resend %d: endsAt %v, want %v", i, got.EndsAt, want)
		}
	}
	// Resolved half-way to the next resend: sent at once, with endsAt = resolution.
	clk.Step(resend / 2)
	resolvedAt := clk.Now().Add(-time.Second)
	if err := c.Resolved(al, resolvedAt); err != nil {
		t.Fatal(err)
	}
	got := am.waitReceived(t, 5)[4]
	if !got.EndsAt.Equal(resolvedAt) || !got.StartsAt.Equal(t0) {
		t.Errorf("resolved: startsAt %v endsAt %v, want %v and %v", got.StartsAt, got.EndsAt, t0, resolvedAt)
	}
	// Re-sent at +1m, +2m, +3m after the resolution send (within the 3m window
	// counted from resolvedAt, which was 1s earlier: +3m is 1s past it).
	for i := 1; i <= 2; i++ {
		waitForTimers(t, clk, 1)
		clk.Step(resend)
		if got := am.waitReceived(t, 5+i)[4+i]; !got.EndsAt.Equal(resolvedAt) {
			t.Errorf("resolved resend %d: endsAt %v, want %v", i, got.EndsAt, resolvedAt)
		}
	}
	waitForTimers(t, clk, 1)
	clk.Step(resend)
	// The window has passed: forgotten. A probe alert flushes the scheduler: had
	// the old one still been due, it would have been queued in the same pass.
	probe := alertNamed(KubeAPIUnreachable)
	if err := c.Firing(probe); err != nil {
		t.Fatal(err)
	}
	last := am.waitReceived(t, 8)[7]
	if last.Labels[LabelAlertName] != KubeAPIUnreachable {
		t.Errorf("after the resolved window, got %+v, want only the probe", last)
	}
	waitForTimers(t, clk, 1) // only the probe is scheduled now
	if n := storedAlerts(c); n != 1 {
		t.Errorf("store holds %d alerts, want 1 (the resolved one forgotten)", n)
	}
}

// A resolved alert that fires again is a new occurrence: sent at once, with a
// new startsAt.
func TestFiringAgainAfterResolved(t *testing.T) {
	am := newFakeAM(t)
	c, clk := startClient(t, Options{URLs: []string{am.URL}})
	al := alertNamed(KubeAPILatencySLOBreach)
	_ = c.Firing(al)
	am.waitReceived(t, 1)
	clk.Step(10 * time.Second)
	_ = c.Resolved(al, time.Time{})
	if got := am.waitReceived(t, 2)[1]; !got.EndsAt.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("resolved endsAt %v, want now (zero at)", got.EndsAt)
	}
	clk.Step(10 * time.Second)
	_ = c.Firing(al)
	got := am.waitReceived(t, 3)[2]
	if want := t0.Add(20 * time.Second); !got.StartsAt.Equal(want) || !got.EndsAt.After(want) {
		t.Errorf("fired again: startsAt %v endsAt %v, want startsAt %v and a future endsAt", got.StartsAt, got.EndsAt, want)
	}
}

func TestBatching(t *testing.T) {
	am := newFakeAM(t)
	c, err := New(Options{URLs: []string{am.URL}, BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	// Recorded before Run: sent once it starts, in batches of at most 64.
	for i := range 150 {
		if err := c.Firing(alertNamed(KubeAPILatencyDrift, LabelResource, fmt.Sprintf("r%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	got := am.waitReceived(t, 150)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sizes := fmt.Sprint(am.batchSizes()); sizes != "[64 64 22]" {
		t.Errorf("batch sizes %s, want [64 64 22]", sizes)
	}
	seen := map[string]bool{}
	for _, p := range got {
		seen[p.Labels[LabelResource]] = true
	}
	if len(seen) != 150 {
		t.Errorf("%d distinct alerts received, want 150", len(seen))
	}
}

// New replicas (discovery) get every firing and recently resolved alert at
// once; removed ones stop and disappear from Stats.
func TestSetURLs(t *testing.T) {
	a, b := newFakeAM(t), newFakeAM(t)
	c, clk := startClient(t, Options{URLs: []string{a.URL}})
	_ = c.Firing(alertNamed(KubeAPILatencyDrift, LabelVerb, "list"))
	_ = c.Firing(alertNamed(KubeAPIErrorRateDrift, LabelVerb, "get"))
	_ = c.Resolved(alertNamed(KubeAPIUnreachable), t0)
	a.waitReceived(t, 3)
	clk.Step(5 * time.Second)

	if err := c.SetURLs([]string{a.URL, b.URL}); err != nil {
		t.Fatal(err)
	}
	got := b.waitReceived(t, 3)
	state := map[string]time.Time{}
	for _, p := range got {
		state[p.Labels[LabelAlertName]] = p.EndsAt
	}
	want := map[string]time.Time{
		KubeAPILatencyDrift:   t0.Add(5*time.Second + 4*DefaultResendInterval),
		KubeAPIErrorRateDrift: t0.Add(5*time.Second + 4*DefaultResendInterval),
		KubeAPIUnreachable:    t0,
	}
	if fmt.Sprint(state) != fmt.Sprint(want) {
		t.Errorf("new replica got endsAt %v, want %v", state, want)
	}
	if n := len(a.received()); n != 3 {
		t.Errorf("existing replica got %d alerts, want no repeats (3)", n)
	}

	if err := c.SetURLs([]string{b.URL}); err != nil {
		t.Fatal(err)
	}
	if urls := fmt.Sprint(c.URLs()); urls != "["+b.URL+"]" {
		t.Errorf("URLs() = %s", urls)
	}
	if s := c.Stats(); len(s) != 1 || s[0].URL != b.URL {
		t.Errorf("stats after removal: %+v", s)
	}
	err := c.SetURLs([]string{b.URL, "ftp://x"})
	if want := `alertmanager.urls[1]: "ftp://x": want http or https URL`; err == nil || err.Error() != want {
		t.Errorf("SetURLs(bad) = %v, want %s", err, want)
	}
	if urls := fmt.Sprint(c.URLs()); urls != "["+b.URL+"]" {
		t.Errorf("a failed SetURLs changed the URLs: %s", urls)
	}
}

func TestInvalidAlertsAreRefused(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		alert Alert
		want  string
	}{
		{Alert{Labels: map[string]string{"verb": "get"}}, `want a non-empty "alertname" label`},
		{Alert{Labels: map[string]string{"alertname": "X", "bad-name": "v"}}, `label name "bad-name"`},
		{Alert{Labels: map[string]string{"alertname": "X", "v": "\xff"}}, `label v: value is not valid UTF-8`},
		{Alert{Labels: map[string]string{"alertname": "X"}, Annotations: map[string]string{"1x": ""}}, `annotation name "1x"`},
	} {
		err := c.Firing(tc.alert)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Firing(%v) = %v, want %q", tc.alert.Labels, err, tc.want)
		}
		if err := c.Resolved(tc.alert, t0); err == nil {
			t.Errorf("Resolved(%v): want an error", tc.alert.Labels)
		}
	}
	if n := storedAlerts(c); n != 0 {
		t.Errorf("%d invalid alerts stored", n)
	}
}

// Firing and Resolved from many goroutines while replicas come and go: run
// with -race.
func TestConcurrentUse(t *testing.T) {
	a, b := newFakeAM(t), newFakeAM(t)
	c, clk := startClient(t, Options{URLs: []string{a.URL}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				al := alertNamed(KubeAPILatencyDrift, LabelResource, fmt.Sprintf("g%d-%d", g, i%5))
				_ = c.Firing(al)
				if i%3 == 0 {
					_ = c.Resolved(al, time.Time{})
				}
				_ = c.Stats()
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			urls := []string{a.URL}
			if i%2 == 0 {
				urls = append(urls, b.URL)
			}
			if err := c.SetURLs(urls); err != nil {
				t.Error(err)
			}
			clk.Step(time.Second)
		}
	})
	wg.Wait()
	eventually(t, func() (bool, string) {
		s := statsOf(t, c, a.URL)
		return s.QueueLength == 0 && s.Sent > 0, fmt.Sprintf("%+v", s)
	})
}

// An end in the future would keep the alert firing in Alertmanager: it is
// clamped to now.
func TestResolvedInTheFutureEndsNow(t *testing.T) {
	am := newFakeAM(t)
	c, _ := startClient(t, Options{URLs: []string{am.URL}})
	al := alertNamed(KubeAPILatencyDrift)
	al.StartsAt = t0.Add(-time.Hour)
	_ = c.Resolved(al, t0.Add(time.Hour))
	if got := am.waitReceived(t, 1)[0]; !got.EndsAt.Equal(t0) {
		t.Errorf("endsAt %v, want now (%v)", got.EndsAt, t0)
	}
}
