package classify

import (
	"net/url"
	"strings"
	"testing"
)

// parseCases are real API paths, as client-go, kubectl and controllers send
// them. They also seed FuzzParse.
var parseCases = []struct {
	method, target string
	want           Class
	label          string // Limiter label value
}{
	// core group
	{"GET", "/api/v1/namespaces/default/pods/web-0", Class{Verb: VerbGet, Version: "v1", Resource: "pods", Scope: ScopeResource, Namespace: "default"}, "pods"},
	{"GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb&limit=500", Class{Verb: VerbList, Version: "v1", Resource: "pods", Scope: ScopeNamespace, Namespace: "default", Paginated: true}, "pods"},
	{"GET", "/api/v1/pods?limit=500&resourceVersion=0", Class{Verb: VerbList, Version: "v1", Resource: "pods", Scope: ScopeCluster, CacheRead: true, Paginated: true}, "pods"},
	{"GET", "/api/v1/nodes/n1?resourceVersion=0", Class{Verb: VerbGet, Version: "v1", Resource: "nodes", Scope: ScopeResource, CacheRead: true}, "nodes"},
	{"GET", "/api/v1/nodes?resourceVersion=12&limit=0", Class{Verb: VerbList, Version: "v1", Resource: "nodes", Scope: ScopeCluster}, "nodes"},
	{"GET", "/api/v1/nodes?resourceVersion=0&watch=true", Class{Verb: VerbWatch, Version: "v1", Resource: "nodes", Scope: ScopeCluster, LongRunning: true}, "nodes"},
	{"GET", "/api/v1/pods?allowWatchBookmarks=true&resourceVersion=12&timeoutSeconds=412&watch=true", Class{Verb: VerbWatch, Version: "v1", Resource: "pods", Scope: ScopeCluster, LongRunning: true}, "pods"},
	{"GET", "/api/v1/namespaces/kube-system/configmaps?watch=1", Class{Verb: VerbWatch, Version: "v1", Resource: "configmaps", Scope: ScopeNamespace, LongRunning: true, Namespace: "kube-system"}, "configmaps"},
	{"GET", "/api/v1/namespaces/kube-system/configmaps?watch=false", Class{Verb: VerbList, Version: "v1", Resource: "configmaps", Scope: ScopeNamespace, Namespace: "kube-system"}, "configmaps"},
	{"GET", "/api/v1/watch/namespaces/ns1/pods", Class{Verb: VerbWatch, Version: "v1", Resource: "pods", Scope: ScopeNamespace, LongRunning: true, Namespace: "ns1"}, "pods"},
	{"GET", "/api/v1/watch/namespaces/ns1/pods/p", Class{Verb: VerbWatch, Version: "v1", Resource: "pods", Scope: ScopeResource, LongRunning: true, Namespace: "ns1"}, "pods"},
	{"POST", "/api/v1/namespaces/default/pods", Class{Verb: VerbCreate, Version: "v1", Resource: "pods", Scope: ScopeResource, Namespace: "default"}, "pods"},
	{"PUT", "/api/v1/namespaces/default/pods/web-0/status", Class{Verb: VerbUpdate, Version: "v1", Resource: "pods", Subresource: "status", Scope: ScopeResource, Namespace: "default"}, "pods/status"},
	{"PATCH", "/api/v1/nodes/node-1/status", Class{Verb: VerbPatch, Version: "v1", Resource: "nodes", Subresource: "status", Scope: ScopeResource}, "nodes/status"},
	{"DELETE", "/api/v1/namespaces/default/pods/web-0", Class{Verb: VerbDelete, Version: "v1", Resource: "pods", Scope: ScopeResource, Namespace: "default"}, "pods"},
	{"DELETE", "/api/v1/namespaces/default/pods?labelSelector=x", Class{Verb: VerbDeleteCollection, Version: "v1", Resource: "pods", Scope: ScopeNamespace, Namespace: "default"}, "pods"},
	{"POST", "/api/v1/namespaces/default/pods/web-0/eviction", Class{Verb: VerbCreate, Version: "v1", Resource: "pods", Subresource: "eviction", Scope: ScopeResource, Namespace: "default"}, "pods/eviction"},
	{"POST", "/api/v1/namespaces/default/serviceaccounts/default/token", Class{Verb: VerbCreate, Version: "v1", Resource: "serviceaccounts", Subresource: "token", Scope: ScopeResource, Namespace: "default"}, "serviceaccounts/token"},
	{"GET", "/api/v1/namespaces/default/pods/web-0/log?container=app", Class{Verb: VerbGet, Version: "v1", Resource: "pods", Subresource: "log", Scope: ScopeResource, Namespace: "default"}, "pods/log"},
	{"GET", "/api/v1/namespaces/default/pods/web-0/log?follow=true&container=app", Class{Verb: VerbGet, Version: "v1", Resource: "pods", Subresource: "log", Scope: ScopeResource, LongRunning: true, Namespace: "default"}, "pods/log"},
	{"POST", "/api/v1/namespaces/default/pods/web-0/exec?command=sh&stdin=true&tty=true", Class{Verb: VerbConnect, Version: "v1", Resource: "pods", Subresource: "exec", Scope: ScopeResource, LongRunning: true, Namespace: "default"}, "pods/exec"},
	{"GET", "/api/v1/namespaces/default/pods/web-0/exec?command=ls", Class{Verb: VerbConnect, Version: "v1", Resource: "pods", Subresource: "exec", Scope: ScopeResource, LongRunning: true, Namespace: "default"}, "pods/exec"},
	{"POST", "/api/v1/namespaces/default/pods/web-0/attach", Class{Verb: VerbConnect, Version: "v1", Resource: "pods", Subresource: "attach", Scope: ScopeResource, LongRunning: true, Namespace: "default"}, "pods/attach"},
	{"POST", "/api/v1/namespaces/default/pods/web-0/portforward", Class{Verb: VerbConnect, Version: "v1", Resource: "pods", Subresource: "portforward", Scope: ScopeResource, LongRunning: true, Namespace: "default"}, "pods/portforward"},
	{"GET", "/api/v1/namespaces/default/services/https:web:443/proxy/some/deep/path?x=1", Class{Verb: VerbConnect, Version: "v1", Resource: "services", Subresource: "proxy", Scope: ScopeResource, LongRunning: true, Namespace: "default"}, "services/proxy"},
	{"GET", "/api/v1/nodes/node-1/proxy/metrics/cadvisor", Class{Verb: VerbConnect, Version: "v1", Resource: "nodes", Subresource: "proxy", Scope: ScopeResource, LongRunning: true}, "nodes/proxy"},
	{"GET", "/api/v1/proxy/namespaces/default/pods/web-0/healthz", Class{Verb: VerbConnect, Version: "v1", Resource: "pods", Subresource: "proxy", Scope: ScopeResource, LongRunning: true, Namespace: "default"}, "pods/proxy"},
	{"GET", "/api/v1/namespaces", Class{Verb: VerbList, Version: "v1", Resource: "namespaces", Scope: ScopeCluster}, "namespaces"},
	{"GET", "/api/v1/namespaces/team-a", Class{Verb: VerbGet, Version: "v1", Resource: "namespaces", Scope: ScopeResource, Namespace: "team-a"}, "namespaces"},
	{"PUT", "/api/v1/namespaces/team-a/finalize", Class{Verb: VerbUpdate, Version: "v1", Resource: "namespaces", Subresource: "finalize", Scope: ScopeResource, Namespace: "team-a"}, "namespaces/finalize"},
	{"PUT", "/api/v1/namespaces/team-a/status", Class{Verb: VerbUpdate, Version: "v1", Resource: "namespaces", Subresource: "status", Scope: ScopeResource, Namespace: "team-a"}, "namespaces/status"},
	{"GET", "/api/v1/nodes", Class{Verb: VerbList, Version: "v1", Resource: "nodes", Scope: ScopeCluster}, "nodes"},
	{"HEAD", "/api/v1/nodes/n1", Class{Verb: VerbGet, Version: "v1", Resource: "nodes", Scope: ScopeResource}, "nodes"},
	// client-go's URL templates, as its tools/metrics hooks see them
	{"GET", "/api/v1/namespaces/{namespace}/pods/{name}", Class{Verb: VerbGet, Version: "v1", Resource: "pods", Scope: ScopeResource, Namespace: "{namespace}"}, "pods"},
	{"PUT", "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}", Class{Verb: VerbUpdate, Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Scope: ScopeResource, Namespace: "{namespace}"}, "leases.coordination.k8s.io"},

	// named groups
	{"GET", "/apis/apps/v1/namespaces/prod/deployments", Class{Verb: VerbList, Group: "apps", Version: "v1", Resource: "deployments", Scope: ScopeNamespace, Namespace: "prod"}, "deployments.apps"},
	{"PUT", "/apis/apps/v1/namespaces/prod/deployments/api/scale", Class{Verb: VerbUpdate, Group: "apps", Version: "v1", Resource: "deployments", Subresource: "scale", Scope: ScopeResource, Namespace: "prod"}, "deployments.apps/scale"},
	{"GET", "/apis/apps/v1/deployments?watch=true", Class{Verb: VerbWatch, Group: "apps", Version: "v1", Resource: "deployments", Scope: ScopeCluster, LongRunning: true}, "deployments.apps"},
	{"PATCH", "/apis/batch/v1/namespaces/ci/jobs/build-1/status", Class{Verb: VerbPatch, Group: "batch", Version: "v1", Resource: "jobs", Subresource: "status", Scope: ScopeResource, Namespace: "ci"}, "jobs.batch/status"},
	{"GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", Class{Verb: VerbGet, Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles", Scope: ScopeResource}, "clusterroles.rbac.authorization.k8s.io"},
	{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", Class{Verb: VerbCreate, Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews", Scope: ScopeResource}, "selfsubjectaccessreviews.authorization.k8s.io"},
	// CRDs and aggregated APIs
	{"GET", "/apis/example.com/v1alpha1/namespaces/ns/widgets/w1", Class{Verb: VerbGet, Group: "example.com", Version: "v1alpha1", Resource: "widgets", Scope: ScopeResource, Namespace: "ns"}, "widgets.example.com"},
	{"PATCH", "/apis/cert-manager.io/v1/namespaces/ns/certificates/c/status", Class{Verb: VerbPatch, Group: "cert-manager.io", Version: "v1", Resource: "certificates", Subresource: "status", Scope: ScopeResource, Namespace: "ns"}, "certificates.cert-manager.io/status"},
	{"GET", "/apis/metrics.k8s.io/v1beta1/nodes", Class{Verb: VerbList, Group: "metrics.k8s.io", Version: "v1beta1", Resource: "nodes", Scope: ScopeCluster}, "nodes.metrics.k8s.io"},
	{"GET", "/apis/custom.metrics.k8s.io/v1beta2/namespaces/ns/pods/*/http_requests", Class{Verb: VerbGet, Group: "custom.metrics.k8s.io", Version: "v1beta2", Resource: "pods", Subresource: "http_requests", Scope: ScopeResource, Namespace: "ns"}, "pods.custom.metrics.k8s.io/http_requests"},
	// discovery
	{"GET", "/api", Class{Verb: VerbGet, Resource: NonResourceDiscovery, Scope: ScopeCluster, NonResource: true}, "discovery"},
	{"GET", "/api/v1", Class{Verb: VerbGet, Resource: NonResourceDiscovery, Scope: ScopeCluster, NonResource: true}, "discovery"},
	{"GET", "/apis", Class{Verb: VerbGet, Resource: NonResourceDiscovery, Scope: ScopeCluster, NonResource: true}, "discovery"},
	{"GET", "/apis/apps", Class{Verb: VerbGet, Group: "apps", Resource: NonResourceDiscovery, Scope: ScopeCluster, NonResource: true}, "discovery"},
	{"GET", "/apis/apps/v1", Class{Verb: VerbGet, Group: "apps", Resource: NonResourceDiscovery, Scope: ScopeCluster, NonResource: true}, "discovery"},
	{"GET", "/openapi/v2", Class{Verb: VerbGet, Resource: NonResourceOpenAPI, Scope: ScopeCluster, NonResource: true}, "openapi"},
	{"GET", "/openapi/v3/apis/apps/v1?hash=ABC", Class{Verb: VerbGet, Resource: NonResourceOpenAPI, Scope: ScopeCluster, NonResource: true}, "openapi"},
	{"GET", "/version", Class{Verb: VerbGet, Resource: NonResourceVersion, Scope: ScopeCluster, NonResource: true}, "version"},
	{"GET", "/healthz", Class{Verb: VerbGet, Resource: NonResourceHealthz, Scope: ScopeCluster, NonResource: true}, "healthz"},
	{"GET", "/healthz/etcd", Class{Verb: VerbGet, Resource: NonResourceHealthz, Scope: ScopeCluster, NonResource: true}, "healthz"},
	{"GET", "/readyz?verbose", Class{Verb: VerbGet, Resource: NonResourceReadyz, Scope: ScopeCluster, NonResource: true}, "readyz"},
	{"GET", "/livez/ping", Class{Verb: VerbGet, Resource: NonResourceLivez, Scope: ScopeCluster, NonResource: true}, "livez"},
	{"GET", "/metrics", Class{Verb: VerbGet, Resource: NonResourceMetrics, Scope: ScopeCluster, NonResource: true}, "metrics"},
	{"GET", "/.well-known/openid-configuration", Class{Verb: VerbGet, Resource: NonResourceOther, Scope: ScopeCluster, NonResource: true}, "nonresource"},
	{"GET", "/", Class{Verb: VerbGet, Resource: NonResourceOther, Scope: ScopeCluster, NonResource: true}, "nonresource"},
	{"OPTIONS", "/api/v1/pods", Class{Verb: VerbOther, Version: "v1", Resource: "pods", Scope: ScopeCluster}, "pods"},
	// a base path in front of the API root (Rancher-style proxies)
	{"GET", "/k8s/clusters/c-1/api/v1/namespaces/a/pods/p", Class{Verb: VerbGet, Version: "v1", Resource: "pods", Scope: ScopeResource, Namespace: "a"}, "pods"},
	{"GET", "/k8s/clusters/c-1/apis/apps/v1/deployments", Class{Verb: VerbList, Group: "apps", Version: "v1", Resource: "deployments", Scope: ScopeCluster}, "deployments.apps"},
	// malformed names never become labels
	{"GET", "/api/v1/namespaces/a/Pods%20X", Class{Verb: VerbList, Version: "v1", Resource: Other, Scope: ScopeNamespace, Namespace: "a"}, "other"},
	{"GET", "/apis/EXAMPLE.com/v1/things", Class{Verb: VerbList, Version: "v1", Resource: Other, Scope: ScopeCluster}, "other"},
	{"GET", "//api//v1//pods//", Class{Verb: VerbList, Version: "v1", Resource: "pods", Scope: ScopeCluster}, "pods"},
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			got := Request(tc.method, u)
			if got != tc.want {
				t.Errorf("Request(%s, %s)\n got %+v\nwant %+v", tc.method, tc.target, got, tc.want)
			}
			if !got.Valid() {
				t.Errorf("not Valid: %+v", got)
			}
			if tc.label == "" { // a CRD-like name outside the built-ins: check the form only
				return
			}
			if lab := NewLimiter(0).Labels(got); lab.Resource != tc.label {
				t.Errorf("label = %q, want %q", lab.Resource, tc.label)
			}
		})
	}
}

