package demo

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

// Load: many kinds of calls, for measuring the agent with many baseline keys.
// RunLoad sends calls of made-up resources in LoadGroup (load00 … load99)
// through a client; the simulated server answers them with small valid
// objects and lists. Each kind of call — verb, resource and scope — is a
// class of its own and feeds about four baseline keys (the whole call and the
// conn_wait, server and transfer phases).

// LoadGroup is the API group of the made-up resources.
const LoadGroup = "load.kubepulse.io"

const (
	loadVersion = "v1"
	loadPrefix  = "/apis/" + LoadGroup + "/" + loadVersion + "/"
	// loadResources is how many made-up resources there are: exactly what
	// the classifier keeps before it folds further resources into "other".
	loadResources = classify.DefaultMaxResources
)

// loadShapes are the kinds of call made on each resource, in the order the
// classes use them: single-object reads first, then collection reads, then
// writes, so that a small class count spreads over resources first.
var loadShapes = [...]string{"get", "list-namespace", "list-cluster", "create", "update", "patch", "delete"}

// MaxLoadClasses is the most distinct classes RunLoad can send.
const MaxLoadClasses = loadResources * len(loadShapes)

// LoadOptions configure RunLoad.
type LoadOptions struct {
	// Classes is how many distinct kinds of call to send (1 to
	// MaxLoadClasses).
	Classes int
	// Period is how often each class is called (default 5s); the calls are
	// spread evenly over it.
	Period time.Duration
	// Namespace holds the namespaced calls (default "default").
	Namespace string
}

// RunLoad sends the calls until ctx ends. rc should be the agent's
// instrumented client configuration; client-go's rate limiter is turned off
// (the calls are paced here), so that the load does not read as client-side
// throttling. Failed calls are counted by the instrumentation like any other
// and do not stop the load.
func RunLoad(ctx context.Context, rc *rest.Config, o LoadOptions) error {
	if o.Classes < 1 || o.Classes > MaxLoadClasses {
		return fmt.Errorf("load classes: want 1 to %d, got %d", MaxLoadClasses, o.Classes)
	}
	if o.Period <= 0 {
		o.Period = 5 * time.Second
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	rc = rest.CopyConfig(rc)
	rc.QPS = -1 // no client-side limiter: RunLoad paces the calls
	dc, err := dynamic.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("load client: %w", err)
	}
	t := time.NewTicker(o.Period / time.Duration(o.Classes))
	defer t.Stop()
	for i := 0; ; i = (i + 1) % o.Classes {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		loadCall(ctx, dc, o.Namespace, i)
	}
}

// loadCall makes the call of class i.
func loadCall(ctx context.Context, dc dynamic.Interface, ns string, i int) {
	res := dc.Resource(schema.GroupVersionResource{Group: LoadGroup, Version: loadVersion,
		Resource: fmt.Sprintf("load%02d", i%loadResources)})
	obj := res.Namespace(ns)
	name := "item"
	switch loadShapes[i/loadResources] {
	case "get":
		_, _ = obj.Get(ctx, name, metav1.GetOptions{})
	case "list-namespace":
		_, _ = obj.List(ctx, metav1.ListOptions{})
	case "list-cluster":
		_, _ = res.List(ctx, metav1.ListOptions{})
	case "create":
		_, _ = obj.Create(ctx, loadObject(ns, name), metav1.CreateOptions{})
	case "update":
		_, _ = obj.Update(ctx, loadObject(ns, name), metav1.UpdateOptions{})
	case "patch":
		_, _ = obj.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"demo":"load"}}}`), metav1.PatchOptions{})
	case "delete":
		_ = obj.Delete(ctx, name, metav1.DeleteOptions{})
	}
}

func loadObject(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(LoadGroup + "/" + loadVersion)
	u.SetKind("Load")
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// serveLoad answers a call of a made-up resource: an object for reads and
// writes of one, a list (empty) for collections, a Status for deletes.
func (s *SimServer) serveLoad(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, loadPrefix), "/"), "/")
	ns := ""
	if len(parts) >= 2 && parts[0] == "namespaces" {
		ns, parts = parts[1], parts[2:]
	}
	if len(parts) == 0 || len(parts) > 2 || !strings.HasPrefix(parts[0], "load") {
		s.status(w, http.StatusNotFound, metav1.StatusReasonNotFound, "no such load resource "+r.URL.Path)
		return
	}
	apiVersion := LoadGroup + "/" + loadVersion
	meta := map[string]any{"resourceVersion": "1"}
	switch {
	case len(parts) == 1 && r.Method == http.MethodGet:
		s.replyJSON(w, Load, map[string]any{"apiVersion": apiVersion, "kind": "LoadList", "metadata": meta, "items": []any{}})
		return
	case len(parts) == 2 && r.Method == http.MethodDelete:
		s.replyJSON(w, Load, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess})
		return
	}
	meta["name"] = "item"
	if len(parts) == 2 {
		meta["name"] = parts[1]
	}
	if ns != "" {
		meta["namespace"] = ns
	}
	s.replyJSON(w, Load, map[string]any{"apiVersion": apiVersion, "kind": "Load", "metadata": meta})
}
