package alertmanager

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// decode parses items as the fake Alertmanager would.
func decode(t *testing.T, items []item) []posted {
	t.Helper()
	out := make([]posted, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it.body, &out[i]); err != nil {
			t.Fatalf("item %d: %v: %s", i, err, it.body)
		}
	}
	return out
}

// The resend schedule, step by step, on the store alone (no goroutines): what
// is due at each instant and with which endsAt.
func TestStoreSchedule(t *testing.T) {
	const resend = time.Minute
	s := newStore(Options{ResendInterval: resend, ResolvedResendWindow: 15 * time.Minute}.withDefaults())
	drift := alertNamed(KubeAPILatencyDrift)
	drift.StartsAt = t0.Add(-30 * time.Second)
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	type step struct {
		at      time.Duration
		action  func(now time.Time) bool // returns "send now"
		sendNow bool
		due     []string // "alertname endsAt-offset" of the due alerts
	}
	fire := func(a Alert) func(time.Time) bool { return func(now time.Time) bool { return s.firing(&a, now) } }
	resolve := func(a Alert, d time.Duration) func(time.Time) bool {
		return func(now time.Time) bool { return s.resolved(&a, at(d), now) }
	}
	steps := []step{
		{0, fire(drift), true, []string{"KubeAPILatencyDrift 4m0s"}},
		{10 * time.Second, fire(drift), false, nil}, // still firing: no extra send
		{59 * time.Second, nil, false, nil},
		{60 * time.Second, nil, false, []string{"KubeAPILatencyDrift 5m0s"}},
		{90 * time.Second, resolve(drift, 85*time.Second), true, []string{"KubeAPILatencyDrift 1m25s"}},
		{100 * time.Second, resolve(drift, 95*time.Second), false, nil}, // first resolution time is kept
		{150 * time.Second, nil, false, []string{"KubeAPILatencyDrift 1m25s"}},
		{(85 + 15*60) * time.Second, nil, false, []string{"KubeAPILatencyDrift 1m25s"}}, // last instant of the window
		{(85+15*60)*time.Second + 1, nil, false, nil},                                   // forgotten
	}
	for _, st := range steps {
		now := at(st.at)
		if st.action != nil {
			if got := st.action(now); got != st.sendNow {
				t.Errorf("at %v: send now = %v, want %v", st.at, got, st.sendNow)
			}
		}
		var due []string
		for _, p := range decode(t, s.due(now)) {
			due = append(due, fmt.Sprintf("%s %v", p.Labels[LabelAlertName], p.EndsAt.Sub(t0)))
			if !p.StartsAt.Equal(drift.StartsAt) {
				t.Errorf("at %v: startsAt %v, want %v", st.at, p.StartsAt, drift.StartsAt)
			}
		}
		if fmt.Sprint(due) != fmt.Sprint(st.due) {
			t.Errorf("at %v: due %v, want %v", st.at, due, st.due)
		}
	}
	if len(s.entries) != 0 {
		t.Errorf("%d entries left after the window", len(s.entries))
	}
}

func TestStoreResolvedUnknownAlert(t *testing.T) {
	s := newStore(Options{}.withDefaults())
	a := alertNamed(KubeAPIUnreachable)
	// The agent restarted: it resolves what fired before it stopped.
	if !s.resolved(&a, t0.Add(-time.Minute), t0) {
		t.Fatal("a recently resolved alert must be sent")
	}
	got := decode(t, s.due(t0))
	if len(got) != 1 || !got[0].EndsAt.Equal(t0.Add(-time.Minute)) || !got[0].StartsAt.Equal(got[0].EndsAt) {
		t.Errorf("resolved unknown alert sent as %+v", got)
	}
	// One that resolved before the window is not worth sending.
	old := alertNamed(KubeAPILatencyDrift)
	if s.resolved(&old, t0.Add(-16*time.Minute), t0) {
		t.Error("an alert resolved 16m ago was scheduled")
	}
	// endsAt never precedes startsAt (Alertmanager would reject the batch).
	b := alertNamed(KubeAPIClientThrottled)
	b.StartsAt = t0
	s.resolved(&b, t0.Add(-time.Second), t0)
	for _, p := range decode(t, s.due(t0)) {
		if p.EndsAt.Before(p.StartsAt) {
			t.Errorf("endsAt before startsAt: %+v", p)
		}
	}
}

