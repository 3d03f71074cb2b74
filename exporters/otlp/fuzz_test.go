package otlp

import (
	"strings"
	"testing"
)

// Header values are secrets: whatever the input, a value never appears in an
// error, and what parses is what the exporter can send.
func FuzzParseHeaders(f *testing.F) {
	for _, s := range []string{"a=b", "a=b,c", "authorization=Bearer%20x,", "bad key=v", "k=%zz", "k=a%2Cb, x = y ,", "=v", "k=\x01"} {
		f.Add(s, "s3cr3t-token")
	}
	f.Fuzz(func(t *testing.T, list, secret string) {
		h, err := parseHeaders("H", list)
		if err == nil {
			for k, v := range h {
				if !validHeaderKey(k) || strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("parseHeaders(%q) accepted %q=%q", list, k, v)
				}
			}
		}
		// A marked secret put in a value position must not leak.
		marked := "Z" + secret + "Z"
		if strings.Contains(list, marked) {
			return
		}
		in := "k=" + marked + "," + list
		if _, err := parseHeaders("H", in); err != nil && strings.Contains(err.Error(), marked) {
			t.Fatalf("parseHeaders(%q) error reveals the value: %v", in, err)
		}
	})
}

// Endpoints: what parses is an http(s) URL with a host; errors never show
// the user:password part.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"http://c:4318", "collector:4317", "https://u:p@c:99999", "http:///x", "http://bad host", "https://c/v1?x=1", "unix:///sock", "//c:1"} {
		f.Add(s, "", "hunter2")
	}
	f.Fuzz(func(t *testing.T, endpoint, prefix, secret string) {
		if u, err := parseEndpoint("E", endpoint); err == nil {
			if s := strings.ToLower(u.Scheme); (s != "http" && s != "https") || u.Hostname() == "" {
				t.Fatalf("parseEndpoint(%q) accepted scheme %q host %q", endpoint, u.Scheme, u.Host)
			}
		}
		marked := "Z" + secret + "Z"
		if strings.Contains(endpoint, marked) || strings.Contains(prefix, marked) {
			return
		}
		in := prefix + "//u:" + marked + "@" + endpoint
		if _, err := parseEndpoint("E", in); err != nil && strings.Contains(err.Error(), marked) {
			t.Fatalf("parseEndpoint(%q) error reveals credentials: %v", in, err)
		}
	})
}

// OTEL_RESOURCE_ATTRIBUTES: never a panic; accepted lists have keys.
func FuzzParseResourceAttrs(f *testing.F) {
	for _, s := range []string{"a=b", "a=b,c", "=x", "k=%zz", "k8s.node.name=n1, a = b ,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		if parseResourceAttrs("R", list) != nil {
			return
		}
		for _, e := range strings.Split(list, ",") {
			if strings.TrimSpace(e) == "" {
				continue
			}
			if k, _, ok := strings.Cut(e, "="); !ok || strings.TrimSpace(k) == "" {
				t.Fatalf("accepted entry %q of %q", e, list)
			}
		}
	})
}
