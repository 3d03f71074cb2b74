// Package peerbench compares kubepulse's Alertmanager client with the peer it
// is modelled on, Prometheus' notifier, in the same run. It is a separate
// module so that Prometheus stays out of kubepulse's go.mod:
//
//	cd exporters/alertmanager/peerbench && go test -run '^$' -bench . -benchtime 2s -count 6
package peerbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/discovery/targetgroup"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"

	"github.com/kubepulse/kubepulse/exporters/alertmanager"
)

const batch = 64 // alerts changing state per iteration: one full batch for both clients

// counter is an Alertmanager stand-in that only counts the alerts it is sent,
// the same for both clients, so that the comparison is about the clients.
type counter struct {
	*httptest.Server
	mu   sync.Mutex
	cond *sync.Cond
	n    int
	buf  sync.Pool
}

func newCounter(b *testing.B) *counter {
	c := &counter{}
	c.cond = sync.NewCond(&c.mu)
	c.buf.New = func() any { return new(bytes.Buffer) }
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := c.buf.Get().(*bytes.Buffer)
		buf.Reset()
		_, _ = io.Copy(buf, r.Body)
		n := bytes.Count(buf.Bytes(), []byte(`"labels":`))
		c.buf.Put(buf)
		c.mu.Lock()
		c.n += n
		c.cond.Broadcast()
		c.mu.Unlock()
	}))
	b.Cleanup(c.Close)
	return c
}

func (c *counter) waitFor(n int) {
	c.mu.Lock()
	for c.n < n {
		c.cond.Wait()
	}
	c.mu.Unlock()
}

func labelSet(i int) map[string]string {
	return map[string]string{"alertname": "KubeAPILatencyDrift", "severity": "warning", "node": "node-1",
		"verb": "list", "resource": fmt.Sprintf("resource-%02d", i), "phase": "server"}
}

var annotations = map[string]string{
	"summary":     "list pods latency in phase server drifted above its baseline on node node-1",
	"description": "p99 412ms vs baseline 120ms (3.43× baseline, z=5.20, 1200 samples over 10m0s)",
	"runbook_url": "https://github.com/kubepulse/kubepulse/blob/main/docs/alerts.md#kubeapilatencydrift",
}

