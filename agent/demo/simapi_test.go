package demo

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
)

// TestSimServerWithClientGo drives the simulated API server with client-go's
// own clients, as the agent does: it must decode every answer.
func TestSimServerWithClientGo(t *testing.T) {
	sim := NewSimServer(SimOptions{ClusterNodes: 250, LeaseRenewal: 50 * time.Millisecond, Seed: 1})
	defer sim.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs := kubernetes.NewForConfigOrDie(sim.RestConfig())

	n, err := cs.CoreV1().Nodes().Get(ctx, "demo-node", metav1.GetOptions{ResourceVersion: "0"})
	if err != nil || n.Name != "demo-node" {
		t.Fatalf("get node: %v %v", n, err)
	}
	if _, err := cs.CoreV1().Nodes().Get(ctx, "demo-node", metav1.GetOptions{}); err != nil {
		t.Fatalf("quorum get node: %v", err)
	}
	if sim.Requests(NodeCached) != 1 || sim.Requests(NodeQuorum) != 1 {
		t.Errorf("cached/quorum requests = %d/%d, want 1/1", sim.Requests(NodeCached), sim.Requests(NodeQuorum))
	}
	pods, err := cs.CoreV1().Pods("kubepulse").List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", "demo-node").String(), ResourceVersion: "0"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("list pods: %v %v", pods, err)
	}
	md := metadata.NewForConfigOrDie(sim.RestConfig())
	nodes, err := md.Resource(schema.GroupVersionResource{Version: "v1", Resource: "nodes"}).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatalf("metadata list nodes: %v", err)
	}
	if len(nodes.Items) != 1 || nodes.RemainingItemCount == nil || *nodes.RemainingItemCount != 249 {
		t.Fatalf("list nodes limit=1: %d items, remaining %v; want 1 and 249", len(nodes.Items), nodes.RemainingItemCount)
	}
	if _, err := cs.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("the simulated server answered a call it does not serve")
	}

	w, err := cs.CoordinationV1().Leases("kube-node-lease").Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", "demo-node").String()})
	if err != nil {
		t.Fatalf("watch lease: %v", err)
	}
	defer w.Stop()
	var last string
	for i := 0; i < 3; i++ {
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Modified {
				t.Fatalf("event %d: %v %v", i, ev.Type, ev.Object)
			}
			l := ev.Object.(interface{ GetResourceVersion() string }).GetResourceVersion()
			if l == last {
				t.Errorf("event %d repeats resourceVersion %s", i, l)
			}
			last = l
		case <-ctx.Done():
			t.Fatal("no lease renewal delivered")
		}
	}
}

func TestSimServerSlowdown(t *testing.T) {
	sim := NewSimServer(SimOptions{Latencies: map[Endpoint]Latency{Readyz: {Median: 2 * time.Millisecond}}})
	defer sim.Close()
	sim.SetSlowdown(Readyz, 10)
	if d := sim.delay(Readyz); d != 20*time.Millisecond {
		t.Errorf("slowed delay = %v, want 20ms", d)
	}
	sim.SetSlowdown(Readyz, 1)
	if d := sim.delay(Readyz); d != 2*time.Millisecond {
		t.Errorf("restored delay = %v, want 2ms", d)
	}
}
