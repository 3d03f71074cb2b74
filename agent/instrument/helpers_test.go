package instrument

import (
	_ "embed"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

//go:embed testdata/pod.json
var podJSON []byte

// collector is a Reporter that keeps what it gets, for tests.
type collector struct {
	mu   sync.Mutex
	obs  []Observation
	more chan struct{} // a token per Report
}

func newCollector() *collector { return &collector{more: make(chan struct{}, 1024)} }

func (c *collector) Report(o Observation) {
	c.mu.Lock()
	c.obs = append(c.obs, o)
	c.mu.Unlock()
	c.more <- struct{}{}
}

func (c *collector) all() []Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Observation(nil), c.obs...)
}

// wait returns the n-th observation (from 1), waiting up to 10 s for it:
// some finish on another goroutine (a context ending a stream).
func (c *collector) wait(t *testing.T, n int) Observation {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if all := c.all(); len(all) >= n {
			return all[n-1]
		}
		select {
		case <-c.more:
		case <-deadline:
			t.Fatalf("observation %d did not arrive; have %d", n, len(c.all()))
		}
	}
}

// newTracing is an SDK tracer provider that samples everything and keeps
// ended spans in memory.
func newTracing(t testing.TB) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	return tp, rec
}

// podHandler answers with a small Pod, as kube-apiserver would.
func podHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(podJSON)
}

// get sends a GET through rt and reads and closes the body.
func get(t testing.TB, rt http.RoundTripper, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	_ = resp.Body.Close()
	return resp
}

// within reports whether got is within 10% or 2 ms of want.
func within(got, want time.Duration) bool {
	tol := max(want/10, 2*time.Millisecond)
	return got >= want-tol && got <= want+tol
}
