package status

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Paths the handler serves, relative to where it is mounted.
const (
	PagePath = "/"
	APIPath  = "/api/v1/status"
)

// Defaults for Options.
const (
	DefaultMaxCharts = 50
	DefaultMaxRows   = 1000
	DefaultRefresh   = 10 * time.Second
)

// Options configure the handler. The zero value of each field but Source
// means its default.
type Options struct {
	// Source gives the snapshot each request renders (required).
	Source Source
	// Logger receives template errors, which are bugs; nothing is logged per
	// request. Default: discard.
	Logger *slog.Logger
	// MaxCharts caps the charts on the page (default 50): the most
	// interesting keys get a chart, the next ones a table row.
	MaxCharts int
	// MaxRows caps the table rows after the charts (default 1000); the JSON
	// API always has every key.
	MaxRows int
	// Refresh is how often the page reloads itself (a meta refresh, no
	// JavaScript); default 10s, negative disables. ?refresh=N overrides it.
	Refresh time.Duration
}

// Handler serves the status page at / and the snapshot as JSON at
// /api/v1/status. Both accept the same key filter in the query string:
// key (exact, repeatable), verb, resource, phase, state and q (a substring
// of the key). The page also takes refresh (seconds, 0 stops it); the JSON
// API takes history=false to leave out the chart points.
type Handler struct {
	o Options
}

// NewHandler returns a handler for o, or an error naming the bad option.
func NewHandler(o Options) (*Handler, error) {
	if o.Source == nil {
		return nil, errors.New("status: Options.Source: want a Source, got nil")
	}
	if o.MaxCharts < 0 {
		return nil, fmt.Errorf("status: Options.MaxCharts: want ≥ 0, got %d", o.MaxCharts)
	}
	if o.MaxRows < 0 {
		return nil, fmt.Errorf("status: Options.MaxRows: want ≥ 0, got %d", o.MaxRows)
	}
	if o.Refresh > 0 && o.Refresh < time.Second {
		return nil, fmt.Errorf("status: Options.Refresh: want ≥ 1s or negative (off), got %v", o.Refresh)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxCharts == 0 {
		o.MaxCharts = DefaultMaxCharts
	}
	if o.MaxRows == 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.Refresh == 0 {
		o.Refresh = DefaultRefresh
	}
	return &Handler{o: o}, nil
}

//go:embed page.html.tmpl
var pageTemplate string

//go:embed style.css
var pageCSS string

var (
	page = template.Must(template.New("page").Funcs(template.FuncMap{
		"add":  func(a, b float64) float64 { return a + b },
		"sub":  func(a, b float64) float64 { return a - b },
		"half": func(a float64) float64 { return a / 2 },
	}).Parse(pageTemplate))

	// contentSecurityPolicy allows nothing but the page's own stylesheet
	// (by hash), its inline SVG, and forms and links back to the agent: no
	// script can run even if some text escaped escaping.
	contentSecurityPolicy = func() string {
		h := sha256.Sum256([]byte(pageCSS))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) +
			"'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	}()

	buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "" {
		path = PagePath
	}
	if path != PagePath && path != APIPath {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	f, err := parseFilter(q)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 16<<20 { // 1,000 keys with history are ~9 MB; keep no more
			buffers.Put(buf)
		}
	}()

	var contentType string
	if path == APIPath {
		history, err := parseBool(q, "history", true)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s := h.o.Source.Snapshot()
		if err := writeJSON(buf, &s, f, history); err != nil {
			h.o.Logger.Error("status: encode snapshot", "err", err)
			http.Error(w, "cannot encode status", http.StatusInternalServerError)
			return
		}
		contentType = "application/json"
	} else {
		refresh, err := parseSeconds(q, "refresh", int(max(h.o.Refresh, 0)/time.Second), 3600)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s := h.o.Source.Snapshot()
		if err := h.render(buf, &s, f, refresh, q); err != nil {
			h.o.Logger.Error("status: render page", "err", err)
			http.Error(w, "cannot render status page", http.StatusInternalServerError)
			return
		}
		contentType = "text/html; charset=utf-8"
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("Referrer-Policy", "no-referrer")
	}
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Length", fmt.Sprint(buf.Len()))
	_, _ = w.Write(buf.Bytes()) // a client that went away is not an error worth a log line
}

// Render writes the status page for s to w. It is what the handler serves at
// / without a filter; use it to save a page to a file.
func Render(w io.Writer, s Snapshot) error {
	return renderPage(w, &s, filter{}, &Options{MaxCharts: DefaultMaxCharts, MaxRows: DefaultMaxRows}, 0, nil)
}

func (h *Handler) render(w io.Writer, s *Snapshot, f filter, refresh int, q url.Values) error {
	return renderPage(w, s, f, &h.o, refresh, q)
}

func renderPage(w io.Writer, s *Snapshot, f filter, o *Options, refresh int, q url.Values) error {
	p := buildPage(s, f, o, refresh)
	if refresh > 0 {
		p.StopRefresh = withParam(q, "refresh", "0")
	}
	if q.Has("refresh") {
		p.RefreshParam = q.Get("refresh")
	}
	if err := page.Execute(w, p); err != nil {
		return fmt.Errorf("execute page template: %w", err)
	}
	return nil
}

// withParam returns "?query" with one parameter set, the others kept.
func withParam(q url.Values, name, value string) string {
	c := make(url.Values, len(q)+1)
	for k, v := range q {
		c[k] = slices.Clone(v)
	}
	c.Set(name, value)
	return "?" + c.Encode()
}

// writeJSON writes the snapshot with the keys the filter selects, sorted by
// key so that the output is stable.
func writeJSON(w *bytes.Buffer, s *Snapshot, f filter, history bool) error {
	out := *s
	out.Keys = make([]Key, 0, len(s.Keys))
	for i := range s.Keys {
		if f.match(&s.Keys[i]) {
			k := s.Keys[i]
			switch {
			case !history:
				k.History = nil
			case k.History == nil:
				k.History = []Point{}
			}
			out.Keys = append(out.Keys, k)
		}
	}
	slices.SortFunc(out.Keys, func(a, b Key) int { return strings.Compare(a.Key, b.Key) })
	size := 4096
	for i := range out.Keys {
		size += 700 + 80*len(out.Keys[i].History) // measured: ~600 bytes a key, ~75 a point
	}
	w.Grow(size)
	b, err := appendSnapshot(w.AvailableBuffer(), &out)
	if err != nil {
		return fmt.Errorf("encode snapshot as JSON: %w", err)
	}
	w.Write(b)
	w.WriteByte('\n')
	return nil
}
