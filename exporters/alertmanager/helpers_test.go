package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"
)

// t0 is the fake clock's start: every schedule in these tests is relative to it.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// posted is an alert as a fake Alertmanager received it.
type posted struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
}

// fakeAM stands in for an Alertmanager replica in unit tests: it records what
// is POSTed to /api/v2/alerts and can fail or hang on demand. (The real
// Alertmanager is used in test/e2e/alertmanager_test.go.)
type fakeAM struct {
	*httptest.Server
	status atomic.Int32  // answer with this status; 0 = 200
	hang   chan struct{} // when set, requests block until it is closed

	mu      sync.Mutex
	batches [][]posted
	headers []http.Header
}

// newFakeAM starts a fake replica; with hang, every request blocks until hang
// is closed (or the client gives up).
func newFakeAM(t *testing.T, hang ...chan struct{}) *fakeAM {
	t.Helper()
	f := &fakeAM{}
	if len(hang) > 0 {
		f.hang = hang[0]
	}
	f.Server = httptest.NewUnstartedServer(f)
	f.Start()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/alerts" ||
		r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, fmt.Sprintf("unexpected %s %s", r.Method, r.URL.Path), http.StatusNotFound)
		return
	}
	if f.hang != nil {
		select {
		case <-f.hang:
		case <-r.Context().Done():
			return
		}
	}
	if code := int(f.status.Load()); code != 0 && code != http.StatusOK {
		http.Error(w, "injected failure", code)
		return
	}
	var batch []posted
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.batches = append(f.batches, batch)
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
}

// received returns every alert received so far, in order.
func (f *fakeAM) received() []posted {
	f.mu.Lock()
	defer f.mu.Unlock()
	var all []posted
	for _, b := range f.batches {
		all = append(all, b...)
	}
	return all
}

func (f *fakeAM) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n []int
	for _, b := range f.batches {
		n = append(n, len(b))
	}
	return n
}

// waitReceived waits until f holds n alerts and returns them.
func (f *fakeAM) waitReceived(t *testing.T, n int) []posted {
	t.Helper()
	var got []posted
	eventually(t, func() (bool, string) {
		got = f.received()
		return len(got) >= n, fmt.Sprintf("%d alerts received, want %d: %+v", len(got), n, got)
	})
	if len(got) != n {
		t.Fatalf("received %d alerts, want %d: %+v", len(got), n, got)
	}
	return got
}

// eventually polls cond until it holds; the deadline only bounds a broken test.
func eventually(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met; last state: %s", state)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitForTimers waits until n timers wait on the fake clock (the scheduler's,
// and one per replica in backoff), so that a Step reaches all of them.
func waitForTimers(t *testing.T, clk *testingclock.FakeClock, n int) {
	t.Helper()
	eventually(t, func() (bool, string) {
		return clk.Waiters() == n, fmt.Sprintf("%d timers waiting, want %d", clk.Waiters(), n)
	})
}

// startClient creates a Client with a fake clock and runs it until the test
// ends; Run must then return (it drains within DrainTimeout).
func startClient(t *testing.T, o Options) (*Client, *testingclock.FakeClock) {
	t.Helper()
	clk := testingclock.NewFakeClock(t0)
	o.Clock = clk
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 2 * time.Second
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return c, clk
}

// testWriter sends logs to t.Log, so they show only for failing tests.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func alertNamed(name string, extra ...string) Alert {
	l := map[string]string{LabelAlertName: name, LabelSeverity: SeverityWarning}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return Alert{Labels: l, Annotations: map[string]string{AnnotationSummary: name + " summary"}}
}

func statsOf(t *testing.T, c *Client, url string) ReplicaStats {
	t.Helper()
	for _, s := range c.Stats() {
		if s.URL == url {
			return s
		}
	}
	t.Fatalf("no stats for %s in %+v", url, c.Stats())
	return ReplicaStats{}
}

func storedAlerts(c *Client) int {
	c.store.mu.Lock()
	defer c.store.mu.Unlock()
	return len(c.store.entries)
}

func (f *fakeAM) header(i int) http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.headers[i]
}