func TestStoreLabelsAndAnnotations(t *testing.T) {
	s := newStore(Options{ExternalLabels: map[string]string{"cluster": "c1", "region": "eu"},
		RunbookBaseURL: "https://wiki.example/kubepulse", GeneratorURL: "http://agent:8080/"}.withDefaults())
	a := Alert{
		Labels:       map[string]string{LabelAlertName: KubeAPIUnreachable, "region": "us", LabelPhase: "", "cluster": ""},
		Annotations:  map[string]string{AnnotationSummary: "s"},
		GeneratorURL: "http://agent:8080/#x",
	}
	s.firing(&a, t0)
	custom := Alert{Labels: map[string]string{LabelAlertName: "MyOwnAlert"},
		Annotations: map[string]string{AnnotationRunbookURL: "https://mine"}}
	s.firing(&custom, t0)
	s.firing(&Alert{Labels: map[string]string{LabelAlertName: "NoRunbook"}}, t0)
	got := decode(t, s.due(t0))
	want := []string{
		// sorted by labels: "alertname" first, then its value
		`map[alertname:KubeAPIUnreachable region:us] map[runbook_url:https://wiki.example/kubepulse#kubeapiunreachable summary:s] http://agent:8080/#x`,
		`map[alertname:MyOwnAlert cluster:c1 region:eu] map[runbook_url:https://mine] http://agent:8080/`,
		`map[alertname:NoRunbook cluster:c1 region:eu] map[] http://agent:8080/`,
	}
	for i, p := range got {
		if line := fmt.Sprint(p.Labels, " ", p.Annotations, " ", p.GeneratorURL); i >= len(want) || line != want[i] {
			t.Errorf("alert %d: %s", i, line)
		}
	}
	// Updating a firing alert's annotations does not change its identity.
	a.Annotations = map[string]string{AnnotationSummary: "s2"}
	if s.firing(&a, t0.Add(time.Second)) {
		t.Error("new annotations must wait for the resend")
	}
	got = decode(t, s.due(t0.Add(time.Minute)))
	if got[0].Annotations[AnnotationSummary] != "s2" {
		t.Errorf("resend carries %v, want the new summary", got[0].Annotations)
	}
}

func TestEncodeFormat(t *testing.T) {
	s := newStore(Options{}.withDefaults())
	a := Alert{Labels: map[string]string{LabelAlertName: "X"}, StartsAt: t0.Add(1234567 * time.Microsecond).In(time.FixedZone("CET", 3600))}
	s.firing(&a, t0)
	got := string(s.due(t0)[0].body)
	want := `{"labels":{"alertname":"X"},"startsAt":"2026-03-01T12:00:01.234Z","endsAt":"2026-03-01T12:04:00.000Z"}`
	if got != want {
		t.Errorf("encoded\n%s\nwant\n%s", got, want)
	}
}

func TestEncodeBatchKeepsNewest(t *testing.T) {
	batch := []item{{"a", []byte(`{"a":1}`)}, {"b", []byte(`{"b":1}`)}, {"a", []byte(`{"a":2}`)}}
	body, n := encodeBatch(batch)
	if string(body) != `[{"b":1},{"a":2}]` || n != 2 {
		t.Errorf("encodeBatch = %s, %d", body, n)
	}
	if body, n := encodeBatch(nil); string(body) != "[]" || n != 0 {
		t.Errorf("empty batch = %s, %d", body, n)
	}
}
