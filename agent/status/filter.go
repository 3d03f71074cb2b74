package status

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// filter selects keys by the query parameters that both the page and
// /api/v1/status accept. The zero filter selects every key.
type filter struct {
	Keys     []string // ?key= (repeatable): exact keys
	Verb     string   // ?verb=
	Resource string   // ?resource=
	Phase    string   // ?phase=
	State    string   // ?state=: learning, normal, pending or firing
	Query    string   // ?q=: a substring of the key
}

// States a key can be in, in the order the page lists them.
var states = []string{"firing", "pending", "normal", "learning"}

// maxParam bounds each query value: a filter is typed by a person or a script,
// never megabytes.
const maxParam = 1024

// parseFilter reads the filter parameters; unknown parameters are ignored so
// that links keep working when parameters are added.
func parseFilter(q url.Values) (filter, error) {
	var f filter
	for name, vs := range q {
		for _, v := range vs {
			if len(v) > maxParam {
				return filter{}, fmt.Errorf("query parameter %q: want at most %d bytes, got %d", name, maxParam, len(v))
			}
		}
	}
	for _, k := range q["key"] {
		if k != "" {
			f.Keys = append(f.Keys, k)
		}
	}
	f.Verb = q.Get("verb")
	f.Resource = q.Get("resource")
	f.Phase = q.Get("phase")
	f.Query = strings.TrimSpace(q.Get("q"))
	f.State = q.Get("state")
	if f.State != "" && !slices.Contains(states, f.State) {
		return filter{}, fmt.Errorf("query parameter \"state\": want one of %s, got %q", strings.Join(states, ", "), f.State)
	}
	return f, nil
}

// active reports whether the filter selects less than everything.
func (f filter) active() bool {
	return len(f.Keys) > 0 || f.Verb != "" || f.Resource != "" || f.Phase != "" || f.State != "" || f.Query != ""
}

// match reports whether k passes the filter.
func (f filter) match(k *Key) bool {
	switch {
	case len(f.Keys) > 0 && !slices.Contains(f.Keys, k.Key),
		f.Verb != "" && k.Verb != f.Verb,
		f.Resource != "" && k.Resource != f.Resource,
		f.Phase != "" && k.Phase != f.Phase,
		f.State != "" && k.State != f.State,
		f.Query != "" && !strings.Contains(k.Key, f.Query):
		return false
	}
	return true
}

// parseBool reads an optional boolean query parameter.
func parseBool(q url.Values, name string, def bool) (bool, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return def, fmt.Errorf("query parameter %q: want true or false, got %q", name, v)
	}
	return b, nil
}

// parseSeconds reads an optional whole number of seconds in [0, max].
func parseSeconds(q url.Values, name string, def, maxSeconds int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxSeconds {
		return def, fmt.Errorf("query parameter %q: want whole seconds from 0 to %d, got %q", name, maxSeconds, v)
	}
	return n, nil
}
