package status

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

var fixtures = []struct {
	name string
	snap func() Snapshot
}{
	{"firing", fixtureFiring},
	{"learning", fixtureLearning},
	{"resolved", fixtureResolved},
	{"empty", fixtureEmpty},
	{"hostile", fixtureHostile},
}

// get serves one request and returns the response.
func get(t testing.TB, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

func newTestHandler(t testing.TB, s Snapshot, o Options) *Handler {
	t.Helper()
	o.Source = SourceFunc(func() Snapshot { return s })
	if o.Refresh == 0 {
		o.Refresh = -1 // golden files do not depend on the default
	}
	h, err := NewHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d (run go test -update and review the diff):\n got: %.300s\nwant: %.300s", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs in length: got %d lines, want %d (run go test -update and review the diff)", path, len(gl), len(wl))
	}
}

func TestGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			h := newTestHandler(t, fx.snap(), Options{})
			page := get(t, h, "/")
			if page.Code != http.StatusOK {
				t.Fatalf("GET / = %d %s", page.Code, page.Body)
			}
			golden(t, fx.name+".html.golden", page.Body.Bytes())
			api := get(t, h, "/api/v1/status")
			if api.Code != http.StatusOK {
				t.Fatalf("GET /api/v1/status = %d %s", api.Code, api.Body)
			}
			golden(t, fx.name+".json.golden", api.Body.Bytes())
		})
	}
}

// doc parses a page; the tests below query it like a browser would.
type doc struct{ root *html.Node }

func parse(t testing.TB, b []byte) doc {
	t.Helper()
	n, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc{n}
}

func attr(n *html.Node, name string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, c string) bool {
	v, _ := attr(n, "class")
	return strings.Contains(" "+v+" ", " "+c+" ")
}

// all returns the elements under n (n included) for which match is true.
func all(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	if n.Type == html.ElementNode && match(n) {
		out = append([]*html.Node{n}, out...)
	}
	return out
}

func byID(d doc, id string) *html.Node {
	els := all(d.root, func(n *html.Node) bool { v, _ := attr(n, "id"); return v == id })
	if len(els) == 0 {
		return nil
	}
	return els[0]
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func tagClass(name, class string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name && hasClass(n, class) }
}

func withAttr(name, value string) func(*html.Node) bool {
	return func(n *html.Node) bool { v, ok := attr(n, name); return ok && v == value }
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func render(t testing.TB, s Snapshot, target string) doc {
	t.Helper()
	rec := get(t, newTestHandler(t, s, Options{}), target)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", target, rec.Code, rec.Body)
	}
	return parse(t, rec.Body.Bytes())
}

func TestPageFiring(t *testing.T) {
	d := render(t, fixtureFiring(), "/")
	if got := text(all(d.root, tag("title"))[0]); !strings.HasPrefix(got, "FIRING (1)") {
		t.Errorf("<title> = %q, want it to start with FIRING (1)", got)
	}
	alerts := byID(d, "alerts")
	cards := all(alerts, tag("article"))
	if len(cards) != 2 {
		t.Fatalf("alerts: %d cards, want 2", len(cards))
	}
	first := cards[0]
	for name, want := range map[string]string{"data-alert": "KubeAPILatencyDrift", "data-state": "firing", "data-phase": "tls",
		"data-key": "get/nodes/cluster/node_get_cached/tls"} {
		if v, _ := attr(first, name); v != want {
			t.Errorf("first alert %s = %q, want %q", name, v, want)
		}
	}
	for _, want := range []string{"16.9 ms", "4.2 ms", "4.02×", "11.6", "21.3 ms", "9120", "for 7m 10s", "Runbook"} {
		if !strings.Contains(text(first), want) {
			t.Errorf("firing alert card lacks %q: %s", want, text(first))
		}
	}
	if v, _ := attr(cards[1], "data-state"); v != "resolved" {
		t.Errorf("second alert state = %q, want resolved (firing first)", v)
	}

	keys := all(byID(d, "keys"), tagClass("article", "key"))
	if len(keys) != 11 {
		t.Fatalf("%d key charts, want 11", len(keys))
	}
	order := []string{}
	for _, k := range keys {
		v, _ := attr(k, "data-state")
		order = append(order, v)
	}
	if order[0] != "firing" || order[1] != "pending" {
		t.Errorf("key order by state = %v, want firing, pending first", order)
	}
	// The resolved alert's key comes right after: its chart shows the stretch.
	if v, _ := attr(keys[2], "data-key"); v != "get/nodes/cluster/node_get_quorum/server" {
		t.Errorf("third key = %q, want the one with the resolved alert", v)
	}
	for i, want := range []int{1, 0, 1} { // firing; pending; resolved alert
		if got := len(all(keys[i], tagClass("rect", "firing"))); got != want {
			t.Errorf("key %d (%s): %d firing stretches in its chart, want %d", i, order[i], got, want)
		}
	}
	for _, k := range keys {
		svg := all(k, tagClass("svg", "chart"))
		if len(svg) != 1 || len(all(svg[0], tagClass("path", "value"))) != 1 || len(all(svg[0], tag("title"))) == 0 {
			key, _ := attr(k, "data-key")
			t.Errorf("%s: want one chart with a value path and a title", key)
		}
	}
	if n := len(all(keys[0], tagClass("path", "band"))); n != 1 {
		t.Errorf("firing key: %d band paths, want 1", n)
	}
	if n := len(all(byID(d, "findings"), tag("article"))); n != 2 {
		t.Errorf("%d findings, want 2", n)
	}
	if got := text(byID(d, "verdict")); !strings.Contains(got, "1 alert firing") || !strings.Contains(got, "tls phase") {
		t.Errorf("verdict = %q", got)
	}
	if len(all(d.root, tag("script"))) != 0 {
		t.Error("page has a <script>")
	}
}

