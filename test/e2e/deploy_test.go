//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/kubepulse/kubepulse/dashboards"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// The chart and the manifests rendered from it, checked against a real
// kube-apiserver + etcd (with kube-controller-manager, kube-scheduler and
// kwok fake nodes), Helm and promtool. Images are never pulled: kwok marks
// scheduled pods Running without running them.

// everything turns on every optional part of the chart.
func everything(ns string) []string {
	return []string{
		"serviceMonitor.enabled=true", "podMonitor.enabled=true", "prometheusRule.enabled=true",
		"serviceMonitor.cluster=e2e", "prometheusRule.additionalRuleLabels.team=platform",
		"config.metrics.secure=true",
		"config.alertmanager.service.namespace=" + ns, "config.alertmanager.service.name=alertmanager-operated",
		"config.alertmanager.service.port=web", "config.alertmanager.externalLabels.cluster=e2e",
		"config.otlp.endpoint=http://otel-collector.monitoring:4318",
		"metricsReaders[0].namespace=" + ns, "metricsReaders[0].name=prometheus",
		"priorityClassName=system-node-critical",
	}
}

// docs splits rendered manifests into objects.
func docs(t testing.TB, manifests []byte) []map[string]any {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifests), 4096)
	var out []map[string]any
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if obj != nil {
			out = append(out, obj)
		}
	}
}

func kindOf(obj map[string]any) string { s, _ := obj["kind"].(string); return s }

func TestDeployHelmLint(t *testing.T) {
	for name, set := range map[string][]string{
		"defaults":   nil,
		"emptyDir":   {"checkpoint.type=emptyDir"},
		"everything": everything("monitoring"),
		"hostNetwork": {"hostNetwork=true", "checkpoint.hostPath.path=/var/lib/kubepulse-custom",
			"image.digest=sha256:" + strings.Repeat("a", 64)},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir()}
			for _, s := range set {
				args = append(args, "--set", s)
			}
			out, err := run(nil, helm(t), args...)
			if err != nil || !strings.Contains(string(out), "0 chart(s) failed") {
				t.Fatalf("%v\n%s", err, out)
			}
			if strings.Contains(string(out), "[WARNING]") || strings.Contains(string(out), "[ERROR]") {
				t.Fatalf("helm lint: %s", out)
			}
		})
	}
}

// Bad values fail at render time with a message naming the value.
func TestDeployBadValues(t *testing.T) {
	for set, want := range map[string]string{
		"checkpoint.type=tmpfs":                             "checkpoint/type",
		"porrt=9000":                                        "porrt",
		"config.alertmanager.service.name=am":               "config.alertmanager.service.namespace is required",
		"config.log.level=verbose":                          "config/log/level",
		"config.listenAddress=:1":                           "config/listenAddress",
		"prometheusRule.disabled={KubeAPISlow}":             "prometheusRule/disabled",
		"serviceMonitor.enabled=true,service.enabled=false": "serviceMonitor.enabled needs service.enabled",
	} {
		out, err := run(nil, helm(t), "template", "x", chartDir(), "--set", set)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: err = %v, want it to mention %q\n%s", set, err, want, out)
		}
	}
}

