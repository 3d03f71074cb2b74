package k8sdiscovery_test

import (
	"context"
	"log"
	"os/signal"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubepulse/kubepulse/exporters/alertmanager"
	"github.com/kubepulse/kubepulse/exporters/alertmanager/k8sdiscovery"
)

// Send to every ready replica behind the prometheus-operator's
// alertmanager-operated Service, following them as they come and go.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := rest.InClusterConfig()
	if err != nil {
		log.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	am, err := alertmanager.New(alertmanager.Options{}) // no static URLs: discovery sets them
	if err != nil {
		log.Fatal(err)
	}
	d, err := k8sdiscovery.New(cs, k8sdiscovery.Options{Namespace: "monitoring", Service: "alertmanager-operated", PortName: "web"}, am)
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = d.Run(ctx) }()
	_ = am.Run(ctx)
}
