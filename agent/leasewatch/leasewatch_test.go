package leasewatch

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/kubepulse/kubepulse/agent/demo"
)

type recorder struct {
	mu       sync.Mutex
	delays   []time.Duration
	restarts map[string]int
}

func (r *recorder) snapshot() ([]time.Duration, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for k, v := range r.restarts {
		m[k] = v
	}
	return append([]time.Duration(nil), r.delays...), m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatcherMeasuresDeliveryDelay runs against the simulated API server,
// which renews the Lease every 50 ms and delivers each renewal after a
// simulated 20 ms (±noise) delay.
func TestWatcherMeasuresDeliveryDelay(t *testing.T) {
	sim := demo.NewSimServer(demo.SimOptions{
		LeaseRenewal: 50 * time.Millisecond, Seed: 3,
		Latencies: map[demo.Endpoint]demo.Latency{
			demo.LeaseGet:   {Median: time.Millisecond},
			demo.LeaseWatch: {Median: 20 * time.Millisecond, Sigma: 0.1},
		},
	})
	defer sim.Close()
	rec := &recorder{restarts: map[string]int{}}
	w, err := New(Options{
		Client: kubernetes.NewForConfigOrDie(sim.RestConfig()),
		Node:   "demo-node",
		OnDelay: func(d time.Duration, _ time.Time) {
			rec.mu.Lock()
			rec.delays = append(rec.delays, d)
			rec.mu.Unlock()
		},
		OnRestart: func(reason string) {
			rec.mu.Lock()
			rec.restarts[reason]++
			rec.mu.Unlock()
		},
		MaxBackoff: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "10 renewals", func() bool { d, _ := rec.snapshot(); return len(d) >= 10 })
	delays, _ := rec.snapshot()
	for _, d := range delays {
		// 20 ms simulated, ±3σ noise, plus loopback and scheduling on a busy machine.
		if d < 14*time.Millisecond || d > 200*time.Millisecond {
			t.Errorf("delivery delay %v, want about 20ms", d)
		}
	}

	// 410 Gone: the watcher reads the Lease again and keeps measuring.
	sim.ExpireWatches()
	waitFor(t, "a relist", func() bool { _, r := rec.snapshot(); return r[ReasonExpired] == 1 })
	n := len(delays)
	waitFor(t, "renewals after the relist", func() bool { d, _ := rec.snapshot(); return len(d) >= n+5 })
	if got := sim.Requests(demo.LeaseGet); got != 2 {
		t.Errorf("Lease read %d times, want 2 (start + one relist)", got)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Options{Node: "n"}); err == nil {
		t.Error("no client: want error")
	}
	sim := demo.NewSimServer(demo.SimOptions{})
	defer sim.Close()
	if _, err := New(Options{Client: kubernetes.NewForConfigOrDie(sim.RestConfig())}); err == nil {
		t.Error("no node: want error")
	}
}

// A watch whose connection fails (here: reset as soon as it is asked for)
// comes back from client-go as an empty watch that closes at once; client-go
// would also retry it up to ten times, a second apart. The watcher must send
// one request per attempt and back off after each, not watch again in a
// tight loop while the server is away.
func TestWatcherBacksOffWhenWatchesFail(t *testing.T) {
	var watches, gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" {
			watches.Add(1)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		gets.Add(1)
		renewed := metav1.NewMicroTime(time.Now())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "close") // every watch gets a connection of its own
		_ = json.NewEncoder(w).Encode(&coordinationv1.Lease{
			TypeMeta:   metav1.TypeMeta{Kind: "Lease", APIVersion: "coordination.k8s.io/v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "n", Namespace: Namespace, ResourceVersion: "5"},
			Spec:       coordinationv1.LeaseSpec{RenewTime: &renewed},
		})
	}))
	defer srv.Close()
	clk := testingclock.NewFakeClock(time.Now())
	rec := &recorder{restarts: map[string]int{}}
	w, err := New(Options{Client: kubernetes.NewForConfigOrDie(&rest.Config{Host: srv.URL}), Node: "n", Clock: clk,
		MaxBackoff: time.Minute,
		OnRestart: func(reason string) {
			rec.mu.Lock()
			rec.restarts[reason]++
			rec.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	for i := int32(1); i <= 3; i++ {
		// Waiting on the clock after the i-th watch request: backing off.
		waitFor(t, "a backoff", func() bool { return clk.HasWaiters() && watches.Load() == i })
		if _, r := rec.snapshot(); r[ReasonError] != int(i) || r[ReasonClosed] != 0 {
			t.Fatalf("after %d failed watches: restarts %v, want %d errors", i, r, i)
		}
		clk.Step(time.Minute)
	}
	if gets.Load() != 1 {
		t.Errorf("the Lease was read %d times, want once (the watch resumes from its resourceVersion)", gets.Load())
	}
}
