package alertmanager

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A replica that answers errors keeps its queue bounded: the oldest alerts are
// dropped and counted, the newest are delivered when it recovers, retried with
// backoff in between. Another replica is not affected.
func TestFailingReplicaDropsOldest(t *testing.T) {
	bad, good := newFakeAM(t), newFakeAM(t)
	bad.status.Store(http.StatusServiceUnavailable)
	c, clk := startClient(t, Options{URLs: []string{bad.URL, good.URL}, QueueCapacity: 4, BatchSize: 2})

	_ = c.Firing(alertNamed(KubeAPILatencyDrift, LabelResource, "r0"))
	good.waitReceived(t, 1)
	// The first POST failed: the batch is back in the queue, the loop waits 1s.
	waitForTimers(t, clk, 2) // scheduler + backoff
	s := statsOf(t, c, bad.URL)
	if s.SendErrors != 1 || s.QueueLength != 1 || s.Dropped != 0 || !strings.Contains(s.LastError, "503") {
		t.Fatalf("after one failure: %+v", s)
	}
	for i := 1; i <= 5; i++ { // one at a time: the healthy replica's queue (4) must not overflow
		_ = c.Firing(alertNamed(KubeAPILatencyDrift, LabelResource, fmt.Sprintf("r%d", i)))
		good.waitReceived(t, i+1)
	}
	s = statsOf(t, c, bad.URL)
	if s.QueueLength != 4 || s.Dropped != 2 {
		t.Fatalf("queue of 4 after 6 alerts: %+v, want length 4, 2 dropped", s)
	}
	// Firing never waits for a replica.
	eventually(t, func() (bool, string) {
		s := statsOf(t, c, good.URL)
		return s.Sent == 6 && s.Dropped == 0, fmt.Sprintf("healthy replica: %+v", s)
	})

	bad.status.Store(http.StatusOK)
	clk.Step(time.Second) // the backoff ends: retry
	got := bad.waitReceived(t, 4)
	var names []string
	for _, p := range got {
		names = append(names, p.Labels[LabelResource])
	}
	if fmt.Sprint(names) != "[r2 r3 r4 r5]" {
		t.Errorf("delivered after recovery %v, want the newest four [r2 r3 r4 r5]", names)
	}
	eventually(t, func() (bool, string) {
		s := statsOf(t, c, bad.URL)
		return s.Sent == 4 && s.Dropped == 2 && s.SendErrors == 1 && s.QueueLength == 0, fmt.Sprintf("after recovery: %+v", s)
	})
}

func TestBackoffDoublesUpToCeiling(t *testing.T) {
	c, err := New(Options{ResendInterval: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var got []time.Duration
	d := time.Duration(0)
	for range 7 {
		d = c.nextBackoff(d)
		got = append(got, d)
	}
	if fmt.Sprint(got) != "[1s 2s 4s 8s 16s 20s 20s]" {
		t.Errorf("backoffs %v", got)
	}
}

// Alertmanager rejecting a batch (400: invalid alert) is not retried: the same
// batch would fail again.
func TestRejectedBatchIsDroppedNotRetried(t *testing.T) {
	am := newFakeAM(t)
	am.status.Store(http.StatusBadRequest)
	c, clk := startClient(t, Options{URLs: []string{am.URL}})
	_ = c.Firing(alertNamed(KubeAPIClientThrottled))
	eventually(t, func() (bool, string) {
		s := statsOf(t, c, am.URL)
		return s.Dropped == 1, fmt.Sprintf("%+v", s)
	})
	waitForTimers(t, clk, 1) // only the scheduler: no backoff timer
	s := statsOf(t, c, am.URL)
	if s.SendErrors != 1 || s.QueueLength != 0 || !strings.Contains(s.LastError, `400 Bad Request: "injected failure"`) {
		t.Errorf("stats %+v", s)
	}
}

// A replica that hangs delays nobody: the other replica gets every alert, and
// the hanging POST ends at the timeout.
func TestHangingReplicaDoesNotDelayOthers(t *testing.T) {
	release := make(chan struct{})
	hung, ok := newFakeAM(t, release), newFakeAM(t)
	t.Cleanup(func() { close(release) }) // runs after the client stopped
	c, _ := startClient(t, Options{URLs: []string{hung.URL, ok.URL}, Timeout: 50 * time.Millisecond})
	for i := range 3 {
		start := time.Now()
		_ = c.Firing(alertNamed(KubeAPILatencyDrift, LabelResource, fmt.Sprintf("r%d", i)))
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Firing took %v", d) // a bug, not a timing measurement: Firing never waits on I/O
		}
		ok.waitReceived(t, i+1)
	}
	eventually(t, func() (bool, string) {
		s := statsOf(t, c, hung.URL)
		return s.SendErrors >= 1 && strings.Contains(s.LastError, "context deadline exceeded"), fmt.Sprintf("%+v", s)
	})
	if n := len(hung.received()); n != 0 {
		t.Errorf("hung replica recorded %d alerts", n)
	}
}

// When Run's context ends, what is queued is still sent (within DrainTimeout).
func TestRunDrainsOnShutdown(t *testing.T) {
	release := make(chan struct{})
	am := newFakeAM(t, release)
	c, err := New(Options{URLs: []string{am.URL}, BatchSize: 1, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	for i := range 3 {
		_ = c.Firing(alertNamed(KubeAPILatencyDrift, LabelResource, fmt.Sprint(i)))
	}
	// The first POST hangs; the other two wait in the queue.
	eventually(t, func() (bool, string) {
		s := c.Stats()[0]
		return s.QueueLength == 2, fmt.Sprintf("%+v", s)
	})
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(am.received()); n != 3 {
		t.Errorf("received %d alerts by the time Run returned, want 3", n)
	}
	if err := c.Run(context.Background()); err == nil {
		t.Error("second Run: want an error")
	}
}

// At shutdown, a replica that does not answer is given up after DrainTimeout
// and what it had queued is counted as dropped.
func TestDrainTimeoutCountsLeftovers(t *testing.T) {
	release := make(chan struct{})
	am := newFakeAM(t, release)
	defer close(release)
	c, err := New(Options{URLs: []string{am.URL}, BatchSize: 1, DrainTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	for i := range 3 {
		_ = c.Firing(alertNamed(KubeAPILatencyDrift, LabelResource, fmt.Sprint(i)))
	}
	eventually(t, func() (bool, string) {
		s := c.Stats()[0]
		return s.QueueLength == 2, fmt.Sprintf("%+v", s)
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The in-flight POST was aborted by the deadline; its batch went back to the
	// queue, and the drain gave up on all three.
	if s := c.Stats()[0]; s.Dropped != 3 || s.Sent != 0 || s.QueueLength != 0 {
		t.Errorf("stats %+v, want 3 dropped", s)
	}
}
