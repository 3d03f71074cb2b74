// Package classify maps a Kubernetes API request — its method and URL — to the
// class it is measured under: the dimensions of the upstream API-call SLOs
// (verb, group/resource, subresource, scope) plus whether the request is
// long-running (watch, follow, exec, attach, port-forward, proxy).
//
// Parse and Request are pure functions: no I/O, no allocation, no state. They
// follow kube-apiserver's own request parsing (RequestInfoFactory), so a class
// here names the same thing as apiserver_request_duration_seconds does.
//
// A Class still holds values taken from the URL (the namespace, and any
// resource or group a client asks for). Limiter turns it into bounded,
// interned label values: that is the only form that may reach a metric label.
package classify

import (
	"net/url"
	"strings"
)

// Verb is the Kubernetes API verb of a request, in the lower case RBAC uses.
type Verb string

// The verbs a request can have. VerbConnect covers the connect subresources
// (exec, attach, portforward, proxy); VerbApply is a server-side apply PATCH.
const (
	VerbGet              Verb = "get"
	VerbList             Verb = "list"
	VerbWatch            Verb = "watch"
	VerbCreate           Verb = "create"
	VerbUpdate           Verb = "update"
	VerbPatch            Verb = "patch"
	VerbApply            Verb = "apply"
	VerbDelete           Verb = "delete"
	VerbDeleteCollection Verb = "deletecollection"
	VerbConnect          Verb = "connect"
	VerbOther            Verb = "other" // an HTTP method the API does not use (OPTIONS, TRACE, ...)
)

// Verbs lists every Verb, in a fixed order.
var Verbs = []Verb{VerbGet, VerbList, VerbWatch, VerbCreate, VerbUpdate, VerbPatch, VerbApply,
	VerbDelete, VerbDeleteCollection, VerbConnect, VerbOther}

// Scope is the SLO scope of a request: one object, one namespace, or the cluster.
type Scope string

// The scopes. A request that names an object is ScopeResource; a collection
// request inside a namespace is ScopeNamespace; a collection request across
// the cluster (or for a cluster-scoped resource), and every non-resource
// request, is ScopeCluster.
const (
	ScopeResource  Scope = "resource"
	ScopeNamespace Scope = "namespace"
	ScopeCluster   Scope = "cluster"
)

// Scopes lists every Scope, in a fixed order.
var Scopes = []Scope{ScopeResource, ScopeNamespace, ScopeCluster}

// Resource names used for requests that are not about API objects. They never
// collide with real resources: core resources are a fixed set without these
// names, and every other group's resource is qualified with its group.
const (
	NonResourceDiscovery = "discovery"   // /api, /api/v1, /apis, /apis/{group}[/{version}]
	NonResourceOpenAPI   = "openapi"     // /openapi/v2, /openapi/v3/...
	NonResourceVersion   = "version"     // /version
	NonResourceHealthz   = "healthz"     // /healthz[/...]
	NonResourceLivez     = "livez"       // /livez[/...]
	NonResourceReadyz    = "readyz"      // /readyz[/...]
	NonResourceMetrics   = "metrics"     // /metrics[/...]
	NonResourceOther     = "nonresource" // any other path
)

// Other is the resource every request folds into when its resource cannot be
// a label: malformed, or beyond the Limiter's cap.
const Other = "other"

// Class is what a request was: its verb, what it addressed and how.
type Class struct {
	Verb        Verb
	Group       string // API group; "" for the core group and for non-resource requests
	Version     string // API version, e.g. "v1"; not a label dimension
	Resource    string // plural resource, a NonResource* name, or Other
	Subresource string // e.g. "status", "scale", "log", "exec"; "" if none
	Scope       Scope
	LongRunning bool // watch, follow=true logs, exec, attach, portforward, proxy
	NonResource bool // discovery, openapi, version, health, metrics, ...
	// CacheRead is a get or list with resourceVersion=0: the API server may
	// answer from its watch cache instead of a quorum read from etcd.
	CacheRead bool
	// Paginated is a list with a limit: one page, not the whole collection.
	Paginated bool

	// Namespace is the namespace in the path, for spans. It is the user's data:
	// never use it as a metric label.
	Namespace string
}

