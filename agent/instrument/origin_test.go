package instrument

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWithOriginNamesTheCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "{}") }))
	defer srv.Close()
	var got []Observation
	rt := NewTransport(http.DefaultTransport, WithReporter(ReporterFunc(func(o Observation) { got = append(got, o) })))
	for _, ctx := range []context.Context{WithOrigin(context.Background(), "node_get_cached"), context.Background()} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/nodes/n1?resourceVersion=0", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if len(got) != 2 || got[0].Origin != "node_get_cached" || got[1].Origin != "" {
		t.Fatalf("origins = %q", []string{got[0].Origin, got[1].Origin})
	}
	if !got[0].Class.CacheRead || got[0].Key() != "get/nodes/resource" {
		t.Errorf("class = %+v key %q", got[0].Class, got[0].Key())
	}
}
