//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubepulse/kubepulse/agent/status"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// StatusPageWant says what a status page must show. The fixture tests below
// fill it from a fixed snapshot; a test of the running agent or of
// `kubepulse demo` fills it from the drift it injected:
//
//	b := framework.Browser(t)
//	CheckStatusPage(t, b, "http://127.0.0.1:8080/", StatusPageWant{
//		Alert: "KubeAPILatencyDrift", Phase: "tls", MinCharts: 1})
type StatusPageWant struct {
	Alert     string   // an alert of this name must be firing ("": none required)
	Key       string   // the firing alert is about this key ("": not checked)
	Phase     string   // the firing alert names this phase ("": not checked)
	Findings  []string // finding IDs that must be listed
	MinCharts int      // at least this many charts with a band and a value line
}

// CheckStatusPage opens the status page at pageURL in b and asserts on its DOM
// what an on-call person relies on: the header, the verdict, the alerts with
// their numbers, the findings, and charts whose band and value line lie inside
// the chart. It turns auto-refresh off so that no reload races the queries.
func CheckStatusPage(t *testing.T, b *framework.Chromium, pageURL string, want StatusPageWant) *framework.Page {
	t.Helper()
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("refresh", "0")
	u.RawQuery = q.Encode()
	p := b.Open(u.String())

	if head := p.Text("#header h1"); !strings.HasPrefix(head, "kubepulse") {
		t.Errorf("header = %q, want kubepulse and the node", head)
	}
	if v := p.Text("#verdict"); v == "" {
		t.Error("no verdict line")
	}
	// The stylesheet is allowed by its hash in the Content-Security-Policy;
	// if the hash were wrong, the browser would render the page unstyled.
	var border string
	p.Eval(`getComputedStyle(document.querySelector('#verdict')).borderLeftWidth`, &border)
	if border != "6px" {
		t.Errorf("verdict border = %q, want 6px: the stylesheet did not apply (CSP hash?)", border)
	}

	if want.Alert != "" {
		sel := `#alerts article[data-alert="` + want.Alert + `"][data-state="firing"]`
		if p.Count(sel) == 0 {
			t.Fatalf("no firing %s in #alerts: %q", want.Alert, p.Text("#alerts"))
		}
		card := p.Text(sel)
		for _, field := range []string{"current", "baseline", "ratio", "z", "p99", "samples"} {
			if v := p.Text(sel + ` [data-field="` + field + `"]`); v == "" || v == "–" {
				t.Errorf("firing alert: %s = %q, want a number", field, v)
			}
		}
		if want.Phase != "" {
			if got := p.Attr(sel, "data-phase"); got != want.Phase {
				t.Errorf("firing alert phase = %q, want %q", got, want.Phase)
			}
			if !strings.Contains(card, "phase="+want.Phase) {
				t.Errorf("firing alert card does not show phase=%s: %q", want.Phase, card)
			}
		}
		if want.Key != "" {
			if got := p.Attr(sel, "data-key"); got != want.Key {
				t.Errorf("firing alert key = %q, want %q", got, want.Key)
			}
			// The key's chart comes first and shows the firing stretch.
			chart := `#keys article.key[data-key="` + want.Key + `"]`
			if p.Attr(`#keys article.key`, "data-key") != want.Key {
				t.Errorf("first chart is %q, want the firing key %q", p.Attr(`#keys article.key`, "data-key"), want.Key)
			}
			if p.Count(chart+` svg.chart rect.firing`) == 0 {
				t.Errorf("chart of %s does not highlight the firing stretch", want.Key)
			}
		}
	}
	for _, id := range want.Findings {
		if p.Count(`#findings article[data-finding="`+id+`"]`) != 1 {
			t.Errorf("finding %q not listed: %q", id, p.Text("#findings"))
		}
	}

	// Every chart's band and value line lie inside its viewBox, and charts
	// are drawn at a readable size.
	var charts []struct {
		Key   string
		W, H  float64
		VB    [4]float64
		Boxes map[string][4]float64
	}
	p.Eval(`[...document.querySelectorAll('#keys svg.chart')].map(s => {
		const vb = s.viewBox.baseVal, r = s.getBoundingClientRect(), boxes = {};
		for (const el of s.querySelectorAll('path.band, path.value')) {
			const b = el.getBBox(); boxes[el.getAttribute('class')] = [b.x, b.y, b.x + b.width, b.y + b.height];
		}
		return {key: s.closest('[data-key]').dataset.key, w: r.width, h: r.height, vb: [vb.x, vb.y, vb.width, vb.height], boxes};
	})`, &charts)
	full := 0
	for _, c := range charts {
		if c.W < 250 || c.H < 80 {
			t.Errorf("%s: chart drawn at %.0f×%.0f px, too small to read", c.Key, c.W, c.H)
		}
		for class, bb := range c.Boxes {
			if bb[0] < c.VB[0] || bb[1] < c.VB[1] || bb[2] > c.VB[0]+c.VB[2] || bb[3] > c.VB[1]+c.VB[3] {
				t.Errorf("%s: %s path spans %v, outside the viewBox %v", c.Key, class, bb, c.VB)
			}
		}
		if _, ok := c.Boxes["band"]; ok {
			if _, ok := c.Boxes["value"]; ok {
				full++
			}
		}
	}
	if full < want.MinCharts {
		t.Errorf("%d charts with a band and a value line, want at least %d", full, want.MinCharts)
	}
	if d := b.Dialogs(); len(d) > 0 {
		t.Errorf("the page opened JavaScript dialogs: %q", d)
	}
	return p
}

