package status

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestHandlerHTTP(t *testing.T) {
	h := newTestHandler(t, fixtureFiring(), Options{Refresh: 15e9})
	tests := []struct {
		method, target string
		code           int
		ctype, body    string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<meta http-equiv="refresh" content="15">`},
		{"GET", "/?refresh=0", 200, "text/html; charset=utf-8", "<title>"},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/api/v1/status", 200, "application/json", `"node":"worker-3"`},
		{"GET", "/api/v1/status?state=firing&history=false", 200, "application/json", `"history":null`},
		{"POST", "/", 405, "text/plain; charset=utf-8", "use GET"},
		{"GET", "/nope", 404, "text/plain; charset=utf-8", "not found"},
		{"GET", "/?state=broken", 400, "text/plain; charset=utf-8", `"state": want one of firing, pending, normal, learning, got "broken"`},
		{"GET", "/api/v1/status?history=maybe", 400, "text/plain; charset=utf-8", `"history": want true or false`},
		{"GET", "/?refresh=-1", 400, "text/plain; charset=utf-8", `"refresh": want whole seconds from 0 to 3600`},
		{"GET", "/?q=" + strings.Repeat("x", 2000), 400, "text/plain; charset=utf-8", `"q": want at most 1024 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target[:min(len(tt.target), 40)], func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
			if rec.Code != tt.code {
				t.Fatalf("code = %d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", ct, tt.ctype)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body lacks %q:\n%.400s", tt.body, rec.Body)
			}
			if tt.code == 200 && rec.Header().Get("Cache-Control") != "no-store" {
				t.Error("no Cache-Control: no-store")
			}
		})
	}
	rec := get(t, h, "/?refresh=0")
	if strings.Contains(rec.Body.String(), `http-equiv="refresh"`) {
		t.Error("?refresh=0 still refreshes")
	}
	if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'sha256-") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}

func TestFilter(t *testing.T) {
	h := newTestHandler(t, fixtureFiring(), Options{})
	tests := []struct {
		query string
		keys  []string
	}{
		{"state=firing", []string{"get/nodes/cluster/node_get_cached/tls"}},
		{"key=get/readyz/cluster/readyz/total&key=watch/leases/namespace//delivery", []string{"get/readyz/cluster/readyz/total", "watch/leases/namespace//delivery"}},
		{"verb=list&phase=server", []string{"list/nodes/cluster/nodes_list_limit/server", "list/pods/namespace/pods_list_node/server"}},
		{"q=quorum", []string{"get/nodes/cluster/node_get_quorum/server"}},
		{"resource=nothing", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			var s Snapshot
			rec := get(t, h, "/api/v1/status?"+tt.query)
			if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range s.Keys {
				got = append(got, k.Key)
			}
			if strings.Join(got, " ") != strings.Join(tt.keys, " ") {
				t.Errorf("JSON keys = %v, want %v", got, tt.keys)
			}
			d := render(t, fixtureFiring(), "/?"+tt.query)
			var page []string
			for _, n := range all(byID(d, "keys"), tagClass("article", "key")) {
				v, _ := attr(n, "data-key")
				page = append(page, v)
			}
			if len(page) != len(tt.keys) {
				t.Errorf("page shows %d keys, want %d", len(page), len(tt.keys))
			}
			if len(tt.keys) == 0 && !strings.Contains(text(byID(d, "keys")), "No key matches") {
				t.Error("no message for an empty filter result")
			}
		})
	}
}

func TestNewHandlerOptions(t *testing.T) {
	src := SourceFunc(func() Snapshot { return Snapshot{} })
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{}, "Options.Source"},
		{Options{Source: src, MaxCharts: -1}, "Options.MaxCharts"},
		{Options{Source: src, MaxRows: -1}, "Options.MaxRows"},
		{Options{Source: src, Refresh: 1e6}, "Options.Refresh"},
	} {
		if _, err := NewHandler(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewHandler(%+v) = %v, want an error naming %s", tt.o, err, tt.want)
		}
	}
}

// Requests run concurrently on one shared snapshot; the handler only reads
// it (the race detector would see a write), and the output does not change.
func TestHandlerConcurrent(t *testing.T) {
	s := fixtureFiring()
	h := newTestHandler(t, s, Options{})
	want := map[string]string{"/": get(t, h, "/").Body.String(), "/api/v1/status": get(t, h, "/api/v1/status").Body.String()}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				path := []string{"/", "/api/v1/status"}[(g+i)%2]
				if got := get(t, h, path).Body.String(); got != want[path] {
					t.Errorf("%s: concurrent response differs", path)
					return
				}
			}
		})
	}
	wg.Wait()
}