func TestWithContentType(t *testing.T) {
	c := Parse("PATCH", "/apis/apps/v1/namespaces/a/deployments/d", "fieldManager=kubectl")
	for ct, want := range map[string]Verb{
		"application/apply-patch+yaml":           VerbApply,
		"application/apply-patch+cbor":           VerbApply,
		"application/strategic-merge-patch+json": VerbPatch,
		"application/merge-patch+json":           VerbPatch,
		"":                                       VerbPatch,
	} {
		if got := c.WithContentType(ct).Verb; got != want {
			t.Errorf("%q: verb %s, want %s", ct, got, want)
		}
	}
	if got := Parse("POST", "/api/v1/namespaces/a/pods", "").WithContentType("application/apply-patch+yaml").Verb; got != VerbCreate {
		t.Errorf("POST with apply content type: %s, want create", got)
	}
}

func TestQueryFlag(t *testing.T) {
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"watch=true", true}, {"watch=1", true}, {"watch=True", true}, {"watch=yes", true},
		{"watch=false", false}, {"watch=FALSE", false}, {"watch=0", false}, {"watch=f", false},
		{"watch=", false}, {"watch", false}, {"", false}, {"rewatch=true", false},
		{"a=b&watch=true", true}, {"watch=false&watch=true", false}, {"watchx=true&watch=1", true},
	} {
		if got := queryFlag(tc.q, "watch"); got != tc.want {
			t.Errorf("queryFlag(%q) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

func TestLabelsKey(t *testing.T) {
	l := NewLimiter(0)
	for _, tc := range []struct {
		method, path, query string
		key, span, resource string
	}{
		{"GET", "/api/v1/namespaces/a/pods/p", "", "get/pods/resource", "get pods", "pods"},
		{"GET", "/apis/apps/v1/namespaces/a/deployments", "", "list/deployments.apps/namespace", "list deployments.apps", "deployments.apps"},
		{"PATCH", "/api/v1/namespaces/a/pods/p/status", "", "patch/pods/status/resource", "patch pods/status", "pods/status"},
		{"GET", "/apis", "", "get/discovery/cluster", "get discovery", "discovery"},
		{"GET", "/api/v1/pods", "watch=true", "watch/pods/cluster", "watch pods", "pods"},
	} {
		lab := l.Labels(Parse(tc.method, tc.path, tc.query))
		if lab.Key != tc.key || lab.SpanName != tc.span || lab.Resource != tc.resource {
			t.Errorf("%s %s: got %+v, want key %q span %q resource %q", tc.method, tc.path, lab, tc.key, tc.span, tc.resource)
		}
		verb, res, scope, rest, ok := SplitKey(lab.Key + "/server")
		if !ok || verb != lab.Verb || res != lab.Resource || scope != lab.Scope || rest != "server" {
			t.Errorf("SplitKey(%q/server) = %q %q %q %q %v", lab.Key, verb, res, scope, rest, ok)
		}
	}
	for _, bad := range []string{"", "get", "get/pods", "get/pods/nowhere", "get//resource", "get/pods/status/x/resource"} {
		if _, _, _, _, ok := SplitKey(bad); ok {
			t.Errorf("SplitKey(%q) ok, want not ok", bad)
		}
	}
}

func TestLimiterCap(t *testing.T) {
	l := NewLimiter(3)
	crd := func(i int) Class {
		return Parse("GET", "/apis/g"+strings.Repeat("x", i)+".example.com/v1/things", "")
	}
	for i := range 3 {
		if got := l.Labels(crd(i)).Resource; got == Other {
			t.Fatalf("CRD %d folded before the cap", i)
		}
	}
	if got := l.Labels(crd(3)); got.Resource != Other || got.Key != "list/other/cluster" {
		t.Errorf("4th CRD: %+v, want folded into other", got)
	}
	if got := l.Labels(crd(0)).Resource; got != "things.g.example.com" {
		t.Errorf("a kept CRD must stay kept, got %q", got)
	}
	// a new verb/scope of a kept resource is not a new resource
	if got := l.Labels(Parse("DELETE", "/apis/g.example.com/v1/things/t", "")).Resource; got != "things.g.example.com" {
		t.Errorf("kept CRD with a new verb: %q", got)
	}
	// built-in resources never fold, however many CRDs came first
	for _, p := range []string{"/api/v1/pods", "/apis/apps/v1/deployments", "/apis/coordination.k8s.io/v1/namespaces/a/leases"} {
		if got := l.Labels(Parse("GET", p, "")).Resource; got == Other {
			t.Errorf("%s folded into other", p)
		}
	}
	if l.Overflows() != 1 {
		t.Errorf("Overflows = %d, want 1", l.Overflows())
	}
}

func TestLabelsDoNotAllocate(t *testing.T) {
	l := NewLimiter(0)
	c := Parse("GET", "/apis/apps/v1/namespaces/a/deployments/d", "")
	l.Labels(c)
	allocs := testing.AllocsPerRun(100, func() {
		c := Parse("GET", "/apis/apps/v1/namespaces/a/deployments/d", "watch=true")
		_ = l.Labels(c)
	})
	if allocs != 0 {
		t.Errorf("Parse+Labels allocate %v times per call, want 0", allocs)
	}
}

func BenchmarkParseLabels(b *testing.B) {
	l := NewLimiter(0)
	b.ReportAllocs()
	for b.Loop() {
		_ = l.Labels(Parse("GET", "/apis/apps/v1/namespaces/prod/deployments/web", "resourceVersion=0"))
	}
}
