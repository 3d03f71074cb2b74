package demo

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/agent/instrument"
)

// classes records the class and status of every request it sees.
type classes struct {
	mu    sync.Mutex
	codes map[string]int // class key → last status code
}

func (c *classes) Report(o instrument.Observation) {
	if o.Error == instrument.ErrCanceled {
		return // the test ended the load mid-request
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.codes[o.Labels.Key] = o.StatusCode
}

func (c *classes) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.codes))
	for k, v := range c.codes {
		out[k] = v
	}
	return out
}

// Every class the load sends is a distinct class to the instrumentation,
// none folded into "other", and the simulated server answers each with
// success.
func TestRunLoadSendsDistinctClasses(t *testing.T) {
	sim := NewSimServer(SimOptions{Latencies: map[Endpoint]Latency{Load: {Median: 100 * time.Microsecond}}})
	defer sim.Close()
	rec := &classes{codes: map[string]int{}}
	rc := instrument.Wrap(sim.RestConfig(), instrument.WithReporter(rec))
	const n = 250
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunLoad(ctx, rc, LoadOptions{Classes: n, Period: 500 * time.Millisecond, Namespace: "kubepulse"})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for len(rec.snapshot()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := rec.snapshot()
	if len(got) != n {
		t.Fatalf("%d distinct classes, want %d: %v", len(got), n, got)
	}
	verbs := map[string]bool{}
	for key, code := range got {
		if code != 200 {
			t.Errorf("%s answered %d", key, code)
		}
		if strings.Contains(key, "/other/") || !strings.Contains(key, "."+LoadGroup+"/") {
			t.Errorf("class %s is not a load class", key)
		}
		verbs[strings.SplitN(key, "/", 2)[0]] = true
	}
	// 250 classes: GETs and namespaced and cluster-wide LISTs of 100 resources.
	if len(verbs) != 2 || !verbs["get"] || !verbs["list"] {
		t.Errorf("verbs %v, want get and list", verbs)
	}
	if sim.Requests(Load) < n {
		t.Errorf("the server answered %d load requests, want ≥ %d", sim.Requests(Load), n)
	}
}

// Writes too: every shape of call gets a valid answer.
func TestRunLoadEveryShape(t *testing.T) {
	sim := NewSimServer(SimOptions{Latencies: map[Endpoint]Latency{Load: {Median: 50 * time.Microsecond}}})
	defer sim.Close()
	rec := &classes{codes: map[string]int{}}
	rc := instrument.Wrap(sim.RestConfig(), instrument.WithReporter(rec))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunLoad(ctx, rc, LoadOptions{Classes: MaxLoadClasses, Period: 700 * time.Millisecond}) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(rec.snapshot()) < MaxLoadClasses && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := rec.snapshot()
	verbs := map[string]int{}
	for key, code := range got {
		if code < 200 || code > 299 {
			t.Errorf("%s answered %d", key, code)
		}
		verbs[strings.SplitN(key, "/", 2)[0]]++
	}
	want := map[string]int{"get": 100, "list": 200, "create": 100, "update": 100, "patch": 100, "delete": 100}
	for v, n := range want {
		if verbs[v] != n {
			t.Errorf("%d %s classes, want %d (all: %v)", verbs[v], v, n, verbs)
		}
	}
}

func TestRunLoadValidates(t *testing.T) {
	for _, n := range []int{0, -1, MaxLoadClasses + 1} {
		if err := RunLoad(context.Background(), nil, LoadOptions{Classes: n}); err == nil || !strings.Contains(err.Error(), "load classes") {
			t.Errorf("Classes %d: err = %v, want one naming load classes", n, err)
		}
	}
}
