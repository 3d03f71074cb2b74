package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Chromium is a headless Chromium (Debian's, from Tools' CHROMIUM) driven by
// chromedp, owned by one test: it stops when the test ends. Its methods fail
// the test on error, naming the URL and selector, so a test reads as a list
// of assertions:
//
//	b := framework.Browser(t)
//	text := b.Text(url, "#alerts")
//	b.Screenshot(url, framework.ArtifactPath(t, "status.png"))
//
// or, for several questions about one page:
//
//	p := b.Open(url)
//	n := p.Count("svg.chart path.band")
//
// Selectors are CSS selectors.
type Chromium struct {
	t       testing.TB
	tab     context.Context
	timeout time.Duration

	mu      sync.Mutex
	dialogs []string // JavaScript dialogs the pages opened
	opened  string   // last URL opened, for the failure screenshot
}

// BrowserOption changes how Browser starts Chromium.
type BrowserOption func(*browserConfig)

type browserConfig struct {
	width, height int
	noJS          bool
	timeout       time.Duration
}

// WindowSize sets the viewport (default 1280×900).
func WindowSize(width, height int) BrowserOption {
	return func(c *browserConfig) { c.width, c.height = width, height }
}

// NoJavaScript starts Chromium with scripts disabled, to show a page works
// without them. The test's own queries still run (through DevTools).
func NoJavaScript() BrowserOption {
	return func(c *browserConfig) { c.noJS = true }
}

// ActionTimeout bounds each navigation and query (default 30s).
func ActionTimeout(d time.Duration) BrowserOption {
	return func(c *browserConfig) { c.timeout = d }
}

// Browser starts a headless Chromium for t and stops it when t ends. If the
// test fails, a screenshot of the last page opened is saved in the artifacts
// directory (see ArtifactPath).
func Browser(t testing.TB, opts ...BrowserOption) *Chromium {
	t.Helper()
	cfg := browserConfig{width: 1280, height: 900, timeout: 30 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	exe := Tools(t)["CHROMIUM"]
	if exe == "" {
		t.Fatal("browser: install.sh printed no CHROMIUM path (run `make deps-e2e`)")
	}
	aopts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, no first-run UI
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // required as root; harmless otherwise
		chromedp.WindowSize(cfg.width, cfg.height),
		chromedp.Env("TMPDIR="+shortTempDir(t)), // Chromium leaves a socket dir in TMPDIR
	)
	if cfg.noJS {
		aopts = append(aopts, chromedp.Flag("blink-settings", "scriptEnabled=false"))
	}
	// The browser lives as long as root: cancelled when the test ends, never
	// by an action's timeout (a timeout on the first Run would stop it).
	root, stop := context.WithCancel(context.Background())
	actx, cancelAlloc := chromedp.NewExecAllocator(root, aopts...)
	tab, cancelTab := chromedp.NewContext(actx)
	b := &Chromium{t: t, tab: tab, timeout: cfg.timeout}
	t.Cleanup(func() {
		b.mu.Lock()
		opened := b.opened
		b.mu.Unlock()
		if t.Failed() && opened != "" {
			b.saveFailureScreenshot(opened)
		}
		cancelTab()
		cancelAlloc()
		stop()
	})
	start, cancel := context.WithTimeout(root, 60*time.Second)
	defer cancel()
	go func() { // bound the start without putting a deadline on the browser
		<-start.Done()
		if start.Err() == context.DeadlineExceeded {
			stop()
		}
	}()
	if err := chromedp.Do(tab, chromedp.EmulateViewport(int64(cfg.width), int64(cfg.height))); err != nil {
		t.Fatalf("browser: start %s: %v", exe, err)
	}
	cancel()
	if err := chromedp.Listen(tab, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(d.Type)+": "+d.Message)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("browser: listen for dialogs: %v", err)
	}
	return b
}

// shortTempDir is a temporary directory for t whose path stays short:
// Chromium's singleton socket lives in it, and a Unix socket path may not
// exceed 107 bytes, which t.TempDir() of a subtest with a long name does.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "chromium-")
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Page is the document of the browser's tab after Open. Opening another URL
// replaces it.
type Page struct {
	b   *Chromium
	URL string
}

