package classify

import (
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultMaxResources is how many distinct resource label values beyond the
// built-in Kubernetes ones (CRDs, aggregated APIs, unknown paths) a Limiter
// keeps before it folds the rest into Other.
const DefaultMaxResources = 100

// Labels is a class as it appears on metrics and spans: bounded, interned
// strings. Building them allocates only the first time a class is seen.
type Labels struct {
	Verb     string // Class.Verb
	Resource string // "pods", "pods/status", "deployments.apps", "deployments.apps/scale", "healthz", "other"
	Scope    string // Class.Scope
	// Key is "verb/resource/scope", e.g. "get/pods/resource" or
	// "list/deployments.apps/namespace": the stable prefix of baseline keys.
	// Split it with SplitKey: Resource may itself hold one '/'.
	Key string
	// SpanName is "verb resource", e.g. "list deployments.apps".
	SpanName string
}

// SplitKey splits a Labels.Key, optionally followed by "/suffix" parts the
// caller appended (e.g. "patch/pods/status/resource/server"), into verb,
// resource, scope and the rest ("server"). The resource holds at most one '/'
// (its subresource), so the scope is the second or third field after the verb.
func SplitKey(key string) (verb, resource, scope, rest string, ok bool) {
	verb, after, ok := strings.Cut(key, "/")
	if !ok {
		return "", "", "", "", false
	}
	res, after, ok := strings.Cut(after, "/")
	if !ok || res == "" {
		return "", "", "", "", false
	}
	field, tail, _ := strings.Cut(after, "/")
	if isScope(field) {
		return verb, res, field, tail, true
	}
	scope, tail, _ = strings.Cut(tail, "/")
	if field == "" || !isScope(scope) {
		return "", "", "", "", false
	}
	return verb, res + "/" + field, scope, tail, true
}

func isScope(s string) bool {
	return s == string(ScopeResource) || s == string(ScopeNamespace) || s == string(ScopeCluster)
}

// Limiter bounds and interns label values. The first max distinct resources
// outside the built-in Kubernetes API are kept; later ones fold into Other
// (counted by Overflows). Built-in resources are always kept.
//
// Labels is safe for concurrent use and takes no lock once a class has been
// seen: lookups read an immutable map through an atomic pointer, and the rare
// insert copies it under a mutex. Share one Limiter between every transport
// that feeds the same metrics, so the cap holds for all of them.
type Limiter struct {
	max       int
	mu        sync.Mutex                         // serialises inserts
	labels    atomic.Pointer[map[string]*Labels] // verb|scope|group|resource|subresource → labels
	resources atomic.Pointer[map[string]string]  // group|resource|subresource → label value
	extra     atomic.Int64                       // resources kept beyond the built-in ones
	overflows atomic.Uint64
	other     [len(verbIndex)][3]*Labels // folded labels, per verb and scope
}

// verbIndex numbers the verbs for the folded-labels table.
var verbIndex = [...]Verb{VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbPatch, VerbApply,
	VerbDelete, VerbDeleteCollection, VerbConnect, VerbOther}

// NewLimiter returns a Limiter that keeps max resources beyond the built-in
// ones; max <= 0 means DefaultMaxResources.
func NewLimiter(max int) *Limiter {
	if max <= 0 {
		max = DefaultMaxResources
	}
	l := &Limiter{max: max}
	res := make(map[string]string, len(builtin))
	for k, v := range builtin {
		res[k] = v
	}
	l.resources.Store(&res)
	lab := make(map[string]*Labels)
	l.labels.Store(&lab)
	for vi, v := range verbIndex {
		for si, s := range Scopes {
			l.other[vi][si] = newLabels(v, Other, s)
		}
	}
	return l
}

// Max is the number of non-built-in resources the Limiter keeps.
func (l *Limiter) Max() int { return l.max }

// Overflows counts the lookups that were folded into Other because the cap
// was reached.
func (l *Limiter) Overflows() uint64 { return l.overflows.Load() }

func newLabels(v Verb, resource string, s Scope) *Labels {
	return &Labels{
		Verb:     string(v),
		Resource: resource,
		Scope:    string(s),
		Key:      string(v) + "/" + resource + "/" + string(s),
		SpanName: string(v) + " " + resource,
	}
}

// maxKey bounds the lookup key; longer classes (a 253-byte group) fold into
// Other rather than allocate.
const maxKey = 256

// Labels returns the bounded labels of c. It allocates nothing once c's
// verb, scope and resource have been seen.
func (l *Limiter) Labels(c Class) Labels {
	if c.NonResource { // discovery of any group is one label
		c.Group, c.Subresource = "", ""
	}
	var buf [maxKey]byte
	n, ok := appendKey(&buf, 0, string(c.Verb), string(c.Scope), c.Group, c.Resource, c.Subresource)
	if ok {
		if lab, hit := (*l.labels.Load())[string(buf[:n])]; hit {
			return *lab
		}
	}
	return *l.slow(c, ok, buf[:n])
}

// slow handles a class not seen before: decide its resource label, then
// intern the labels. Folded classes never take the lock once the cap is hit.
func (l *Limiter) slow(c Class, keyOK bool, key []byte) *Labels {
	folded := l.folded(c)
	if !keyOK || c.Resource == Other {
		return folded
	}
	var rbuf [maxKey]byte
	rn, ok := appendKey(&rbuf, 0, c.Group, c.Resource, c.Subresource)
	if !ok {
		return folded
	}
	label, known := (*l.resources.Load())[string(rbuf[:rn])]
	if !known && l.extra.Load() >= int64(l.max) {
		l.overflows.Add(1)
		return folded
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	labels := *l.labels.Load()
	if lab, hit := labels[string(key)]; hit { // another goroutine won
		return lab
	}
	if !known {
		res := *l.resources.Load()
		if label, known = res[string(rbuf[:rn])]; !known {
			if l.extra.Load() >= int64(l.max) {
				l.overflows.Add(1)
				return folded
			}
			label = ResourceLabel(c.Group, c.Resource, c.Subresource)
			next := make(map[string]string, len(res)+1)
			for k, v := range res {
				next[k] = v
			}
			next[string(rbuf[:rn])] = label
			l.resources.Store(&next)
			l.extra.Add(1)
		}
	}
	lab := newLabels(c.Verb, label, c.Scope)
	next := make(map[string]*Labels, len(labels)+1)
	for k, v := range labels {
		next[k] = v
	}
	next[string(key)] = lab
	l.labels.Store(&next)
	return lab
}

func (l *Limiter) folded(c Class) *Labels {
	vi := len(verbIndex) - 1 // VerbOther
	for i, v := range verbIndex {
		if v == c.Verb {
			vi = i
			break
		}
	}
	si := 2
	for i, s := range Scopes {
		if s == c.Scope {
			si = i
		}
	}
	return l.other[vi][si]
}

// appendKey writes parts separated by '|' into buf from n; ok is false when
// they do not fit.
func appendKey(buf *[maxKey]byte, n int, parts ...string) (int, bool) {
	for i, p := range parts {
		if i > 0 {
			if n >= maxKey {
				return n, false
			}
			buf[n] = '|'
			n++
		}
		if n+len(p) > maxKey {
			return n, false
		}
		n += copy(buf[n:], p)
	}
	return n, true
}

// ResourceLabel is the label value of a group, resource and subresource:
// the resource, qualified with ".group" outside the core group, then
// "/subresource". ("deployments", "apps", "scale") → "deployments.apps/scale".
func ResourceLabel(group, resource, subresource string) string {
	s := resource
	if group != "" {
		s += "." + group
	}
	if subresource != "" {
		s += "/" + subresource
	}
	return s
}