// serveSnapshot serves a status handler for s on a loopback port.
func serveSnapshot(t *testing.T, s status.Snapshot) string {
	t.Helper()
	h, err := status.NewHandler(status.Options{Source: status.SourceFunc(func() status.Snapshot { return s })})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// loadSnapshot reads a snapshot the status package's golden tests keep in
// JSON (what /api/v1/status served for that fixture), so the browser sees
// exactly the data the golden HTML was made from.
func loadSnapshot(t *testing.T, name string) status.Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(framework.RepoRoot(), "agent", "status", "testdata", name+".json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var s status.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// The status page of an agent with a firing TLS drift, a resolved alert and
// two findings, in a real Chromium: at desktop and phone width, screenshots
// kept in test/e2e/artifacts.
func TestStatusPageInChromium(t *testing.T) {
	u := serveSnapshot(t, loadSnapshot(t, "firing"))
	b := framework.Browser(t, framework.WindowSize(1280, 900))
	want := StatusPageWant{
		Alert: "KubeAPILatencyDrift", Key: "get/nodes/cluster/node_get_cached/tls", Phase: "tls",
		Findings: []string{"client-throttling", "slow-dns"}, MinCharts: 10,
	}
	p := CheckStatusPage(t, b, u, want)

	if got := p.Count(`#alerts article[data-state="resolved"]`); got != 1 {
		t.Errorf("%d resolved alerts shown, want 1", got)
	}
	if got := p.Count(`#keys article.key progress`); got != 1 {
		t.Errorf("%d learning progress bars, want 1", got)
	}
	if txt := p.Text(`#alerts article[data-state="firing"] .summary`); !strings.Contains(txt, "tls phase") {
		t.Errorf("firing alert summary = %q", txt)
	}
	for _, id := range []string{"budget", "watch", "store"} {
		if p.Count("#"+id+" dd") < 4 {
			t.Errorf("#%s shows %d facts, want at least 4", id, p.Count("#"+id+" dd"))
		}
	}
	p.Screenshot(framework.ArtifactPath(t, "desktop.png"))

	// A phone: one column, nothing wider than the screen.
	b.Resize(390, 844)
	p = b.Open(p.URL)
	var overflow struct{ Page, Screen float64 }
	p.Eval(`({page: document.documentElement.scrollWidth, screen: window.innerWidth})`, &overflow)
	if overflow.Page > overflow.Screen {
		t.Errorf("phone: page is %.0f px wide on a %.0f px screen (scrolls sideways)", overflow.Page, overflow.Screen)
	}
	var chartW float64
	p.Eval(`document.querySelector('#keys svg.chart').getBoundingClientRect().width`, &chartW)
	if chartW < 300 {
		t.Errorf("phone: first chart is %.0f px wide, want the full width", chartW)
	}
	p.Screenshot(framework.ArtifactPath(t, "phone.png"))
}

// With JavaScript disabled the page is the same page: it has no scripts.
func TestStatusPageWithoutJavaScript(t *testing.T) {
	u := serveSnapshot(t, loadSnapshot(t, "firing"))
	b := framework.Browser(t, framework.NoJavaScript())
	p := CheckStatusPage(t, b, u, StatusPageWant{Alert: "KubeAPILatencyDrift", Phase: "tls", MinCharts: 10})
	if n := p.Count("script"); n != 0 {
		t.Errorf("%d <script> elements", n)
	}
	// The filter is a plain form: submitting it is a GET.
	p = b.Open(u + "?state=pending&refresh=0")
	if got := p.Count("#keys article.key"); got != 1 {
		t.Errorf("state=pending: %d charts, want 1", got)
	}
	var got string
	p.Eval(`document.querySelector('select[name="state"]').value`, &got)
	if got != "pending" {
		t.Errorf("the filter form shows state %q, want pending", got)
	}
}

// Key names, labels and texts that try to inject markup stay text in a real
// browser: no dialog opens, the node's name reads as written.
func TestStatusPageHostileInChromium(t *testing.T) {
	s := loadSnapshot(t, "hostile")
	u := serveSnapshot(t, s)
	b := framework.Browser(t)
	p := b.Open(u + "?refresh=0")
	if got := p.Text("#header h1 .node"); got != s.Node {
		t.Errorf("node = %q, want %q as text", got, s.Node)
	}
	if n := p.Count("script, img, [onerror], [onload], [onclick], [onmouseover]"); n != 0 {
		t.Errorf("%d injected elements or handlers", n)
	}
	if d := b.Dialogs(); len(d) > 0 {
		t.Errorf("injected script ran: %q", d)
	}
	p.Screenshot(framework.ArtifactPath(t, "hostile.png"))
}

// KUBEPULSE_STATUS_URL points this test at a running agent or `kubepulse
// demo` (e.g. http://127.0.0.1:8080/); KUBEPULSE_STATUS_ALERT and
// KUBEPULSE_STATUS_PHASE name the alert that must be firing there.
func TestStatusPageLive(t *testing.T) {
	u := os.Getenv("KUBEPULSE_STATUS_URL")
	if u == "" {
		t.Skip("KUBEPULSE_STATUS_URL not set")
	}
	b := framework.Browser(t)
	p := CheckStatusPage(t, b, u, StatusPageWant{
		Alert: os.Getenv("KUBEPULSE_STATUS_ALERT"), Phase: os.Getenv("KUBEPULSE_STATUS_PHASE"), MinCharts: 1,
	})
	p.Screenshot(framework.ArtifactPath(t, "live.png"))
}
