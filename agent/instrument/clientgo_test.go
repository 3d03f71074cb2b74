package instrument

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/metrics"

	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

type clientGoEvents struct {
	mu      sync.Mutex
	waits   []string // key=wait≥threshold
	retries []string // method code
}

func (e *clientGoEvents) ReportRateLimiterWait(l classify.Labels, wait time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.waits = append(e.waits, l.Key)
}

func (e *clientGoEvents) ReportRetry(method, code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.retries = append(e.retries, method+" "+code)
}

var (
	registerOnce  sync.Once
	sharedEvents  = &clientGoEvents{}
	won, wonAgain bool
)

// slowLimiter holds every request for a while, like a QPS limiter that is
// out of tokens.
type slowLimiter struct{ d time.Duration }

func (l slowLimiter) TryAccept() bool { return true }
func (l slowLimiter) Accept()         { time.Sleep(l.d) }
func (l slowLimiter) Stop()           {}
func (l slowLimiter) QPS() float32    { return 1 }
func (l slowLimiter) Wait(ctx context.Context) error {
	select {
	case <-time.After(l.d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestClientGoHooksAndTrackCall runs a real clientset: client-go throttles
// each attempt, gets a 429 with Retry-After, retries. The hooks report the
// wait and the retry per class; TrackCall puts them on each attempt's
// Observation. It is the only test that registers client-go's hooks: that
// can be done once per process.
func TestClientGoHooksAndTrackCall(t *testing.T) {
	// Register once per process, also under -count=N.
	registerOnce.Do(func() {
		won = RegisterClientGoMetrics(sharedEvents)
		wonAgain = RegisterClientGoMetrics(&clientGoEvents{})
	})
	if !won {
		t.Fatal("RegisterClientGoMetrics lost, but nobody registered before it")
	}
	if wonAgain {
		t.Fatal("a second RegisterClientGoMetrics cannot win: client-go registers once")
	}
	events := sharedEvents
	events.mu.Lock()
	events.waits, events.retries = nil, nil
	events.mu.Unlock()

	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"kind":"Status","code":429}`, http.StatusTooManyRequests)
			return
		}
		podHandler(w, r)
	}))
	defer srv.Close()
	const throttle = 20 * time.Millisecond
	col := newCollector()
	cfg := Wrap(&rest.Config{
		Host:            srv.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})},
		RateLimiter:     slowLimiter{throttle},
	}, WithReporter(col))
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods("default").Get(TrackCall(t.Context()), "web-0", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	first, second := col.wait(t, 1), col.wait(t, 2)
	if first.StatusCode != 429 || first.Retries != 0 || first.ThrottleWait < throttle {
		t.Errorf("first attempt: status %d retries %d throttle %v", first.StatusCode, first.Retries, first.ThrottleWait)
	}
	if second.StatusCode != 200 || second.Retries != 1 || second.ThrottleWait < throttle {
		t.Errorf("retry: status %d retries %d throttle %v", second.StatusCode, second.Retries, second.ThrottleWait)
	}
	// Throttling happens before the transport: it is never in the phases.
	if second.Total >= throttle && second.Phases[PhaseConnWait] >= throttle {
		t.Errorf("throttle wait leaked into the phases: %v", second.Phases)
	}
	events.mu.Lock()
	if len(events.waits) != 2 || events.waits[0] != "get/pods/resource" {
		t.Errorf("rate limiter waits reported: %v", events.waits)
	}
	if len(events.retries) != 1 || events.retries[0] != "GET 200" {
		t.Errorf("retries reported: %v", events.retries)
	}
	events.mu.Unlock()

	// Without TrackCall the same call is measured, only not attributed.
	calls.Store(1)
	if _, err := cs.CoreV1().Pods("default").Get(t.Context(), "web-0", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if o := col.wait(t, 3); o.ThrottleWait != 0 || o.Retries != 0 || o.StatusCode != 200 {
		t.Errorf("untracked call: %+v", o)
	}
}

func TestClientGoMetricsOpts(t *testing.T) {
	events := &clientGoEvents{}
	o := ClientGoMetrics(events, WithMaxResources(1))
	if o.RequestLatency != nil || o.RequestResult != nil {
		t.Error("only the rate limiter and retry hooks are ours to fill")
	}
	u, _ := url.Parse("https://h/apis/apps/v1/namespaces/%7Bnamespace%7D/deployments/%7Bname%7D")
	o.RateLimiterLatency.Observe(t.Context(), "PUT", *u, time.Millisecond)
	o.RequestRetry.IncrementRetry(t.Context(), "<error>", "GET", "h")
	var _ metrics.LatencyMetric = o.RateLimiterLatency
	if events.waits[0] != "update/deployments.apps/resource" || events.retries[0] != "GET <error>" {
		t.Errorf("waits %v retries %v", events.waits, events.retries)
	}
}