// Valid reports whether every label-bearing field holds an allowed value.
// Every Class that Parse returns is valid.
func (c Class) Valid() bool {
	verbOK := false
	for _, v := range Verbs {
		verbOK = verbOK || c.Verb == v
	}
	scopeOK := c.Scope == ScopeResource || c.Scope == ScopeNamespace || c.Scope == ScopeCluster
	return verbOK && scopeOK && isResourceName(c.Resource) &&
		(c.Group == "" || isGroupName(c.Group)) &&
		(c.Subresource == "" || isResourceName(c.Subresource))
}

// Request classifies a request by its method and URL. See Parse.
func Request(method string, u *url.URL) Class {
	return Parse(method, u.Path, u.RawQuery)
}

// ContentTypeApplyPatch is the content type of a server-side apply PATCH.
const ContentTypeApplyPatch = "application/apply-patch"

// WithContentType refines c by the request's Content-Type: a PATCH carrying
// an apply patch (application/apply-patch+yaml or +cbor) is VerbApply.
func (c Class) WithContentType(contentType string) Class {
	if c.Verb == VerbPatch && strings.HasPrefix(contentType, ContentTypeApplyPatch) {
		c.Verb = VerbApply
	}
	return c
}

// maxSegments bounds how much of a path is looked at. A resource request needs
// at most 9 (apis/g/v/namespaces/ns/r/name/sub + proxy path); the rest leaves
// room for a base path in front of the API root.
const maxSegments = 16

// segments splits path on "/" into s without allocating, skipping empty
// segments (as "//" would make). It returns how many it kept.
func segments(path string, s *[maxSegments]string) int {
	n := 0
	for len(path) > 0 && n < maxSegments {
		i := strings.IndexByte(path, '/')
		var seg string
		if i < 0 {
			seg, path = path, ""
		} else {
			seg, path = path[:i], path[i+1:]
		}
		if seg != "" {
			s[n] = seg
			n++
		}
	}
	return n
}

// Parse classifies a request by its method, URL path and raw query. The path
// may carry a base path in front of the API root (a proxy's /k8s/clusters/x):
// Parse then finds /api or /apis itself; give it the path without the prefix
// when the prefix is known.
func Parse(method, path, rawQuery string) Class {
	var segs [maxSegments]string
	n := segments(path, &segs)
	parts := segs[:n]

	root := -1
	if n > 0 {
		switch parts[0] {
		case "api", "apis":
			root = 0
		case "version", "healthz", "livez", "readyz", "metrics", "openapi":
			// non-resource: handled below
		default:
			for i := 1; i < n; i++ {
				if parts[i] == "api" || parts[i] == "apis" {
					root = i
					break
				}
			}
		}
	}
	if root < 0 {
		return nonResource(method, parts)
	}
	parts = parts[root:]

	c := Class{Verb: methodVerb(method)}
	var rest []string
	if parts[0] == "api" {
		if len(parts) < 3 {
			return discovery(method, "")
		}
		c.Version, rest = parts[1], parts[2:]
	} else {
		if len(parts) < 4 {
			g := ""
			if len(parts) > 1 {
				g = parts[1]
			}
			return discovery(method, g)
		}
		c.Group, c.Version, rest = parts[1], parts[2], parts[3:]
	}

	// Legacy verb prefixes: /api/v1/watch/... and /api/v1/proxy/....
	legacyWatch, legacyProxy := false, false
	if len(rest) >= 2 {
		switch rest[0] {
		case "watch":
			legacyWatch, rest = true, rest[1:]
		case "proxy":
			legacyProxy, rest = true, rest[1:]
		}
	}

	name := ""
	if rest[0] == "namespaces" && len(rest) > 1 {
		c.Namespace = rest[1]
		// /namespaces/{ns}/{resource}...; but /namespaces/{ns}/status and
		// /finalize are subresources of the namespace object itself.
		if len(rest) > 2 && rest[2] != "status" && rest[2] != "finalize" {
			rest = rest[2:]
		}
	}
	c.Resource = rest[0]
	if len(rest) > 1 {
		name = rest[1]
	}
	if len(rest) > 2 {
		c.Subresource = rest[2] // proxy paths go on; the rest is never looked at
	}

	switch {
	case name != "", c.Verb == VerbCreate:
		// A create names one object (in its body): kube-apiserver's
		// CleanScope and the API-call SLOs count it as a single-object call.
		c.Scope = ScopeResource
	case c.Namespace != "":
		c.Scope = ScopeNamespace
	default:
		c.Scope = ScopeCluster
	}

	switch c.Verb {
	case VerbGet:
		if name == "" {
			c.Verb = VerbList
			if legacyWatch || queryFlag(rawQuery, "watch") {
				c.Verb = VerbWatch
			}
		} else if legacyWatch {
			c.Verb = VerbWatch
		}
	case VerbDelete:
		if name == "" {
			c.Verb = VerbDeleteCollection
		}
	}
	if legacyProxy {
		c.Verb, c.Subresource = VerbConnect, "proxy"
	}
	switch c.Subresource {
	case "exec", "attach", "portforward", "proxy":
		if name != "" {
			c.Verb = VerbConnect
		}
	}
	if c.Verb == VerbGet || c.Verb == VerbList {
		c.CacheRead = queryValue(rawQuery, "resourceVersion") == "0"
	}
	if c.Verb == VerbList {
		limit := queryValue(rawQuery, "limit")
		c.Paginated = limit != "" && limit != "0" && strings.Trim(limit, "0123456789") == ""
	}
	c.LongRunning = c.Verb == VerbWatch || c.Verb == VerbConnect ||
		(c.Subresource == "log" && queryFlag(rawQuery, "follow"))

	if !isResourceName(c.Resource) || !isGroupName(c.Group) ||
		(c.Subresource != "" && !isResourceName(c.Subresource)) {
		c.Group, c.Resource, c.Subresource = "", Other, ""
	}
	return c
}