// Open navigates to url and waits until its body is loaded.
func (b *Chromium) Open(url string) *Page {
	b.t.Helper()
	b.mu.Lock()
	b.opened = url
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.tab, b.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("body"))); err != nil {
		b.t.Fatalf("browser: open %s: %v", url, err)
	}
	return &Page{b: b, URL: url}
}

// Text opens url and returns the visible text of the first element matching
// sel, waiting for it to appear.
func (b *Chromium) Text(url, sel string) string {
	b.t.Helper()
	return b.Open(url).Text(sel)
}

// Screenshot opens url and saves a PNG of the whole page (beyond the
// viewport) to path, creating its directory.
func (b *Chromium) Screenshot(url, path string) {
	b.t.Helper()
	b.Open(url).Screenshot(path)
}

// Dialogs returns the JavaScript dialogs (alert, confirm, prompt) that pages
// opened: a page that escapes its data opens none.
func (b *Chromium) Dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.dialogs...)
}

// Resize sets the viewport, e.g. 390×844 for a phone; the page lays out again.
func (b *Chromium) Resize(width, height int) {
	b.t.Helper()
	b.do("resize", chromedp.EmulateViewport(int64(width), int64(height)))
}

func (b *Chromium) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.tab, b.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// Text returns the visible text (innerText) of the first element matching
// sel, waiting up to the action timeout for it to appear.
func (p *Page) Text(sel string) string {
	p.b.t.Helper()
	ctx, cancel := context.WithTimeout(p.b.tab, p.b.timeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.b.t.Fatalf("browser: text of %q on %s: %v", sel, p.URL, err)
	}
	return s
}

// Count returns how many elements match sel now (0 is an answer, not a
// wait).
func (p *Page) Count(sel string) int {
	p.b.t.Helper()
	ctx, cancel := context.WithTimeout(p.b.tab, p.b.timeout)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(sel), chromedp.AtLeast(0)))
	if err != nil {
		p.b.t.Fatalf("browser: count %q on %s: %v", sel, p.URL, err)
	}
	return len(nodes)
}

// Attr returns an attribute of the first element matching sel ("" if the
// element lacks it).
func (p *Page) Attr(sel, name string) string {
	p.b.t.Helper()
	ctx, cancel := context.WithTimeout(p.b.tab, p.b.timeout)
	defer cancel()
	attrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.CSS(sel)))
	if err != nil {
		p.b.t.Fatalf("browser: attributes of %q on %s: %v", sel, p.URL, err)
	}
	return attrs[name]
}

// Eval evaluates a JavaScript expression in the page (through DevTools, so
// it works with the page's scripts disabled) and decodes its JSON value into
// out.
func (p *Page) Eval(expr string, out any) {
	p.b.t.Helper()
	ctx, cancel := context.WithTimeout(p.b.tab, p.b.timeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		p.b.t.Fatalf("browser: evaluate on %s: %v\n%s", p.URL, err, expr)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		p.b.t.Fatalf("browser: evaluate on %s: decode %s: %v", p.URL, raw, err)
	}
}

// Screenshot saves a PNG of the whole page to path, creating its directory.
func (p *Page) Screenshot(path string) {
	p.b.t.Helper()
	if err := p.b.screenshot(path); err != nil {
		p.b.t.Fatalf("browser: screenshot of %s: %v", p.URL, err)
	}
}

func (b *Chromium) screenshot(path string) error {
	ctx, cancel := context.WithTimeout(b.tab, b.timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, png, 0o644)
}

func (b *Chromium) saveFailureScreenshot(url string) {
	path := ArtifactPath(b.t, "failed.png")
	if err := b.screenshot(path); err != nil {
		b.t.Logf("browser: no failure screenshot: %v", err)
		return
	}
	b.t.Logf("browser: screenshot of %s at failure: %s", url, path)
}

// ArtifactsDir is where tests keep files for people to look at (screenshots):
// test/e2e/artifacts, ignored by git. E2E_ARTIFACTS overrides it.
func ArtifactsDir() string {
	if d := os.Getenv("E2E_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "test", "e2e", "artifacts")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ArtifactPath returns a path in ArtifactsDir named after the test and name,
// e.g. TestStatusPage-phone.png for name "phone.png".
func ArtifactPath(t testing.TB, name string) string {
	base := unsafeName.ReplaceAllString(strings.ReplaceAll(t.Name(), "/", "-"), "_")
	return filepath.Join(ArtifactsDir(), fmt.Sprintf("%s-%s", base, name))
}
