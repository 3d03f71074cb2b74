package status_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/kubepulse/kubepulse/agent/status"
)

// The agent mounts the handler on its HTTP port next to /metrics; every
// request renders the Source's current snapshot.
func ExampleNewHandler() {
	now := time.Date(2025, 3, 14, 3, 20, 0, 0, time.UTC)
	src := status.SourceFunc(func() status.Snapshot {
		return status.Snapshot{
			Node: "worker-3", Version: "v0.4.0", Started: now.Add(-time.Hour), Now: now, Ready: true,
			Keys: []status.Key{{
				Key: "get/nodes/cluster/node_get_cached/server", Verb: "get", Resource: "nodes", Phase: "server",
				State: "learning", Samples: 12, MinSamples: 300, Current: 0.0021,
				Mean: math.NaN(), // not known yet: null in JSON
			}},
		}
	})
	h, err := status.NewHandler(status.Options{Source: src})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h) // the page at /, JSON at /api/v1/status
	// mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/status?state=learning&history=false", nil))
	var got struct {
		Node string
		Keys []struct {
			Key, State string
			Samples    int
			MinSamples int
			Current    float64
			Mean       *float64
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		panic(err)
	}
	k := got.Keys[0]
	fmt.Println(rec.Header().Get("Content-Type"))
	fmt.Println(got.Node, k.Key, k.State, k.Samples, "of", k.MinSamples)
	fmt.Println("current", k.Current, "mean known:", k.Mean != nil)
	// Output:
	// application/json
	// worker-3 get/nodes/cluster/node_get_cached/server learning 12 of 300
	// current 0.0021 mean known: false
}
