package classify

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzParse: any method and request target gives a valid class whose labels
// hold nothing from the query string and no namespace.
func FuzzParse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.method, tc.target)
	}
	l := NewLimiter(5)
	f.Fuzz(func(t *testing.T, method, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		c := Request(method, u)
		if !c.Valid() {
			t.Fatalf("Request(%q, %q) = %+v: not valid", method, target, c)
		}
		lab := l.Labels(c)
		if lab.Verb != string(c.Verb) || lab.Scope != string(c.Scope) {
			t.Fatalf("labels %+v do not match class %+v", lab, c)
		}
		// The label comes from the resource fields alone (never the namespace,
		// name or query), or is Other.
		want := ResourceLabel(c.Group, c.Resource, c.Subresource)
		if c.NonResource {
			want = c.Resource
		}
		if lab.Resource != want && lab.Resource != Other {
			t.Fatalf("label %q, want %q or %q (class %+v)", lab.Resource, want, Other, c)
		}
		if strings.ContainsAny(lab.Resource, "?&=% {}") {
			t.Fatalf("label %q carries request data", lab.Resource)
		}
		if v, r, s, _, ok := SplitKey(lab.Key); !ok || v != lab.Verb || r != lab.Resource || s != lab.Scope {
			t.Fatalf("SplitKey(%q) does not round-trip: %q %q %q %v", lab.Key, v, r, s, ok)
		}
	})
}
