package alertmanager

import (
	"fmt"
	"testing"
	"time"
)

// What the detector pays on every evaluation of an alert that is already
// firing: the hot path, which must not allocate.
func BenchmarkFiringUnchanged(b *testing.B) {
	c, err := New(Options{ExternalLabels: map[string]string{"cluster": "prod-eu1"}})
	if err != nil {
		b.Fatal(err)
	}
	a := NewAlert(KubeAPILatencyDrift, Target{Node: "node-1", Verb: "list", Resource: "pods", Phase: "server"},
		Numbers{Stat: "p99", Current: 0.412, Reference: 0.12, Z: 5.2, Samples: 1200}, t0)
	_ = c.Firing(a)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Firing(a)
	}
}

// The same with new numbers in the description each time (the caller's
// Describe is not included).
func BenchmarkFiringNewNumbers(b *testing.B) {
	c, err := New(Options{ExternalLabels: map[string]string{"cluster": "prod-eu1"}})
	if err != nil {
		b.Fatal(err)
	}
	a := NewAlert(KubeAPILatencyDrift, Target{Node: "node-1", Verb: "list", Resource: "pods", Phase: "server"},
		Numbers{Stat: "p99", Current: 0.412, Reference: 0.12, Z: 5.2, Samples: 1200}, t0)
	descs := [2]map[string]string{
		{AnnotationSummary: "s", AnnotationDescription: "p99 412ms vs baseline 120ms"},
		{AnnotationSummary: "s", AnnotationDescription: "p99 413ms vs baseline 120ms"},
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Annotations = descs[i%2]
		i++
		_ = c.Firing(a)
	}
}

func BenchmarkDescribe(b *testing.B) {
	n := Numbers{Stat: "p99", Current: 0.412, Reference: 0.12, Z: 5.2, Samples: 1200, Window: 10 * time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		_ = Describe(n)
	}
}

// A resend pass over 1,000 firing alerts: encode each once for every replica.
func BenchmarkResendPass(b *testing.B) {
	s := newStore(Options{}.withDefaults())
	for i := range 1000 {
		a := alertNamed(KubeAPILatencyDrift, LabelResource, fmt.Sprintf("r%04d", i))
		s.firing(&a, t0)
	}
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Minute)
		if n := len(s.due(now)); n != 1000 {
			b.Fatal(n)
		}
	}
}