// manifests/kubepulse.yaml is the chart rendered with its default values.
func TestDeployManifestsUpToDate(t *testing.T) {
	want := render(t, "kubepulse", "kubepulse")
	got, err := os.ReadFile(filepath.Join(framework.RepoRoot(), "manifests", "kubepulse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("manifests/kubepulse.yaml is stale: run make manifests")
	}
	// What a kubectl-apply user gets: the agent and everything it needs.
	kinds := map[string]int{}
	for _, obj := range docs(t, got) {
		kinds[kindOf(obj)]++
	}
	for kind, n := range map[string]int{"DaemonSet": 1, "ServiceAccount": 1, "ClusterRole": 2, "ClusterRoleBinding": 1,
		"Role": 2, "RoleBinding": 2, "ConfigMap": 1 + len(dashboards.Boards), "Service": 1} {
		if kinds[kind] != n {
			t.Errorf("%d %s, want %d (all: %v)", kinds[kind], kind, n, kinds)
		}
	}
}

// The rendered chart passes the real API server's validation (strict: unknown
// fields are errors), with prometheus-operator's CRDs installed for the
// ServiceMonitor, PodMonitor and PrometheusRule.
func TestDeployServerDryRun(t *testing.T) {
	k := kube{t, framework.SharedCluster(t)}
	k.installPromOperatorCRDs()
	ns := k.namespace("kp-dryrun")
	for name, set := range map[string][]string{"defaults": nil, "everything": everything(ns), "emptyDir": {"checkpoint.type=emptyDir"}} {
		t.Run(name, func(t *testing.T) {
			manifests := render(t, "dry", ns, set...)
			out, err := k.combined(manifests, "apply", "--dry-run=server", "--validate=strict", "-f", "-")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if n, want := strings.Count(out, "(server dry run)"), len(docs(t, manifests)); n != want {
				t.Fatalf("%d objects accepted, want %d:\n%s", n, want, out)
			}
		})
	}
}

// The ServiceAccount can make every call the agent makes, and nothing else:
// asked with `kubectl auth can-i --as`, and then tried for real with its own
// token through client-go, with the agent's request shapes.
func TestDeployRBAC(t *testing.T) {
	k := kube{t, framework.SharedCluster(t)}
	k.installPromOperatorCRDs()
	ns := k.namespace("kp-rbac")
	amNS := k.namespace("kp-rbac-am")
	other := k.namespace("kp-rbac-other")
	set := everything(amNS)
	set = append(set, "metricsReaders[0].namespace="+ns)
	k.apply(render(t, "rbac", ns, set...))
	sa := "system:serviceaccount:" + ns + ":rbac-kubepulse"
	prom := "system:serviceaccount:" + ns + ":prometheus"
	scraper := "system:serviceaccount:" + ns + ":rbac-kubepulse-scraper"

	can := func(as string, args ...string) string {
		out, _ := k.run(nil, append([]string{"auth", "can-i", "--as", as}, args...)...)
		return strings.TrimSpace(string(out))
	}
	for _, c := range []struct {
		as   string
		args string
		want string
	}{
		{sa, "get nodes", "yes"},
		{sa, "list nodes", "yes"},
		{sa, "get /readyz", "yes"},
		{sa, "list pods -n " + ns, "yes"},
		{sa, "get leases.coordination.k8s.io -n kube-node-lease", "yes"},
		{sa, "list leases.coordination.k8s.io -n kube-node-lease", "yes"},
		{sa, "watch leases.coordination.k8s.io -n kube-node-lease", "yes"},
		{sa, "list endpointslices.discovery.k8s.io -n " + amNS, "yes"},
		{sa, "watch endpointslices.discovery.k8s.io -n " + amNS, "yes"},
		{sa, "create tokenreviews.authentication.k8s.io", "yes"},
		{sa, "create subjectaccessreviews.authorization.k8s.io", "yes"},
		// Nothing else.
		{sa, "get secrets -n " + ns, "no"},
		{sa, "list secrets -A", "no"},
		{sa, "list pods -A", "no"},
		{sa, "list pods -n " + other, "no"},
		{sa, "get pods -n " + ns, "no"},
		{sa, "watch pods -n " + ns, "no"},
		{sa, "create pods -n " + ns, "no"},
		{sa, "delete pods -n " + ns, "no"},
		{sa, "watch nodes", "no"},
		{sa, "update nodes", "no"},
		{sa, "patch nodes/status", "no"},
		{sa, "update leases.coordination.k8s.io -n kube-node-lease", "no"},
		{sa, "list leases.coordination.k8s.io -n " + ns, "no"},
		{sa, "list endpointslices.discovery.k8s.io -n " + other, "no"},
		{sa, "get configmaps -n " + ns, "no"},
		{sa, "get /metrics", "no"},
		{sa, "create serviceaccounts/token -n " + ns, "no"},
		// The metrics reader binding lets Prometheus scrape secured metrics.
		{prom, "get /metrics", "yes"},
		{prom, "list nodes", "no"},
		// So does the chart's own scraper, whose token the monitors use.
		{scraper, "get /metrics", "yes"},
		{scraper, "get secrets -n " + ns, "no"},
	} {
		if got := can(c.as, strings.Fields(c.args)...); got != c.want {
			t.Errorf("can-i %s as %s: %q, want %q", c.args, c.as, got, c.want)
		}
	}

	// Without metrics.secure and alertmanager.service, those grants go.
	plain := k.namespace("kp-rbac-plain")
	k.apply(render(t, "plain", plain))
	psa := "system:serviceaccount:" + plain + ":plain-kubepulse"
	for _, args := range []string{"create tokenreviews.authentication.k8s.io", "create subjectaccessreviews.authorization.k8s.io",
		"list endpointslices.discovery.k8s.io -A", "list pods -n " + ns} {
		if got := can(psa, strings.Fields(args)...); got != "no" {
			t.Errorf("default chart: can-i %s: %q, want no", args, got)
		}
	}

	// The agent's calls, made for real with the ServiceAccount's token.
	token := strings.TrimSpace(string(k.must(nil, "-n", ns, "create", "token", "rbac-kubepulse", "--duration=10m")))
	admin := k.cluster.AdminConfig(t)
	cfg := &rest.Config{Host: admin.Host, BearerToken: token, QPS: 50, Burst: 100,
		TLSClientConfig: rest.TLSClientConfig{CAData: admin.CAData, CAFile: admin.CAFile}}
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node := firstNode(t, k)

	allowed := map[string]func() error{
		"GET its Node from the watch cache": func() error {
			_, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{ResourceVersion: "0"})
			return err
		},
		"GET its Node, quorum read": func() error {
			_, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			return err
		},
		"LIST nodes limit=1, metadata only": func() error {
			mc := metadata.NewForConfigOrDie(cfg)
			l, err := mc.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}).List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil && len(l.Items) != 1 {
				err = fmt.Errorf("%d items", len(l.Items))
			}
			return err
		},
		"LIST pods on its node in its namespace": func() error {
			_, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(), ResourceVersion: "0"})
			return err
		},
		"WATCH its node's Lease": func() error {
			w, err := cs.CoordinationV1().Leases(corev1.NamespaceNodeLease).Watch(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("metadata.name", node).String(), TimeoutSeconds: ptr.To[int64](1)})
			if err == nil {
				w.Stop()
			}
			return err
		},
		"GET /readyz": func() error {
			return cs.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
		},
		"LIST EndpointSlices of the Alertmanager Service": func() error {
			_, err := cs.DiscoveryV1().EndpointSlices(amNS).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=alertmanager-operated"})
			return err
		},
	}
	for name, call := range allowed {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	forbidden := map[string]func() error{
		"LIST secrets":               func() error { _, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); return err },
		"LIST pods cluster-wide":     func() error { _, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{}); return err },
		"GET a pod in its namespace": func() error { _, err := cs.CoreV1().Pods(ns).Get(ctx, "x", metav1.GetOptions{}); return err },
		"LIST configmaps":            func() error { _, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); return err },
		"DELETE its Node": func() error {
			return cs.CoreV1().Nodes().Delete(ctx, node, metav1.DeleteOptions{DryRun: []string{"All"}})
		},
		"LIST leases in its namespace": func() error { _, err := cs.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{}); return err },
	}
	for name, call := range forbidden {
		if err := call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: err = %v, want Forbidden", name, err)
		}
	}
}

