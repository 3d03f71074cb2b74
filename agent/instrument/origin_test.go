package instrument

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestWithOriginNamesTheCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	defer srv.Close()
	var got []Observation
	rt := NewTransport(http.DefaultTransport, WithReporter(ReporterFunc(func(o Observation) { got = append(got, o) })))
	for _, ctx := range []context.Context{WithOrigin(context.Background(), "node_get_cached"), context.Background()} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/nodes/n1?resourceVersion=0", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if len(got) != 2 || got[0].Origin != "node_get_cached" || got[1].Origin != "" {
		t.Fatalf("origins = %q", []string{got[0].Origin, got[1].Origin})
	}
	if !got[0].Class.CacheRead || got[0].Key() != "get/nodes/resource" {
		t.Errorf("class = %+v key %q", got[0].Class, got[0].Key())
	}
}

// TestWatchWithCanceledContext: a watch whose context is already canceled
// ends through the context callback while RoundTrip runs; under -race this
// checks that the callback sees a fully started request, and that the
// request is reported exactly once.
func TestWatchWithCanceledContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	for range 50 {
		var reports int
		var mu sync.Mutex
		rt := NewTransport(http.DefaultTransport, WithReporter(ReporterFunc(func(Observation) { mu.Lock(); reports++; mu.Unlock() })))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/pods?watch=true", nil)
		if resp, err := rt.RoundTrip(req); err == nil {
			resp.Body.Close()
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := reports
			mu.Unlock()
			if n == 1 {
				break
			}
			if n > 1 || time.Now().After(deadline) {
				t.Fatalf("%d reports, want exactly 1", n)
			}
			time.Sleep(time.Millisecond)
		}
	}
}