func TestPageStates(t *testing.T) {
	tests := []struct {
		name    string
		snap    Snapshot
		verdict string
		check   func(t *testing.T, d doc)
	}{
		{"learning", fixtureLearning(), "learning", func(t *testing.T, d doc) {
			bars := all(d.root, tag("progress"))
			if len(bars) != 5 {
				t.Fatalf("%d progress bars, want 5", len(bars))
			}
			if v, _ := attr(bars[0], "max"); v != "300" {
				t.Errorf("progress max = %q, want 300", v)
			}
			if !strings.Contains(text(byID(d, "keys")), "learning: 22 of 300 samples") {
				t.Error("learning progress text missing")
			}
		}},
		{"resolved", fixtureResolved(), "normal", func(t *testing.T, d doc) {
			a := all(byID(d, "alerts"), tag("article"))
			if len(a) != 1 || !strings.Contains(text(a[0]), "lasted 8m 20s") {
				t.Fatalf("resolved alert card: %v", a)
			}
			if len(all(byID(d, "keys"), tagClass("rect", "firing"))) != 1 {
				t.Error("the resolved stretch is not highlighted on the chart")
			}
		}},
		{"empty", fixtureEmpty(), "firing", func(t *testing.T, d doc) {
			if byID(d, "demo") == nil {
				t.Error("no demo banner")
			}
			if !strings.Contains(text(byID(d, "verdict")), "Not ready") {
				t.Error("verdict does not say not ready")
			}
			if !strings.Contains(text(byID(d, "keys")), "No calls measured yet") {
				t.Error("no empty-state text for keys")
			}
			if f := all(byID(d, "budget"), withAttr("data-field", "failures")); len(f) != 1 || !hasClass(f[0], "warn") {
				t.Error("failing probes are not flagged")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := render(t, tt.snap, "/")
			if v, _ := attr(byID(d, "verdict"), "data-verdict"); v != tt.verdict {
				t.Errorf("verdict = %q, want %q", v, tt.verdict)
			}
			tt.check(t, d)
		})
	}
}

// Hostile names must come out as text: no element, attribute or URL of the
// page may be theirs.
func TestPageEscapesHostileText(t *testing.T) {
	// Charts for all keys, then a table for all but one: both markups.
	for _, o := range []Options{{}, {MaxCharts: 1}} {
		t.Run("charts="+strconv.Itoa(o.MaxCharts), func(t *testing.T) { checkHostile(t, o) })
	}
}

func checkHostile(t *testing.T, o Options) {
	s := fixtureHostile()
	rec := get(t, newTestHandler(t, s, o), "/")
	body := rec.Body.String()
	d := parse(t, rec.Body.Bytes())
	for _, n := range all(d.root, func(*html.Node) bool { return true }) {
		switch n.Data {
		case "script", "img", "i":
			t.Errorf("hostile text became a <%s> element", n.Data)
		case "b": // the page's own <b>s carry a data-field
			if _, ok := attr(n, "data-field"); !ok {
				t.Errorf("hostile text became a <b> element: %q", text(n))
			}
		}
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s> has attribute %s=%q", n.Data, a.Key, a.Val)
			}
			if (a.Key == "href" || a.Key == "src") && strings.Contains(strings.ToLower(a.Val), "javascript:") {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
	}
	if n := len(all(d.root, tag("h1"))); n != 1 {
		t.Errorf("%d <h1> elements, want the page's own only", n)
	}
	// The key survives as data, exactly.
	for _, k := range []string{s.Keys[0].Key, s.Keys[3].Key} {
		if len(all(d.root, withAttr("data-key", k))) == 0 {
			t.Errorf("hostile key %q not found verbatim in a data-key attribute", k)
		}
	}
	if !strings.Contains(text(byID(d, "header")), s.Node) {
		t.Error("node name not shown as text")
	}
	for _, bad := range []string{"NaN", "Inf"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
}

// Past MaxCharts keys get table rows; past MaxRows they are counted.
func TestPageCaps(t *testing.T) {
	h := newTestHandler(t, fixtureMany(300), Options{MaxCharts: 10, MaxRows: 200})
	d := parse(t, get(t, h, "/").Body.Bytes())
	charts := all(byID(d, "keys"), tagClass("article", "key"))
	rows := all(byID(d, "key-table"), withAttr("data-state", "normal"))
	rows = append(rows, all(byID(d, "key-table"), withAttr("data-state", "learning"))...)
	if len(charts) != 10 {
		t.Errorf("%d charts, want 10", len(charts))
	}
	if len(all(byID(d, "key-table"), tag("tr"))) != 201 { // + header row
		t.Errorf("table rows = %d, want 200 + header", len(all(byID(d, "key-table"), tag("tr"))))
	}
	if !strings.Contains(text(byID(d, "key-table")), "90 not shown") {
		t.Errorf("caption = %q", text(all(d.root, tag("caption"))[0]))
	}
	for _, c := range charts[:4] { // 300 keys: 0, 97, 194, 291 fire
		if v, _ := attr(c, "data-state"); v != "firing" {
			t.Errorf("chart state %q among the first four, want firing", v)
		}
	}
	_ = rows
}
