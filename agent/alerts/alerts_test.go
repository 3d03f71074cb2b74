package alerts

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/exporters/alertmanager"
)

type sinkCall struct {
	firing bool
	alert  alertmanager.Alert
	at     time.Time
}

type fakeSink struct {
	mu    sync.Mutex
	calls []sinkCall
}

func (f *fakeSink) Firing(a alertmanager.Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, sinkCall{firing: true, alert: a})
	return nil
}

func (f *fakeSink) Resolved(a alertmanager.Alert, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, sinkCall{alert: a, at: at})
	return nil
}

func TestManagerLifecycle(t *testing.T) {
	sink := &fakeSink{}
	var console strings.Builder
	m := New(Options{Node: "node-a", Sink: sink, Console: &console})
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	target := Target{Verb: "list", Resource: "pods", Phase: "server", Probe: "pods_list_node"}
	nums := alertmanager.Numbers{Stat: "ewma", Current: 0.016, Reference: 0.004, Z: 9.5, Samples: 120}

	m.Apply(Change{Name: alertmanager.KubeAPILatencyDrift, Target: target, Firing: true, At: t0, Numbers: nums, P99: 0.007})
	nums.Current = 0.02
	m.Apply(Change{Name: alertmanager.KubeAPILatencyDrift, Target: target, Firing: true, At: t0.Add(10 * time.Second), Numbers: nums})
	if !m.Firing(alertmanager.KubeAPILatencyDrift, target) {
		t.Fatal("not firing")
	}
	// A resolve of something that does not fire changes nothing.
	m.Apply(Change{Name: alertmanager.KubeAPIUnreachable, At: t0})

	st := m.Status(t0.Add(time.Minute))
	if len(st) != 1 || st[0].State != "firing" || st[0].Current != 0.02 || st[0].Ratio != 5 || !st[0].Since.Equal(t0) {
		t.Fatalf("status = %+v", st)
	}
	if st[0].Labels["probe"] != "pods_list_node" || st[0].Labels["node"] != "node-a" || st[0].Labels["phase"] != "server" {
		t.Errorf("labels = %v", st[0].Labels)
	}
	if !strings.Contains(st[0].RunbookURL, "#kubeapilatencydrift") {
		t.Errorf("runbook = %q", st[0].RunbookURL)
	}

	m.Apply(Change{Name: alertmanager.KubeAPILatencyDrift, Target: target, At: t0.Add(2 * time.Minute), Numbers: nums})
	if m.Firing(alertmanager.KubeAPILatencyDrift, target) {
		t.Fatal("still firing after resolve")
	}
	counts := m.Counts(t0.Add(3 * time.Minute))
	if counts[alertmanager.KubeAPILatencyDrift]["resolved"] != 1 || counts[alertmanager.KubeAPILatencyDrift]["firing"] != 0 ||
		len(counts) != len(alertmanager.Names()) {
		t.Errorf("counts = %v", counts)
	}
	if got := m.Counts(t0.Add(3 * time.Hour))[alertmanager.KubeAPILatencyDrift]["resolved"]; got != 0 {
		t.Errorf("resolved alert kept after KeepResolved: %d", got)
	}

	// Sink: fire, refresh (same labels, new numbers), resolve with its time.
	if len(sink.calls) != 3 || !sink.calls[0].firing || !sink.calls[1].firing || sink.calls[2].firing {
		t.Fatalf("sink calls = %+v", sink.calls)
	}
	if !sink.calls[2].at.Equal(t0.Add(2*time.Minute)) || !sink.calls[0].alert.StartsAt.Equal(t0) || !sink.calls[1].alert.StartsAt.Equal(t0) {
		t.Errorf("times: %+v", sink.calls)
	}
	if !strings.Contains(sink.calls[1].alert.Annotations["description"], "20ms") {
		t.Errorf("refresh did not carry the new numbers: %q", sink.calls[1].alert.Annotations["description"])
	}
	// The console shows the start and the end, not the refresh.
	if n := strings.Count(console.String(), "KubeAPILatencyDrift"); n != 2 || !strings.Contains(console.String(), "FIRING") ||
		!strings.Contains(console.String(), "RESOLVED") {
		t.Errorf("console:\n%s", console.String())
	}
}
