package status

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// encode is what /api/v1/status writes for s, unfiltered.
func encode(t testing.TB, s Snapshot) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeJSON(&b, &s, filter{}, true); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Decoding what the API wrote and encoding it again gives the same bytes:
// no field is lost, and unknown numbers survive as null ⇄ NaN.
func TestJSONRoundTrip(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.name, func(t *testing.T) {
			first := encode(t, fx.snap())
			var s Snapshot
			if err := json.Unmarshal(first, &s); err != nil {
				t.Fatal(err)
			}
			if again := encode(t, s); !bytes.Equal(first, again) {
				t.Errorf("round trip changed the JSON:\n%s\n%s", first, again)
			}
		})
	}
}

func TestJSONUnknownNumbersAreNull(t *testing.T) {
	k := Key{Key: "k", Current: math.NaN(), Mean: math.Inf(1), Lower: math.Inf(-1), Upper: 0.02, SLO: math.NaN(),
		History: []Point{{Value: math.NaN(), Lower: 0.001, Upper: math.Inf(1)}}}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"current":null`, `"mean":null`, `"lower":null`, `"upper":0.02`, `"slo":null`, `"v":null`, `"lo":0.001`, `"hi":null`, `"score":0`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	var back Key
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(back.Current) || !math.IsNaN(back.Mean) || back.Upper != 0.02 || !math.IsNaN(back.History[0].Value) || back.History[0].Lower != 0.001 {
		t.Errorf("decoded %+v", back)
	}
	if b, _ := json.Marshal(Key{Key: "k"}); bytes.Contains(b, []byte(`"slo"`)) {
		t.Errorf("slo 0 is omitted: %s", b)
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"keys":[{"key":"k","current":"fast"}]}`, `Snapshot.keys.current`},
		{`{"keys":[{"history":[{"v":true}]}]}`, `v`},
		{`{"alerts":[{"z":"x"}]}`, `z`},
		{`{"budget":{"agentQPS":[]}}`, `agentQPS`},
		{`{"keys":[{"key":1}]}`, `key`},
	} {
		var s Snapshot
		err := json.Unmarshal([]byte(tt.in), &s)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("decode %s: error %v, want one naming %s", tt.in, err, tt.want)
		}
	}
}