// methodVerb is the verb of a method before the path refines it.
func methodVerb(method string) Verb {
	switch method {
	case "GET", "HEAD":
		return VerbGet
	case "POST":
		return VerbCreate
	case "PUT":
		return VerbUpdate
	case "PATCH":
		return VerbPatch
	case "DELETE":
		return VerbDelete
	}
	return VerbOther
}

func discovery(method, group string) Class {
	if group != "" && !isGroupName(group) {
		group = ""
	}
	return Class{Verb: methodVerb(method), Group: group, Resource: NonResourceDiscovery,
		Scope: ScopeCluster, NonResource: true}
}

func nonResource(method string, parts []string) Class {
	r := NonResourceOther
	if len(parts) > 0 {
		switch parts[0] {
		case "version":
			r = NonResourceVersion
		case "healthz":
			r = NonResourceHealthz
		case "livez":
			r = NonResourceLivez
		case "readyz":
			r = NonResourceReadyz
		case "metrics":
			r = NonResourceMetrics
		case "openapi":
			r = NonResourceOpenAPI
		}
	}
	return Class{Verb: methodVerb(method), Resource: r, Scope: ScopeCluster, NonResource: true}
}

// queryValue is the raw value of the first query parameter key ("" if
// absent). Values that need unescaping are returned as they are: the ones
// looked at here are plain digits.
func queryValue(rawQuery, key string) string {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// queryFlag reports whether the boolean query parameter key is set, the way
// kube-apiserver converts it: only "", "0", "f" and "false" (any case) are
// false. The first occurrence wins. Nothing is decoded or allocated.
func queryFlag(rawQuery, key string) bool {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != key {
			continue
		}
		switch {
		case v == "", v == "0", strings.EqualFold(v, "f"), strings.EqualFold(v, "false"):
			return false
		}
		return true
	}
	return false
}

// isResourceName reports whether s can be a resource or subresource name: a
// DNS label (lower case letters, digits, '-') or a metric name of the custom
// metrics API ('_' too), at most 63 bytes.
func isResourceName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// isGroupName reports whether s can be an API group: "" (core) or a DNS
// subdomain, at most 253 bytes.
func isGroupName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '.') {
			return false
		}
	}
	return true
}
