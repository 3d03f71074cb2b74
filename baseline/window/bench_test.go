package window

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
)

// The peer: a ring of DDSketches (one per time bucket, 2 % relative accuracy,
// collapsing at 64 bins like ours) merged at query time, since DDSketch
// cannot subtract an expired bucket from a running total.
type ddWindow struct {
	ring   []*ddsketch.DDSketch
	head   int64
	cur    int
	bucket int64
}

func newDDWindow() *ddWindow {
	w := &ddWindow{ring: make([]*ddsketch.DDSketch, 6), bucket: int64(10 * time.Minute)}
	for i := range w.ring {
		w.ring[i], _ = ddsketch.LogCollapsingLowestDenseDDSketch(0.02, 64)
	}
	return w
}

func (w *ddWindow) add(v float64, t int64) {
	e := t / w.bucket
	for ; w.head < e; w.head++ {
		w.cur = (w.cur + 1) % len(w.ring)
		w.ring[w.cur].Clear()
	}
	_ = w.ring[w.cur].Add(v)
}

func (w *ddWindow) quantile(q float64) float64 {
	m := w.ring[0].Copy()
	for _, s := range w.ring[1:] {
		_ = m.MergeWith(s)
	}
	v, _ := m.GetValueAtQuantile(q)
	return v
}

var defaultLayout = Layout{Length: time.Hour, Buckets: 6, Bins: 64, Width: math.Log1p(2 * 0.02)}

func latencies(n int) ([]float64, []int64) {
	r := rand.New(rand.NewPCG(3, 4))
	vs, ts := make([]float64, n), make([]int64, n)
	for i := range n {
		vs[i] = 0.05 * math.Exp(0.4*r.NormFloat64())
		ts[i] = int64(i) * int64(time.Second)
	}
	return vs, ts
}

// BenchmarkAdd: one sample into the sliding window (ours is fed log values,
// as package baseline does).
func BenchmarkAdd(b *testing.B) {
	vs, ts := latencies(1 << 16)
	lv := make([]float64, len(vs))
	for i, v := range vs {
		lv[i] = math.Log(v)
	}
	b.Run("window", func(b *testing.B) {
		w, _ := New(defaultLayout)
		b.ReportAllocs()
		for i := range b.N {
			j := i & (len(vs) - 1)
			w.Add(lv[j], ts[j]+int64(i>>16)*int64(time.Hour)*24)
		}
	})
	b.Run("ddsketch", func(b *testing.B) {
		w := newDDWindow()
		b.ReportAllocs()
		for i := range b.N {
			j := i & (len(vs) - 1)
			w.add(vs[j], ts[j]+int64(i>>16)*int64(time.Hour)*24)
		}
	})
}

// BenchmarkQuantile: p99 of a full window.
func BenchmarkQuantile(b *testing.B) {
	vs, ts := latencies(3600)
	w, _ := New(defaultLayout)
	dd := newDDWindow()
	for i := range vs {
		w.Add(math.Log(vs[i]), ts[i])
		dd.add(vs[i], ts[i])
	}
	b.Run("window", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = math.Exp(w.Quantile(0.99))
		}
	})
	b.Run("ddsketch", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = dd.quantile(0.99)
		}
	})
}

// BenchmarkMemoryAndAccuracy reports bytes per window (heap, measured over
// 2,000 full windows) and the relative error of p99 against the exact p99.
func BenchmarkMemoryAndAccuracy(b *testing.B) {
	vs, ts := latencies(3600)
	sorted := slices.Clone(vs)
	slices.Sort(sorted)
	exactP99 := sorted[int(0.99*float64(len(sorted)-1)+0.5)]
	const n = 2000
	measure := func(b *testing.B, build func() any, p99 func(any) float64) {
		for range b.N {
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			keep := make([]any, n)
			for i := range keep {
				keep[i] = build()
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/n, "bytes/window")
			b.ReportMetric(100*math.Abs(p99(keep[0])/exactP99-1), "p99-error-%")
			runtime.KeepAlive(keep)
		}
	}
	b.Run("window", func(b *testing.B) {
		measure(b, func() any {
			w, _ := New(defaultLayout)
			for i := range vs {
				w.Add(math.Log(vs[i]), ts[i])
			}
			return w
		}, func(x any) float64 { return math.Exp(x.(*Window).Quantile(0.99)) })
	})
	b.Run("ddsketch", func(b *testing.B) {
		measure(b, func() any {
			w := newDDWindow()
			for i := range vs {
				w.add(vs[i], ts[i])
			}
			return w
		}, func(x any) float64 { return x.(*ddWindow).quantile(0.99) })
	})
}
