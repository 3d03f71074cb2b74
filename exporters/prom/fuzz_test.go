package prom

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzBearerToken: any Authorization header gives a token without
// surrounding space, or none; never a panic.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer abc", "bearer  abc ", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "BEARER\ta", "Bearer a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.Header["Authorization"] = []string{header}
		tok, ok := bearerToken(r)
		if !ok {
			if tok != "" {
				t.Fatalf("%q: no token but %q", header, tok)
			}
			return
		}
		if tok == "" || tok != strings.TrimSpace(tok) {
			t.Fatalf("%q: token %q", header, tok)
		}
		if !strings.Contains(header, tok) || !strings.EqualFold(strings.TrimSpace(header)[:6], "bearer") {
			t.Fatalf("%q: token %q not from a Bearer header", header, tok)
		}
	})
}

// FuzzSafeURL: a url label never carries user info, a query or a fragment.
func FuzzSafeURL(f *testing.F) {
	for _, s := range []string{"http://am:9093", "https://u:p@am:9093/x?token=s#f", "am:9093", "//u@h", "http://[::1]:9093/a%2Fb", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := safeURL(raw)
		if got == "<unparsable URL>" {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("safeURL(%q) = %q does not parse: %v", raw, got, err)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("safeURL(%q) = %q keeps user info, query or fragment", raw, got)
		}
		if in, err := url.Parse(raw); err == nil && in.User != nil {
			if p, ok := in.User.Password(); ok && p != "" && strings.Contains(got, "@") && strings.Contains(got, p+"@") {
				t.Fatalf("safeURL(%q) = %q shows the password", raw, got)
			}
		}
	})
}
