package alertmanager

import (
	"encoding/json"
	"math"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var prometheusLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// An alert the Client accepts is one Alertmanager accepts: label names every
// version takes, valid UTF-8, and JSON that decodes back to the same labels.
func FuzzAlertAccepted(f *testing.F) {
	f.Add("node", "node-1", "summary", "p99 drift")
	f.Add("bad-name", "v", "description", "x")
	f.Add("_x9", "\xff", "runbook_url", "")
	f.Add("", "", "1a", "é")
	f.Fuzz(func(t *testing.T, name, value, annName, annValue string) {
		a := Alert{
			Labels:      map[string]string{LabelAlertName: "X", name: value},
			Annotations: map[string]string{annName: annValue},
		}
		if err := a.validate(); err != nil {
			return
		}
		if !prometheusLabelName.MatchString(name) || !prometheusLabelName.MatchString(annName) ||
			!utf8.ValidString(value) || !utf8.ValidString(annValue) {
			t.Fatalf("accepted %q=%q, annotation %q=%q", name, value, annName, annValue)
		}
		s := newStore(Options{}.withDefaults())
		s.firing(&a, t0)
		items := s.due(t0)
		var got postableAlert
		if err := json.Unmarshal(items[0].body, &got); err != nil {
			t.Fatalf("%s: %v", items[0].body, err)
		}
		if value != "" && got.Labels[name] != value || value == "" && name != LabelAlertName && got.Labels[name] != "" {
			t.Fatalf("label %q=%q came back as %q", name, value, got.Labels[name])
		}
		if _, err := time.Parse(time.RFC3339, got.EndsAt); err != nil {
			t.Fatalf("endsAt %q: %v", got.EndsAt, err)
		}
	})
}

// URLs: never a panic; what is accepted is an http(s) base URL; the password
// of a refused URL never shows in the error (the unparsable case is in
// TestNewValidation).
func FuzzURLs(f *testing.F) {
	f.Add("http://am:9093")
	f.Add("https://user:hunter2@am:9093/x")
	f.Add("https://user:hunter2@am:po rt")
	f.Add("htp://x")
	f.Add("http://[::1]:9093/prefix/")
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := normalizeURLs([]string{raw})
		if err != nil {
			if u, perr := url.Parse(raw); perr == nil {
				if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), ":"+pw+"@") {
					t.Fatalf("error reveals the password %q: %v", pw, err)
				}
			}
			return
		}
		u, perr := url.Parse(out[0])
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Fatalf("accepted %q as %q (%v)", raw, out[0], perr)
		}
		if p := newReplica(out[0], 1).postURL; !strings.HasSuffix(p, "/api/v2/alerts") {
			t.Fatalf("%q: posts to %q", raw, p)
		}
	})
}

// Describe prints numbers, never NaN, Inf or exponents, whatever it gets.
func FuzzDescribe(f *testing.F) {
	f.Add(0.412, 0.12, 5.2, 0.0, 1200, uint8(0))
	f.Add(math.NaN(), math.Inf(1), math.Inf(-1), math.NaN(), -1, uint8(1))
	f.Add(1e300, 1e-300, 0.0, 0.0, 0, uint8(2))
	f.Fuzz(func(t *testing.T, cur, ref, z, ratio float64, samples int, unit uint8) {
		s := Describe(Numbers{Stat: "p99", Unit: Unit(unit % 3), Current: cur, Reference: ref, Z: z, Ratio: ratio, Samples: samples})
		for _, bad := range []string{"NaN", "Inf", "e+", "e-"} {
			if strings.Contains(s, bad) {
				t.Fatalf("Describe printed %q", s)
			}
		}
	})
}