// BenchmarkDeliver/kubepulse and BenchmarkDeliver/prometheus: 64 alerts change
// state (firing, then resolved, alternately) and are delivered to 2 replicas;
// an iteration ends when both replicas have received all 64.
func BenchmarkDeliver(b *testing.B) {
	b.Run("kubepulse", func(b *testing.B) {
		r1, r2 := newCounter(b), newCounter(b)
		c, err := alertmanager.New(alertmanager.Options{URLs: []string{r1.URL, r2.URL},
			ExternalLabels: map[string]string{"cluster": "bench"}, BatchSize: batch})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		alerts := make([]alertmanager.Alert, batch)
		for i := range alerts {
			alerts[i] = alertmanager.Alert{Labels: labelSet(i), Annotations: annotations, StartsAt: time.Now()}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			for _, a := range alerts {
				if i%2 == 0 {
					_ = c.Firing(a)
				} else {
					_ = c.Resolved(a, time.Time{})
				}
			}
			r1.waitFor((i + 1) * batch)
			r2.waitFor((i + 1) * batch)
		}
		b.StopTimer()
		cancel()
		<-done
	})

	b.Run("prometheus", func(b *testing.B) {
		r1, r2 := newCounter(b), newCounter(b)
		cfg, err := config.Load(`
global:
  external_labels: {cluster: bench}
alerting:
  alertmanagers:
    - api_version: v2
      static_configs: [{targets: []}]
`, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		n := notifier.NewManager(&notifier.Options{QueueCapacity: 10000, MaxBatchSize: batch}, model.UTF8Validation,
			slog.New(slog.DiscardHandler))
		if err := n.ApplyConfig(cfg); err != nil {
			b.Fatal(err)
		}
		tsets := make(chan map[string][]*targetgroup.Group, 1)
		tsets <- map[string][]*targetgroup.Group{"config-0": {{Targets: []model.LabelSet{
			{model.AddressLabel: model.LabelValue(strings.TrimPrefix(r1.URL, "http://"))},
			{model.AddressLabel: model.LabelValue(strings.TrimPrefix(r2.URL, "http://"))},
		}}}}
		go n.Run(tsets)
		for len(n.Alertmanagers()) != 2 { // discovery applied
			time.Sleep(time.Millisecond)
		}
		var firing, resolved []*notifier.Alert
		for i := range batch {
			lbls := labels.FromMap(labelSet(i))
			now := time.Now()
			firing = append(firing, &notifier.Alert{Labels: lbls, Annotations: labels.FromMap(annotations),
				StartsAt: now, EndsAt: now.Add(4 * time.Minute)})
			resolved = append(resolved, &notifier.Alert{Labels: lbls, Annotations: labels.FromMap(annotations),
				StartsAt: now, EndsAt: now})
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%2 == 0 {
				n.Send(firing...)
			} else {
				n.Send(resolved...)
			}
			r1.waitFor((i + 1) * batch)
			r2.waitFor((i + 1) * batch)
		}
		b.StopTimer()
		n.Stop()
	})
}

// BenchmarkCall is what the caller pays to hand over one state change (the
// sending happens on other goroutines, which this includes only as far as
// they run meanwhile): kubepulse's Firing of a new alert vs the notifier's
// Send of one alert, with both replicas accepting everything.
func BenchmarkCall(b *testing.B) {
	b.Run("kubepulse", func(b *testing.B) {
		r1, r2 := newCounter(b), newCounter(b)
		c, err := alertmanager.New(alertmanager.Options{URLs: []string{r1.URL, r2.URL}, QueueCapacity: 100000})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		a := alertmanager.Alert{Labels: labelSet(0), Annotations: annotations}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			// Alternate states so that every call is a change that must be sent.
			if i%2 == 0 {
				_ = c.Firing(a)
			} else {
				_ = c.Resolved(a, time.Time{})
			}
		}
		b.StopTimer()
		cancel()
		<-done
	})
	b.Run("prometheus", func(b *testing.B) {
		r1, r2 := newCounter(b), newCounter(b)
		cfg, err := config.Load("alerting:\n  alertmanagers:\n    - api_version: v2\n      static_configs: [{targets: []}]\n",
			slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		n := notifier.NewManager(&notifier.Options{QueueCapacity: 100000, MaxBatchSize: batch}, model.UTF8Validation,
			slog.New(slog.DiscardHandler))
		if err := n.ApplyConfig(cfg); err != nil {
			b.Fatal(err)
		}
		tsets := make(chan map[string][]*targetgroup.Group, 1)
		tsets <- map[string][]*targetgroup.Group{"config-0": {{Targets: []model.LabelSet{
			{model.AddressLabel: model.LabelValue(strings.TrimPrefix(r1.URL, "http://"))},
			{model.AddressLabel: model.LabelValue(strings.TrimPrefix(r2.URL, "http://"))},
		}}}}
		go n.Run(tsets)
		for len(n.Alertmanagers()) != 2 {
			time.Sleep(time.Millisecond)
		}
		now := time.Now()
		lbls, ann := labels.FromMap(labelSet(0)), labels.FromMap(annotations)
		firing := &notifier.Alert{Labels: lbls, Annotations: ann, StartsAt: now, EndsAt: now.Add(4 * time.Minute)}
		resolved := &notifier.Alert{Labels: lbls, Annotations: ann, StartsAt: now, EndsAt: now}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if i%2 == 0 {
				n.Send(firing)
			} else {
				n.Send(resolved)
			}
		}
		b.StopTimer()
		n.Stop()
	})
}
