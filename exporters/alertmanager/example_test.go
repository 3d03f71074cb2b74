package alertmanager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/kubepulse/kubepulse/exporters/alertmanager"
)

// A detector's firing and resolved events become alerts on every replica.
func Example() {
	// A stand-in for an Alertmanager replica, printing what it receives.
	got := make(chan string, 10)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var alerts []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			EndsAt      time.Time         `json:"endsAt"`
		}
		_ = json.NewDecoder(r.Body).Decode(&alerts)
		for _, a := range alerts {
			state := "firing"
			if a.EndsAt.Before(time.Now()) {
				state = "resolved"
			}
			got <- fmt.Sprintf("%s %s %s: %s", r.URL.Path, state, a.Labels["alertname"], a.Annotations["description"])
		}
	}))
	defer am.Close()

	c, err := alertmanager.New(alertmanager.Options{
		URLs:           []string{am.URL},
		ExternalLabels: map[string]string{"cluster": "prod-eu1"},
		GeneratorURL:   "http://10.0.0.7:8080/",
	})
	if err != nil {
		log.Fatal(err) // e.g. alertmanager.urls[0]: "htp://x": want http or https URL
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	alert := alertmanager.NewAlert(alertmanager.KubeAPILatencyDrift,
		alertmanager.Target{Node: "node-1", Verb: "list", Resource: "pods", Phase: "server"},
		alertmanager.Numbers{Stat: "p99", Current: 0.412, Reference: 0.120, Z: 5.2, Samples: 1200},
		time.Now())
	_ = c.Firing(alert) // returns at once; sent now, then every minute
	fmt.Println(<-got)
	_ = c.Resolved(alert, time.Now().Add(-time.Second)) // sent now, then for 15 minutes
	fmt.Println(<-got)

	cancel()
	<-done // sends what is still queued (within DrainTimeout)
	// Output:
	// /api/v2/alerts firing KubeAPILatencyDrift: p99 412ms vs baseline 120ms (3.43× baseline, z=5.20, 1200 samples)
	// /api/v2/alerts resolved KubeAPILatencyDrift: p99 412ms vs baseline 120ms (3.43× baseline, z=5.20, 1200 samples)
}

func ExampleDescribe() {
	fmt.Println(alertmanager.Describe(alertmanager.Numbers{
		Stat: "error rate", Unit: alertmanager.Fraction, Current: 0.042, Reference: 0.003, Z: 7.25, Samples: 900,
		Window: 15 * time.Minute,
	}))
	fmt.Println(alertmanager.Describe(alertmanager.Numbers{Stat: "p99", Current: 2.5, Reference: 1, RefName: "SLO"}))
	// Output:
	// error rate 4.2% vs baseline 0.3% (14.00× baseline, z=7.25, 900 samples over 15m0s)
	// p99 2.5s vs SLO 1s (2.50× SLO)
}
