package alertmanager

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestNewAlert(t *testing.T) {
	a := NewAlert(KubeAPIUnreachable, Target{Node: "n1", Phase: "connect"},
		Numbers{Stat: "failed probes", Unit: Fraction, Current: 1, Reference: 0}, t0)
	if got := a.Labels; len(got) != 4 || got["alertname"] != "KubeAPIUnreachable" || got["severity"] != "critical" ||
		got["node"] != "n1" || got["phase"] != "connect" {
		t.Errorf("labels %v", got)
	}
	if s := a.Annotations["summary"]; s != "Kubernetes API unreachable on node n1 in phase connect" {
		t.Errorf("summary %q", s)
	}
	if d := a.Annotations["description"]; d != "failed probes 100% vs baseline 0%" {
		t.Errorf("description %q", d)
	}
	if !a.StartsAt.Equal(t0) {
		t.Errorf("startsAt %v", a.StartsAt)
	}
	if err := a.validate(); err != nil {
		t.Error(err)
	}
}

func TestSummarize(t *testing.T) {
	tg := Target{Node: "n1", Verb: "list", Resource: "pods", Phase: "server"}
	for name, want := range map[string]string{
		KubeAPILatencyDrift:     "list pods latency in phase server drifted above its baseline on node n1",
		KubeAPILatencySLOBreach: "list pods latency in phase server breaches its SLO on node n1",
		KubeAPIClientThrottled:  "client-side rate limiter delays list pods requests on node n1",
		KubeAPIErrorRateDrift:   "list pods error rate drifted above its baseline on node n1",
		KubeAPIUnreachable:      "Kubernetes API unreachable on node n1 in phase server",
		"Custom":                "Custom: list pods in phase server on node n1",
	} {
		if got := Summarize(name, tg); got != want {
			t.Errorf("Summarize(%s) = %q, want %q", name, got, want)
		}
	}
	if got := Summarize(KubeAPILatencyDrift, Target{}); got != "API latency drifted above its baseline" {
		t.Errorf("without target: %q", got)
	}
}

func TestSeverities(t *testing.T) {
	want := map[string]string{KubeAPILatencyDrift: "warning", KubeAPILatencySLOBreach: "critical",
		KubeAPIClientThrottled: "warning", KubeAPIErrorRateDrift: "warning", KubeAPIUnreachable: "critical"}
	for _, n := range Names() {
		if got := DefaultSeverity(n); got != want[n] {
			t.Errorf("DefaultSeverity(%s) = %s, want %s", n, got, want[n])
		}
	}
}

// Every alert's runbook_url points to a section of docs/alerts.md that exists,
// and that section has what an on-call engineer needs.
func TestRunbooksExist(t *testing.T) {
	doc := filepath.Join("..", "..", "docs", "alerts.md")
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sections := map[string]string{} // GitHub anchor → section text
	var current string
	heading := regexp.MustCompile(`^## (.+)$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := heading.FindStringSubmatch(sc.Text()); m != nil {
			current = githubAnchor(m[1])
			continue
		}
		if current != "" {
			sections[current] += sc.Text() + "\n"
		}
	}
	for _, name := range Names() {
		u := RunbookURL("", name)
		anchor := u[strings.Index(u, "#")+1:]
		text, ok := sections[anchor]
		if !ok {
			t.Errorf("%s: %s has no section #%s", name, doc, anchor)
			continue
		}
		for _, must := range []string{"Meaning", "Labels", "Investigate", "Likely causes", "What to do",
			"dns", "connect", "tls", "conn_wait", "server", "transfer", "kubepulse_"} {
			if !strings.Contains(text, must) {
				t.Errorf("%s: runbook section lacks %q", name, must)
			}
		}
	}
}

// githubAnchor is how GitHub turns a heading into an anchor: lower case,
// punctuation dropped, spaces to dashes.
func githubAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestRunbookURL(t *testing.T) {
	if got := RunbookURL("", KubeAPILatencyDrift); got != "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md#kubeapilatencydrift" {
		t.Error(got)
	}
	if got := RunbookURL("https://wiki/x", KubeAPIUnreachable); got != "https://wiki/x#kubeapiunreachable" {
		t.Error(got)
	}
}