// firstNode is a kwok node of the shared cluster.
func firstNode(t testing.TB, k kube) string {
	t.Helper()
	out := strings.Fields(string(k.must(nil, "get", "nodes", "-l", "type=kwok", "-o", "jsonpath={.items[*].metadata.name}")))
	if len(out) == 0 {
		t.Fatal("no kwok nodes")
	}
	return out[0]
}

// waitDaemonSet waits until the DaemonSet has a Running, ready pod on every
// node it should run on, and returns how many.
func waitDaemonSet(t testing.TB, k kube, ns, name string) int {
	t.Helper()
	var n int
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		var ds struct {
			Status struct {
				DesiredNumberScheduled, NumberReady, NumberAvailable, UpdatedNumberScheduled int
			}
		}
		out, err := k.run(nil, "-n", ns, "get", "ds", name, "-o", "json")
		if err != nil || json.Unmarshal(out, &ds) != nil {
			return false, fmt.Sprintf("get ds: %v", err)
		}
		pods, err := k.run(nil, "-n", ns, "get", "pods", "-l", "app.kubernetes.io/instance="+strings.TrimSuffix(name, "-kubepulse"),
			"-o", `jsonpath={range .items[*]}{.spec.nodeName}={.status.phase}{"\n"}{end}`)
		if err != nil {
			return false, err.Error()
		}
		running, nodes := 0, map[string]bool{}
		for _, line := range strings.Fields(string(pods)) {
			node, phase, _ := strings.Cut(line, "=")
			if phase == "Running" && !nodes[node] {
				running++
				nodes[node] = true
			}
		}
		s := ds.Status
		n = s.DesiredNumberScheduled
		ok := n > 0 && s.NumberReady == n && s.NumberAvailable == n && s.UpdatedNumberScheduled == n && running == n
		return ok, fmt.Sprintf("status %+v, Running pods on distinct nodes: %d\n%s", s, running, pods)
	})
	return n
}

