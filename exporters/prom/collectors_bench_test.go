package prom

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// benchBaselines returns n keys spread like an agent's: verbs × resources ×
// phases, every stat known.
func benchBaselines(n int) baselines {
	verbs := []string{"get", "list", "create", "update", "patch", "delete", "watch"}
	phases := []string{"total", "dns", "connect", "tls", "conn_wait", "server", "transfer"}
	out := make(baselines, n)
	for i := range out {
		out[i] = Baseline{
			Verb: verbs[i%len(verbs)], Resource: fmt.Sprintf("resource%d", i/(len(verbs)*len(phases))),
			Scope: "namespace", Phase: phases[(i/len(verbs))%len(phases)], State: StateNormal,
			Samples: uint64(i), Mean: 0.01, StdDev: 0.002, P50: 0.009, P95: 0.02, P99: 0.03, Score: 0.1,
		}
	}
	return out
}

// gaugeVecPeer is the conventional alternative to a scrape-time collector:
// GaugeVecs holding the same series, set whenever a baseline changes (the
// setting is not measured here, only the scrape).
func gaugeVecPeer(reg *prometheus.Registry, bs baselines) {
	labels := append(keyLabels[:len(keyLabels):len(keyLabels)], "stat")
	seconds := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kubepulse_baseline_seconds", Help: "h"}, labels)
	score := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kubepulse_anomaly_score", Help: "h"}, keyLabels)
	samples := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kubepulse_baseline_samples", Help: "h"}, keyLabels)
	state := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kubepulse_baseline_state", Help: "h"},
		append(keyLabels[:len(keyLabels):len(keyLabels)], "state"))
	reg.MustRegister(seconds, score, samples, state)
	for _, b := range bs {
		k := []string{b.Verb, b.Resource, b.Scope, b.Phase, b.Probe}
		for stat, v := range map[string]float64{"ewma_mean": b.Mean, "ewma_stddev": b.StdDev, "p50": b.P50, "p95": b.P95, "p99": b.P99} {
			seconds.WithLabelValues(append(k, stat)...).Set(v)
		}
		score.WithLabelValues(k...).Set(b.Score)
		samples.WithLabelValues(k...).Set(float64(b.Samples))
		state.WithLabelValues(append(k, b.State)...).Set(1)
	}
}

// constMetricCollector is the textbook scrape-time collector (client_golang's
// example_clustermanager_test.go): MustNewConstMetric for every series. It is
// what BaselineCollector was before its series were built in one block per
// key, kept here as a peer.
type constMetricCollector struct {
	src BaselineSource
	c   *BaselineCollector // for the Descs
}

func (c constMetricCollector) Describe(ch chan<- *prometheus.Desc) { c.c.Describe(ch) }

func (c constMetricCollector) Collect(ch chan<- prometheus.Metric) {
	c.src.EachBaseline(func(b Baseline) {
		k := [...]string{b.Verb, b.Resource, b.Scope, b.Phase, b.Probe, ""}
		for i, v := range [...]float64{b.Mean, b.StdDev, b.P50, b.P95, b.P99} {
			k[5] = statPairs[i].GetValue()
			ch <- prometheus.MustNewConstMetric(c.c.seconds, prometheus.GaugeValue, v, k[:]...)
		}
		ch <- prometheus.MustNewConstMetric(c.c.score, prometheus.GaugeValue, b.Score, k[:5]...)
		ch <- prometheus.MustNewConstMetric(c.c.samples, prometheus.GaugeValue, float64(b.Samples), k[:5]...)
		k[5] = b.State
		ch <- prometheus.MustNewConstMetric(c.c.stat, prometheus.GaugeValue, 1, k[:]...)
	})
}

// BenchmarkBaselineScrape is the cost of one scrape of the baselines (gather
// and encode in the text format), for the scrape-time collector and for
// GaugeVecs holding the same 8 series per key.
//
// constmetric is the same collector written with MustNewConstMetric.
//
//	go test -run '^$' -bench BaselineScrape -benchmem ./exporters/prom/
func BenchmarkBaselineScrape(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		bs := benchBaselines(n)
		for _, impl := range []struct {
			name string
			reg  func() *prometheus.Registry
		}{
			{"collector", func() *prometheus.Registry {
				reg := prometheus.NewRegistry()
				reg.MustRegister(NewBaselineCollector(bs))
				return reg
			}},
			{"constmetric", func() *prometheus.Registry {
				reg := prometheus.NewRegistry()
				reg.MustRegister(constMetricCollector{src: bs, c: NewBaselineCollector(bs)})
				return reg
			}},
			{"gaugevec", func() *prometheus.Registry {
				reg := prometheus.NewRegistry()
				gaugeVecPeer(reg, bs)
				return reg
			}},
		} {
			b.Run(fmt.Sprintf("keys=%d/%s", n, impl.name), func(b *testing.B) {
				reg := impl.reg()
				enc := func() {
					mfs, err := reg.Gather()
					if err != nil {
						b.Fatal(err)
					}
					e := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
					series := 0
					for _, mf := range mfs {
						series += len(mf.GetMetric())
						if err := e.Encode(mf); err != nil {
							b.Fatal(err)
						}
					}
					if series != 8*n {
						b.Fatalf("%d series, want %d", series, 8*n)
					}
				}
				b.ReportAllocs()
				for b.Loop() {
					enc()
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(8*n), "ns/series")
			})
		}
	}
}

// BenchmarkAuthCached is what authorization adds to a scrape whose token and
// decision are cached (every scrape but one a minute): a salted SHA-256 of
// the token and two LRU lookups.
func BenchmarkAuthCached(b *testing.B) {
	api := newFakeAPIServer()
	az, err := newAuthorizer(AuthOptions{Client: api.clientset()}, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	h := az.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest("GET", "/metrics", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		r.Header.Set("Authorization", "Bearer prometheus-token") // the middleware removes it
		h.ServeHTTP(w, r)
	}
	if trs, _ := api.calls(); trs != 1 || w.Code != 200 {
		b.Fatalf("%d TokenReviews, code %d; want 1 and 200", trs, w.Code)
	}
}
