package instrument_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/exporters/prom"
)

// fakeAPIServer stands in for kube-apiserver so the example runs anywhere:
// it serves one Pod, and streams it to a watch-list (how client-go informers
// list since Kubernetes 1.35) before holding the watch open until the client
// leaves. The real thing is in test/e2e/instrument_test.go.
func fakeAPIServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Query().Get("watch") == "true":
			_, _ = io.WriteString(w, `{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0","namespace":"default","resourceVersion":"1"}}}`+"\n")
			_, _ = io.WriteString(w, `{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"1","annotations":{"k8s.io/initial-events-end":"true"}}}}`+"\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case strings.HasSuffix(r.URL.Path, "/pods"):
			_, _ = io.WriteString(w, `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"web-0","namespace":"default"}}]}`)
		default:
			_, _ = io.WriteString(w, `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0","namespace":"default"}}`)
		}
	}))
}

// One call instruments every client built from the config: clientsets,
// informers, dynamic clients. Here a clientset's Get and an informer's
// watch land in a fresh Prometheus registry.
func ExampleWrap() {
	srv := fakeAPIServer()
	defer srv.Close()

	reg := prometheus.NewRegistry()
	cfg := instrument.Wrap(&rest.Config{Host: srv.URL},
		instrument.WithReporter(prom.NewRecorder(reg)),
		// instrument.WithTracerProvider(tp), to send spans somewhere
	)
	cs := kubernetes.NewForConfigOrDie(cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pod, err := cs.CoreV1().Pods("default").Get(ctx, "web-0", metav1.GetOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("got", pod.Name)

	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	pods := factory.Core().V1().Pods().Informer()
	stop := make(chan struct{})
	factory.Start(stop)
	cache.WaitForCacheSync(ctx.Done(), pods.HasSynced)
	close(stop)
	factory.Shutdown() // the watch ends: it is counted, never a latency sample

	fmt.Println(testutil.CollectAndCount(reg, "kubepulse_request_duration_seconds"), "latency series: get")
	fmt.Println(testutil.CollectAndCount(reg, "kubepulse_longrunning_duration_seconds"), "long-running series: watch")
	// Output:
	// got web-0
	// 1 latency series: get
	// 1 long-running series: watch
}

// Observations can go anywhere: here, the slowest phase of each call.
func ExampleNewTransport() {
	srv := fakeAPIServer()
	defer srv.Close()

	rt := instrument.NewTransport(http.DefaultTransport, instrument.WithReporter(
		instrument.ReporterFunc(func(o instrument.Observation) {
			fmt.Println(o.Key(), o.StatusCode, o.Phases.Sum() == o.Total)
		})))
	resp, err := (&http.Client{Transport: rt}).Get(srv.URL + "/api/v1/namespaces/default/pods/web-0?resourceVersion=0")
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	// Output:
	// get/pods/resource 200 true
}