// The default chart runs: one Running, ready pod per (kwok) node, hostPath
// checkpoint and its init container included, and a clean rollout.
func TestDeployDaemonSetOnKwok(t *testing.T) {
	k := kube{t, framework.SharedCluster(t)}
	ns := k.namespace("kp-ds")
	k.apply(render(t, "ds", ns))
	n := waitDaemonSet(t, k, ns, "ds-kubepulse")
	nodes := strings.Fields(string(k.must(nil, "get", "nodes", "-l", "kubernetes.io/os=linux", "-o", "jsonpath={.items[*].metadata.name}")))
	if n != len(nodes) {
		t.Errorf("%d agent pods for %d nodes", n, len(nodes))
	}
	k.must(nil, "-n", ns, "rollout", "status", "ds/ds-kubepulse", "--timeout=60s")

	// A rolling update (new config does not restart pods: it is reloaded;
	// a new image does) completes within maxUnavailable.
	k.must(nil, "-n", ns, "set", "image", "ds/ds-kubepulse", "agent=ghcr.io/kubepulse/kubepulse:0.1.1")
	k.must(nil, "-n", ns, "rollout", "status", "ds/ds-kubepulse", "--timeout=60s")
	waitDaemonSet(t, k, ns, "ds-kubepulse")
}

// Pod Security: the emptyDir variant passes "restricted" with no warning and
// runs; the default hostPath variant is refused by "restricted" and
// "baseline" for its hostPath volume, as docs/deploy.md says.
func TestDeployPodSecurity(t *testing.T) {
	k := kube{t, framework.SharedCluster(t)}
	restricted := k.namespace("kp-restricted", "pod-security.kubernetes.io/enforce: restricted",
		"pod-security.kubernetes.io/warn: restricted", "pod-security.kubernetes.io/audit: restricted")
	out := k.apply(render(t, "psa", restricted, "checkpoint.type=emptyDir"))
	if strings.Contains(out, "Warning") {
		t.Fatalf("emptyDir variant warned in a restricted namespace:\n%s", out)
	}
	waitDaemonSet(t, k, restricted, "psa-kubepulse")

	for level, wants := range map[string][]string{
		"restricted": {`violate PodSecurity "restricted`, `"hostPath"`, "runAsNonRoot != true"},
		"baseline":   {`violate PodSecurity "baseline`, "hostPath"},
	} {
		ns := k.namespace("kp-"+level, "pod-security.kubernetes.io/enforce: "+level)
		out, err := k.combined(render(t, "psa", ns), "apply", "--dry-run=server", "-f", "-")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("hostPath variant in a %s namespace: want a warning about %q, got:\n%s", level, want, out)
			}
		}
	}
}

