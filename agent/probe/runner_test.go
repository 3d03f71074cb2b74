package probe

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/kubepulse/kubepulse/agent/demo"
)

// runnerHarness runs a Runner on a fake clock against the simulated API
// server (real HTTPS, real client-go): every Step fires exactly one probe.
type runnerHarness struct {
	t       *testing.T
	clk     *testingclock.FakeClock
	results chan Result
}

func startRunner(t *testing.T, sim *demo.SimServer, known int) *runnerHarness {
	t.Helper()
	h := &runnerHarness{t: t, clk: testingclock.NewFakeClock(time.Unix(1_700_000_000, 0)), results: make(chan Result, 1)}
	cs := kubernetes.NewForConfigOrDie(sim.RestConfig())
	r, err := NewRunner(RunnerOptions{
		Client:     cs.CoreV1().RESTClient(),
		Target:     Target{Node: "demo-node", Namespace: "kubepulse"},
		Budget:     BudgetOptions{StartupSpread: time.Minute},
		KnownNodes: known,
		Clock:      h.clk,
		Rand:       rand.New(rand.NewPCG(1, 1)),
		OnResult:   func(res Result) { h.results <- res },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// next advances the fake clock to the runner's timer and returns the result
// of the probe that fired.
func (h *runnerHarness) next() Result {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !h.clk.HasWaiters() {
		if time.Now().After(deadline) {
			h.t.Fatal("runner is not waiting for its next probe")
		}
		time.Sleep(time.Millisecond)
	}
	h.clk.Step(time.Hour) // past any due time: fires the one pending timer
	select {
	case res := <-h.results:
		return res
	case <-time.After(10 * time.Second):
		h.t.Fatal("no probe result")
		return Result{}
	}
}

func TestRunnerAgainstSimulatedServer(t *testing.T) {
	sim := demo.NewSimServer(demo.SimOptions{ClusterNodes: 250, Seed: 1})
	defer sim.Close()
	h := startRunner(t, sim, 0)

	first := h.next()
	if first.Kind != ClusterList || first.Err != nil || first.Nodes != 250 {
		t.Fatalf("first probe = %+v, want %s counting 250 nodes", first, ClusterList)
	}
	perCycle, nodes := 3+2.0/6, 250.0
	wantInterval := time.Duration(nodes * perCycle / (DefaultClusterQPS * headroom) * float64(time.Second))
	if first.Interval != wantInterval {
		t.Errorf("interval at 250 nodes = %v, want %v", first.Interval, wantInterval)
	}

	seen := map[Kind]int{}
	for range 20 {
		res := h.next()
		if res.Err != nil || res.Code != http.StatusOK {
			t.Fatalf("%s: code %d, %v", res.Kind, res.Code, res.Err)
		}
		seen[res.Kind]++
	}
	if seen[NodeCached] != 6 || seen[PodsOnNode] != 6 || seen[Readyz] != 6 || seen[NodeQuorum] != 1 || seen[ClusterList] != 1 {
		t.Errorf("20 probes: %v", seen)
	}
	for e, want := range map[demo.Endpoint]int{demo.NodeCached: 6, demo.NodeQuorum: 1, demo.PodsList: 6, demo.Readyz: 6, demo.NodesList: 2} {
		if got := sim.Requests(e); got != want {
			t.Errorf("server saw %d %s requests, want %d (no hidden retries)", got, e, want)
		}
	}

	// Throttled: the runner backs off at least as long as Retry-After says.
	sim.SetFailure(http.StatusTooManyRequests, 2*time.Minute)
	res := h.next()
	if !res.Failed || res.Code != http.StatusTooManyRequests {
		t.Fatalf("throttled probe = %+v", res)
	}
	if wait := res.Next.Sub(res.At); wait < 2*time.Minute {
		t.Errorf("next probe after %v, want ≥ Retry-After 2m", wait)
	}

	// A 5xx without Retry-After: exponential backoff, growing.
	sim.SetFailure(http.StatusServiceUnavailable, 0)
	a, b := h.next(), h.next()
	if !a.Failed || !b.Failed || b.Next.Sub(b.At) <= wantInterval {
		t.Errorf("503s: backoff %v then %v, want above the interval %v", a.Next.Sub(a.At), b.Next.Sub(b.At), wantInterval)
	}
	sim.SetFailure(0, 0)
	if res := h.next(); res.Failed || res.Err != nil {
		t.Errorf("after recovery: %+v", res)
	}
}

func TestRunnerUnreachable(t *testing.T) {
	sim := demo.NewSimServer(demo.SimOptions{Seed: 2})
	h := startRunner(t, sim, 3)
	if res := h.next(); res.Err != nil {
		t.Fatalf("first probe: %v", res.Err)
	}
	sim.Close() // connection refused from now on
	var waits []time.Duration
	for range 4 {
		res := h.next()
		if !res.Failed || res.Code != 0 {
			t.Fatalf("probe to a stopped server = %+v, want a failure without status", res)
		}
		waits = append(waits, res.Next.Sub(res.At))
	}
	if waits[3] <= waits[0] {
		t.Errorf("backoff did not grow: %v", waits)
	}
}

func TestNewRunnerValidates(t *testing.T) {
	sim := demo.NewSimServer(demo.SimOptions{})
	defer sim.Close()
	c := kubernetes.NewForConfigOrDie(sim.RestConfig()).CoreV1().RESTClient()
	for _, tc := range []struct {
		o    RunnerOptions
		want string
	}{
		{RunnerOptions{Target: Target{Node: "n", Namespace: "ns"}}, "no client"},
		{RunnerOptions{Client: c, Target: Target{Namespace: "ns"}}, "NODE_NAME"},
		{RunnerOptions{Client: c, Target: Target{Node: "n"}}, "POD_NAMESPACE"},
		{RunnerOptions{Client: c, Target: Target{Node: "n", Namespace: "ns"}, Budget: BudgetOptions{ClusterQPS: -3}}, "clusterQPS"},
	} {
		if _, err := NewRunner(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewRunner: %v, want error naming %q", err, tc.want)
		}
	}
}
