//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/exporters/prom"
	"github.com/kubepulse/kubepulse/test/e2e/framework"
)

// instrumentObservations keeps every Observation of the test's client.
type instrumentObservations struct {
	mu  sync.Mutex
	all []instrument.Observation
}

func (c *instrumentObservations) Report(o instrument.Observation) {
	c.mu.Lock()
	c.all = append(c.all, o)
	c.mu.Unlock()
}

func (c *instrumentObservations) snapshot() []instrument.Observation {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]instrument.Observation(nil), c.all...)
}

// TestInstrumentAgainstKubeAPIServer drives a real clientset and a real
// informer through instrument.Wrap against kube-apiserver + etcd, and checks
// what was classified, timed, traced and exported.
func TestInstrumentAgainstKubeAPIServer(t *testing.T) {
	cluster := framework.SharedCluster(t)
	obs := &instrumentObservations{}
	reg := prometheus.NewRegistry()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(t.Context()) }()
	cfg := instrument.Wrap(cluster.AdminConfig(t), instrument.WithReporter(obs),
		instrument.WithReporter(prom.NewRecorder(reg)), instrument.WithTracerProvider(tp))
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ns := fmt.Sprintf("instrument-e2e-%d", time.Now().UnixNano()%1_000_000)

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	must("create namespace", err)
	defer func() { _ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}) }()

	// An informer: list, then a watch that sees what we create next.
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
	cmInformer := factory.Core().V1().ConfigMaps().Informer()
	stop := make(chan struct{})
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), cmInformer.HasSynced) {
		t.Fatal("informer did not sync")
	}

	cms := cs.CoreV1().ConfigMaps(ns)
	_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"a": "1"}}, metav1.CreateOptions{})
	must("create configmap", err)
	_, err = cms.Get(ctx, "cm", metav1.GetOptions{})
	must("get configmap", err)
	_, err = cms.Patch(ctx, "cm", types.MergePatchType, []byte(`{"data":{"b":"2"}}`), metav1.PatchOptions{})
	must("patch configmap", err)
	_, err = cms.Apply(ctx, applycorev1.ConfigMap("applied", ns).WithData(map[string]string{"c": "3"}),
		metav1.ApplyOptions{FieldManager: "kubepulse-e2e"})
	must("apply configmap", err)
	_, err = cms.List(ctx, metav1.ListOptions{LabelSelector: "app=secret-selector-value"})
	must("list configmaps", err)
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		keys := cmInformer.GetStore().ListKeys()
		_, a, _ := cmInformer.GetStore().GetByKey(ns + "/cm")
		_, b, _ := cmInformer.GetStore().GetByKey(ns + "/applied")
		return a && b, fmt.Sprintf("the informer's watch has not delivered both configmaps: %v", keys)
	})

	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10"}}},
			},
		},
	}
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{})
	must("create deployment", err)
	_, err = cs.AppsV1().Deployments(ns).Patch(ctx, d.Name, types.MergePatchType,
		[]byte(`{"status":{"observedGeneration":1}}`), metav1.PatchOptions{}, "status")
	must("patch deployment status", err)
	_, err = cs.Discovery().ServerGroups()
	must("discovery", err)
	_, err = cs.Discovery().ServerVersion()
	must("version", err)
	_, err = cs.Discovery().RESTClient().Get().AbsPath("/healthz").DoRaw(ctx)
	must("healthz", err)
	must("delete configmap", cms.Delete(ctx, "cm", metav1.DeleteOptions{}))

	close(stop)
	factory.Shutdown() // the reflector closes its watch: the watch ends now
	framework.Eventually(t, 10*time.Second, func() (bool, string) {
		for _, o := range obs.snapshot() {
			if o.Key() == "watch/configmaps/namespace" {
				return true, ""
			}
		}
		return false, "no watch observation after the informer stopped"
	})

	all := obs.snapshot()
	seen := map[string]instrument.Observation{}
	for _, o := range all {
		if o.StatusCode >= 200 && o.StatusCode < 300 {
			seen[o.Key()] = o
		}
		if o.Phases.Sum() > o.Total {
			t.Errorf("%s: phases %v sum to more than total %v", o.Key(), o.Phases, o.Total)
		}
		if o.StatusCode != 0 && !o.LongRunning && (o.Phases[instrument.PhaseServer] <= 0 || o.FirstByte <= 0 || o.FirstByte > o.Total) {
			t.Errorf("%s: server phase %v, first byte %v, total %v", o.Key(), o.Phases[instrument.PhaseServer], o.FirstByte, o.Total)
		}
		if o.Key() == "watch/configmaps/namespace" && !o.LongRunning {
			t.Errorf("a watch not marked long-running: %+v", o)
		}
		if o.Protocol != instrument.ProtoHTTP2 && o.StatusCode != 0 {
			t.Errorf("%s: protocol %v, client-go talks HTTP/2 to kube-apiserver", o.Key(), o.Protocol)
		}
		if strings.Contains(o.Key(), ns) {
			t.Errorf("namespace in a key: %s", o.Key())
		}
	}
	for _, key := range []string{
		"create/namespaces/resource",
		"list/configmaps/namespace",
		"watch/configmaps/namespace",
		"create/configmaps/resource",
		"get/configmaps/resource",
		"patch/configmaps/resource",
		"apply/configmaps/resource",
		"delete/configmaps/resource",
		"create/deployments.apps/resource",
		"patch/deployments.apps/status/resource",
		"get/discovery/cluster",
		"get/version/cluster",
		"get/healthz/cluster",
	} {
		if _, ok := seen[key]; !ok {
			t.Errorf("no successful observation of %s", key)
		}
	}
	if t.Failed() {
		var keys []string
		for _, o := range all {
			keys = append(keys, fmt.Sprintf("%s=%d", o.Key(), o.StatusCode))
		}
		t.Logf("observed: %s", strings.Join(keys, " "))
	}

	// Exported metrics: a watch is never a latency sample, and nothing from
	// the request's data (namespace, names, selectors) is a label.
	mfs, err := reg.Gather()
	must("gather", err)
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), ns) || strings.Contains(l.GetValue(), "secret-selector") {
					t.Errorf("%s has label %s=%q from request data", mf.GetName(), l.GetName(), l.GetValue())
				}
				if mf.GetName() == "kubepulse_request_duration_seconds" && l.GetName() == "verb" && l.GetValue() == "watch" {
					t.Errorf("a watch in the latency histogram")
				}
			}
		}
	}

	// Spans: one per request, named by class; no selectors, tokens or headers.
	names := map[string]bool{}
	for _, s := range spans.Ended() {
		names[s.Name()] = true
		for _, kv := range s.Attributes() {
			v := kv.Value.Emit()
			if strings.Contains(v, "secret-selector") || strings.Contains(strings.ToLower(v), "bearer") {
				t.Errorf("span %s attribute %s leaks %q", s.Name(), kv.Key, v)
			}
		}
	}
	for _, n := range []string{"list configmaps", "watch configmaps", "patch deployments.apps/status", "get discovery"} {
		if !names[n] {
			t.Errorf("no span %q", n)
		}
	}
}