// promtool, the real one: the rule file and the PrometheusRule the chart
// renders are valid and hold every rule, their unit tests fire and resolve
// every alert, and every dashboard query parses.
func TestDeployPromtool(t *testing.T) {
	promtool := framework.Tools(t)["PROMTOOL"]
	dir := t.TempDir()
	nRules := 0
	for _, g := range dashboards.Rules().Groups {
		nRules += len(g.Rules)
	}
	check := func(file string, want int) {
		t.Helper()
		out, err := run(nil, promtool, "check", "rules", file)
		if err != nil {
			t.Fatalf("check rules %s: %v\n%s", file, err, out)
		}
		if m := regexp.MustCompile(`SUCCESS: (\d+) rules found`).FindStringSubmatch(string(out)); m == nil || m[1] != strconv.Itoa(want) {
			t.Fatalf("check rules %s: want %d rules:\n%s", file, want, out)
		}
	}
	check(filepath.Join(framework.RepoRoot(), "dashboards", dashboards.RulesFile), nRules)

	out, err := run(nil, promtool, "test", "rules", filepath.Join(framework.RepoRoot(), "dashboards", "testdata", "rules_test.yaml"))
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("test rules: %v\n%s", err, out)
	}

	// A PrometheusRule's spec is a rule file.
	for name, c := range map[string]struct {
		set  []string
		want int
	}{
		"all":          {[]string{"prometheusRule.enabled=true"}, nRules},
		"one disabled": {[]string{"prometheusRule.enabled=true", "prometheusRule.disabled={KubeAPIClientThrottled}"}, nRules - 1},
		"extra labels": {[]string{"prometheusRule.enabled=true", "prometheusRule.additionalRuleLabels.team=platform"}, nRules},
	} {
		for _, obj := range docs(t, render(t, "rules", "monitoring", c.set...)) {
			if kindOf(obj) != "PrometheusRule" {
				continue
			}
			spec, err := json.Marshal(obj["spec"])
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
			if err := os.WriteFile(file, spec, 0o644); err != nil {
				t.Fatal(err)
			}
			check(file, c.want)
		}
	}

	// Every dashboard query, as a recording rule, parses.
	qs := dashboardQueries(t, map[string]string{"cluster": "", "node": ".*", "verb": "get", "resource": "nodes", "scope": "resource", "phase": "server"}, "5m")
	var rules []map[string]string
	for i, q := range qs {
		rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard_query_%d", i), "expr": q.expr})
	}
	file := filepath.Join(dir, "dashboard-queries.yaml")
	b, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboards", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	check(file, len(qs))
}

// A real Prometheus scrapes the real API server with kubepulse's rules: the
// recording rule that puts apiserver_request_sli_duration_seconds into
// kubepulse's terms yields kubepulse's label values (lower-case verbs,
// group-qualified resources) from the API server's own metrics, and every
// dashboard query that reads only the API server returns data.
func TestDeployAPIServerQueries(t *testing.T) {
	c := framework.SharedCluster(t)
	framework.Tools(t)
	host := strings.TrimPrefix(c.Env["KUBE_E2E_APISERVER"], "https://")
	cfg := writePromConfig(t, t.TempDir(), promTargets{
		APIServer: host, CAFile: c.Env["KUBE_E2E_CA_FILE"], Token: c.Env["KUBE_E2E_ADMIN_TOKEN"],
		Rules: []string{filepath.Join(framework.RepoRoot(), "dashboards", dashboards.RulesFile)},
	})
	prom := framework.Start(t, "prometheus", "--config", cfg)
	url := prom["PROMETHEUS_URL"]

	var key framework.PromSample
	framework.Eventually(t, 60*time.Second, func() (bool, string) {
		// kwok renews every fake node's Lease: PUT, group coordination.k8s.io.
		r, err := framework.PromQuery(url, dashboards.RecServerCallP99+`{verb="update", scope="resource", resource="leases.coordination.k8s.io"}`)
		if err != nil || len(r) == 0 {
			all, _ := framework.PromQuery(url, "count by (verb, resource, scope) ("+dashboards.RecServerCallP99+")")
			return false, fmt.Sprintf("%v; recorded keys: %v", err, all)
		}
		key = r[0]
		return true, ""
	})
	all, err := framework.PromQuery(url, dashboards.RecServerCallP99)
	if err != nil {
		t.Fatal(err)
	}
	verbs := regexp.MustCompile(`^(get|list|watch|create|update|patch|apply|delete|deletecollection|connect)$`)
	for _, s := range all {
		if !verbs.MatchString(s.Metric["verb"]) || s.Metric["group"] != "" || s.Metric["subresource"] != "" ||
			strings.HasSuffix(s.Metric["resource"], ".") || strings.HasSuffix(s.Metric["resource"], "/") {
			t.Errorf("series not in kubepulse's terms: %v", s.Metric)
		}
	}
	t.Logf("%d API server keys in kubepulse's terms, e.g. %v", len(all), key.Metric)

	var serverOnly []promQuery
	for _, q := range dashboardQueries(t, map[string]string{"cluster": "", "node": ".*", "verb": key.Metric["verb"],
		"resource": key.Metric["resource"], "scope": key.Metric["scope"], "phase": "server"}, "1m") {
		if !strings.Contains(q.expr, "kubepulse_") {
			serverOnly = append(serverOnly, q)
		}
	}
	if len(serverOnly) == 0 {
		t.Fatal("no dashboard query reads the API server alone")
	}
	requireData(t, url, serverOnly, 60*time.Second)
}