// The names of the API's fields are a contract: this list changes only by
// adding names.
func TestJSONFieldNames(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(encode(t, fixtureFiring()), &m); err != nil {
		t.Fatal(err)
	}
	var firing any
	for _, k := range m["keys"].([]any) {
		if k.(map[string]any)["state"] == "firing" {
			firing = k
		}
	}
	names := func(v any) string {
		var out []string
		for k := range v.(map[string]any) {
			out = append(out, k)
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	for _, tt := range []struct {
		what string
		v    any
		want string
	}{
		{"snapshot", m, "alerts budget findings keys namespace node now pod ready splits started store version watch"},
		{"split", m["splits"].([]any)[0], "call connWait connect probe requests resource scope server throttle total transfer verb"},
		{"key", firing, "current firingSince history key lastSample lower mean minSamples p50 p95 p99 phase probe ratio resource samples scope score slo state upper verb z"},
		{"point", firing.(map[string]any)["history"].([]any)[0], "hi lo t v"},
		{"alert", m["alerts"].([]any)[0], "baseline current description labels name p99 ratio runbookURL samples severity since state summary z"},
		{"finding", m["findings"].([]any)[0], "advice evidence id severity since title"},
		{"budget", m["budget"], "agentQPS clusterQPS enabled failures interval lastProbe nextProbe nodes probesFailed probesSent"},
		{"watch", m["watch"], "enabled events lastDelay relists restarts"},
		{"store", m["store"], "evictions keys lastCheckpoint maxKeys overflow"},
	} {
		if got := names(tt.v); got != tt.want {
			t.Errorf("%s fields:\n got %s\nwant %s", tt.what, got, tt.want)
		}
	}
}

// FuzzSnapshotJSON decodes arbitrary input as a snapshot: it fails with an
// error or decodes into something the page renders and the API re-encodes.
func FuzzSnapshotJSON(f *testing.F) {
	for _, name := range []string{"firing", "hostile", "empty"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".json.golden"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"keys":[{"key":"k","history":[{"t":"2025-01-01T00:00:00Z","v":null,"lo":1e308,"hi":-1e308}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Snapshot
		if json.Unmarshal(b, &s) != nil {
			return
		}
		var page bytes.Buffer
		if err := Render(&page, s); err != nil {
			t.Fatalf("render: %v", err)
		}
		checkSVGs(t, page.String())
		first := encode(t, s)
		var again Snapshot
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatalf("re-decode: %v\n%s", err, first)
		}
	})
}

// FuzzQuery sends arbitrary query strings: each gets a page or a 400 that
// names a parameter, never a 500 or a panic.
func FuzzQuery(f *testing.F) {
	for _, q := range []string{"", "state=firing", "key=a&key=b&q=x", "refresh=5&history=false", "state=%ZZ", "verb=%3Cscript%3E", "refresh=99999"} {
		f.Add(q)
	}
	h := newTestHandler(f, fixtureFiring(), Options{})
	f.Fuzz(func(t *testing.T, q string) {
		for _, path := range []string{"/", "/api/v1/status"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.URL.RawQuery = q // as a client may send it, unparsed
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusOK:
			case http.StatusBadRequest:
				if !strings.Contains(rec.Body.String(), "query parameter") {
					t.Errorf("%s?%s: 400 without naming the parameter: %s", path, q, rec.Body)
				}
			default:
				t.Errorf("%s?%s: %d %s", path, q, rec.Code, rec.Body)
			}
		}
	})
}

// pointRef is a point as plain encoding/json writes it, with nil for the
// numbers JSON cannot hold: the reference for the hand-written appender.
type pointRef struct {
	T  time.Time `json:"t"`
	V  *float64  `json:"v"`
	Lo *float64  `json:"lo"`
	Hi *float64  `json:"hi"`
}

func ref(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// The hand-written encoder writes what encoding/json would: each point byte
// for byte, each snapshot value for value.
func TestJSONMatchesEncodingJSON(t *testing.T) {
	var all []Point
	for _, fx := range append(fixtures, struct {
		name string
		snap func() Snapshot
	}{"many", func() Snapshot { return fixtureMany(50) }}) {
		s := fx.snap()
		for _, k := range s.Keys {
			all = append(all, k.History...)
		}

		// Value for value: the snapshot against encoding/json's encoding of
		// the same data with the history as pointRefs.
		var got any
		if err := json.Unmarshal(encode(t, s), &got); err != nil {
			t.Fatal(err)
		}
		keys := []any{}
		sorted := slices.Clone(s.Keys)
		slices.SortFunc(sorted, func(a, b Key) int { return strings.Compare(a.Key, b.Key) })
		for _, k := range sorted {
			j := keyJSON{keyAlias: (*keyAlias)(&k)}
			copyOut(j.floats(&k))
			var m map[string]any
			mustRoundTrip(t, j, &m)
			hist := []pointRef{}
			for _, p := range k.History {
				hist = append(hist, pointRef{p.T, ref(p.Value), ref(p.Lower), ref(p.Upper)})
			}
			var h any
			mustRoundTrip(t, hist, &h)
			m["history"] = h
			keys = append(keys, m)
		}
		var want map[string]any
		c := s
		c.Keys = nil
		if c.Alerts == nil {
			c.Alerts = []Alert{}
		}
		if c.Findings == nil {
			c.Findings = []Finding{}
		}
		if c.Splits == nil {
			c.Splits = []Split{}
		}
		mustRoundTrip(t, snapshotJSON{snapshotAlias: (*snapshotAlias)(&c)}, &want)
		want["keys"] = keys
		if !reflect.DeepEqual(got, any(want)) {
			t.Errorf("%s: the API's JSON differs from encoding/json's", fx.name)
		}
	}

	all = append(all,
		Point{T: t0.Add(123456789), Value: 1e-7, Lower: 5e-324, Upper: 1e21},
		Point{T: t0.In(time.FixedZone("", -7*3600)), Value: math.Copysign(0, -1), Lower: 123456789.125, Upper: 0.1},
		Point{T: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), Value: 1e-6, Lower: 9.99e-7, Upper: 1e20},
	)
	for _, p := range all {
		got, err := p.appendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(pointRef{p.T, ref(p.Value), ref(p.Lower), ref(p.Upper)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("point %+v:\n got %s\nwant %s", p, got, want)
		}
	}
	if _, err := json.Marshal(Point{T: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("a point in the year 10000 encodes; encoding/json refuses such times")
	}
}

func mustRoundTrip(t *testing.T, v, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}
