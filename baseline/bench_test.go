package baseline

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/VividCortex/ewma"
)

// benchSeries is a pre-generated latency series, so the benchmarks time the
// detector, not the random numbers.
func benchSeries(n int) ([]float64, []int64) {
	r := rand.New(rand.NewPCG(1, 2))
	vs, ts := make([]float64, n), make([]int64, n)
	t := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range n {
		vs[i] = 0.05 * math.Exp(0.25*r.NormFloat64())
		t += int64(time.Second) + r.Int64N(int64(time.Second))
		ts[i] = t
	}
	return vs, ts
}

// lap is how far to move the series' times on each pass over it, so that
// time keeps going forward: a pass that went back in time would leave the
// window's current bucket unrotated and every sample out of order.
func lap(ts []int64) int64 { return ts[len(ts)-1] - ts[0] + int64(2*time.Second) }

// BenchmarkObserve is Tracker.Observe on an existing key (the request path),
// against VividCortex/ewma, a count-decayed mean with no variance, window or
// detector, as the floor of what an EWMA costs.
func BenchmarkObserve(b *testing.B) {
	vs, ts := benchSeries(1 << 16)
	b.Run("tracker", func(b *testing.B) {
		tr, _ := NewTracker(Options{Config: DefaultConfig()})
		keys := make([]string, 100)
		for i := range keys {
			keys[i] = fmt.Sprintf("list/pods/namespace/server/%d", i)
			for j := range 100 {
				tr.Observe(keys[i], vs[j], time.Unix(0, ts[j]))
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			j := i & (len(vs) - 1)
			tr.Observe(keys[i%len(keys)], vs[j], time.Unix(0, ts[j]+int64(i/len(vs))*lap(ts)))
		}
	})
	b.Run("tracker-one-key", func(b *testing.B) {
		tr, _ := NewTracker(Options{Config: DefaultConfig()})
		const key = "list/pods/namespace/server"
		b.ReportAllocs()
		for i := range b.N {
			j := i & (len(vs) - 1)
			tr.Observe(key, vs[j], time.Unix(0, ts[j]+int64(i/len(vs))*lap(ts)))
		}
	})
	b.Run("tracker-parallel", func(b *testing.B) {
		tr, _ := NewTracker(Options{Config: DefaultConfig()})
		keys := make([]string, 256)
		for i := range keys {
			keys[i] = fmt.Sprintf("get/configmaps/namespace/server/%d", i)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(len(keys))
			base := time.Now().UnixNano()
			n := 0
			for pb.Next() {
				j := n & (len(vs) - 1)
				tr.Observe(keys[i], vs[j], time.Unix(0, base+int64(n)*int64(time.Second)))
				n++
			}
		})
	})
	b.Run("detector", func(b *testing.B) {
		d, _ := NewDetector(DefaultConfig(), 0)
		b.ReportAllocs()
		for i := range b.N {
			j := i & (len(vs) - 1)
			d.ObserveUnixNano(vs[j], ts[j]+int64(i/len(vs))*lap(ts))
		}
	})
	b.Run("vividcortex-ewma", func(b *testing.B) {
		e := ewma.NewMovingAverage(30)
		b.ReportAllocs()
		for i := range b.N {
			e.Add(vs[i&(len(vs)-1)])
		}
		_ = e.Value()
	})
}

// BenchmarkBytesPerKey measures the heap held per key by a tracker with the
// default configuration after every key has seen a full window of samples.
func BenchmarkBytesPerKey(b *testing.B) {
	const keys = 20000
	vs, ts := benchSeries(200)
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		cfg := DefaultConfig()
		cfg.Store.MaxKeys = keys
		tr, _ := NewTracker(Options{Config: cfg})
		for k := range keys {
			key := fmt.Sprintf("list/customresourcedefinitions/cluster/server/%05d", k)
			for j := range vs {
				tr.Observe(key, vs[j], time.Unix(0, ts[j]))
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if tr.Stats().Keys != keys {
			b.Fatalf("%d keys tracked", tr.Stats().Keys)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/keys, "bytes/key")
		runtime.KeepAlive(tr)
	}
}

// BenchmarkCheckpoint100k saves and restores 100,000 keys that each hold a
// full window.
func BenchmarkCheckpoint100k(b *testing.B) {
	const keys = 100_000
	cfg := DefaultConfig()
	cfg.Store.MaxKeys = keys
	tr, _ := NewTracker(Options{Config: cfg})
	vs, ts := benchSeries(200)
	for k := range keys {
		key := fmt.Sprintf("get/pods/namespace/server/node-%06d", k)
		for j := range vs {
			tr.Observe(key, vs[j], time.Unix(0, ts[j]))
		}
	}
	path := filepath.Join(b.TempDir(), "ckpt")
	b.Run("save", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := tr.SaveCheckpoint(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("restore", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			got, _ := NewTracker(Options{Config: cfg})
			if err := got.Restore(path); err != nil {
				b.Fatal(err)
			}
			if got.Stats().Keys != keys {
				b.Fatal("lost keys")
			}
		}
	})
}
