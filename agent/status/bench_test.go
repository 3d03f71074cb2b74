package status

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The page for a 1,000-key snapshot (120 points of history per key, 50
// charts, 950 table rows) against the JSON API for the same snapshot, in the
// same run. Recorded in BENCHMARKS.md.

func benchSnapshot(b *testing.B) Snapshot {
	b.Helper()
	return fixtureMany(1000)
}

func BenchmarkPage1000Keys(b *testing.B) {
	h := newTestHandler(b, benchSnapshot(b), Options{})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	benchServe(b, h, req)
}

func BenchmarkJSON1000Keys(b *testing.B) {
	h := newTestHandler(b, benchSnapshot(b), Options{})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/status", nil)
	benchServe(b, h, req)
}

func BenchmarkJSON1000KeysNoHistory(b *testing.B) {
	h := newTestHandler(b, benchSnapshot(b), Options{})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/status?history=false", nil)
	benchServe(b, h, req)
}

// The page for one key's filter: what an alert's link to its chart costs.
func BenchmarkPage1000KeysFiltered(b *testing.B) {
	h := newTestHandler(b, benchSnapshot(b), Options{})
	req := httptest.NewRequest(http.MethodGet, "/?state=firing", nil)
	benchServe(b, h, req)
}

// One chart's geometry.
func BenchmarkChart(b *testing.B) {
	k := fixtureFiring().Keys[0]
	in := chartInput{ID: "c", Name: "get nodes · tls", History: k.History, SLO: k.SLO}
	b.ReportAllocs()
	for b.Loop() {
		newChart(in)
	}
}

// discard is a ResponseWriter that keeps nothing, so the benchmark measures
// the handler, not a recorder's buffer.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func benchServe(b *testing.B, h http.Handler, req *http.Request) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s: %d", req.URL, rec.Code)
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(rec.Body.Len()), "bytes/response") // after the loop: b.Loop resets metrics
}

// The peer of the JSON API: encoding/json writing the same document from a
// mirror without Marshalers (unknown numbers as nil pointers). The mirror is
// built before the timer starts, so the peer's figure is a lower bound.
func BenchmarkJSON1000KeysEncodingJSON(b *testing.B) {
	s := benchSnapshot(b)
	type keyRef struct {
		keyJSON
		History []pointRef `json:"history"`
	}
	keys := make([]keyRef, len(s.Keys))
	for i := range s.Keys {
		k := &s.Keys[i]
		keys[i].keyJSON = keyJSON{keyAlias: (*keyAlias)(k)}
		copyOut(keys[i].floats(k))
		for _, p := range k.History {
			keys[i].History = append(keys[i].History, pointRef{p.T, ref(p.Value), ref(p.Lower), ref(p.Upper)})
		}
	}
	doc := struct {
		snapshotJSON
		Keys []keyRef `json:"keys"`
	}{snapshotJSON{snapshotAlias: (*snapshotAlias)(&s)}, keys}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(doc); err != nil {
		b.Fatal(err)
	}
	size := buf.Len()
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(doc)
	}
	b.ReportMetric(float64(size), "bytes/response")
}
