package ewma

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestLogMatchesMathLog(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 1_000_000; i++ {
		x := math.Exp(r.NormFloat64() * 30)
		got, want := Log(x), math.Log(x)
		if d := math.Abs(got-want) / math.Max(math.Abs(want), 1); d > 1e-14 {
			t.Fatalf("Log(%v) = %v, math.Log = %v (relative error %g)", x, got, want, d)
		}
	}
	for _, x := range []float64{0, -1, math.NaN(), math.Inf(1), math.SmallestNonzeroFloat64, 1, math.MaxFloat64} {
		got, want := Log(x), math.Log(x)
		if !(got == want || math.IsNaN(got) && math.IsNaN(want)) && math.Abs(got-want) > 1e-12*math.Abs(want) {
			t.Errorf("Log(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestOneMinusExpMatchesExpm1(t *testing.T) {
	for x := 0.0; x < 3; x += 1e-4 {
		got, want := OneMinusExp(x), -math.Expm1(-x)
		if d := math.Abs(got - want); d > 1e-13*want {
			t.Fatalf("OneMinusExp(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestAlphaDecaysByElapsedTime(t *testing.T) {
	cases := []struct {
		dt, h, want float64
	}{
		{0, 60, 0},
		{-5, 60, 0},
		{60, 60, 0.5},   // one half-life: the past keeps half its weight
		{120, 60, 0.75}, // two
		{1, 0, 1},
	}
	for _, c := range cases {
		if got := Alpha(c.dt, c.h); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Alpha(%v, %v) = %v, want %v", c.dt, c.h, got, c.want)
		}
	}
	// Two samples 30 s apart decay exactly like one sample 60 s later.
	a1 := Alpha(30, 60)
	if got := 1 - (1-a1)*(1-a1); math.Abs(got-Alpha(60, 60)) > 1e-12 {
		t.Errorf("decay is not compositional: %v vs %v", got, Alpha(60, 60))
	}
}

func TestMomentsMatchWeightedStatistics(t *testing.T) {
	// Irregularly spaced samples: the EWMA equals the explicitly weighted
	// mean and variance with weights 2^(−age/h).
	r := rand.New(rand.NewPCG(3, 3))
	const h = 50.0
	var m Moments
	var xs, ts []float64
	now := 0.0
	for i := range 400 {
		now += r.Float64() * 20
		x := r.NormFloat64()*2 + 10
		xs, ts = append(xs, x), append(ts, now)
		if i == 0 {
			m.Reset(x, 0)
			continue
		}
		m.Add(x, Alpha(ts[i]-ts[i-1], h))
	}
	// Explicit weights: the first sample holds the initial weight.
	var sw, mean float64
	w := make([]float64, len(xs))
	for i := range xs {
		if i == 0 {
			w[i] = math.Exp2(-(now - ts[1]) / h)
		} else {
			w[i] = Alpha(ts[i]-ts[i-1], h) * math.Exp2(-(now-ts[i])/h)
		}
		sw += w[i]
	}
	for i := range xs {
		mean += w[i] * xs[i] / sw
	}
	if math.Abs(mean-m.Mean) > 1e-9 {
		t.Errorf("mean %v, explicit %v", m.Mean, mean)
	}
	if m.Var <= 0 || math.Abs(math.Sqrt(m.Var)-2) > 0.6 {
		t.Errorf("stddev %v, want about 2", math.Sqrt(m.Var))
	}
}

func TestSpacingIgnoresGapsAndDuplicates(t *testing.T) {
	var s Spacing
	for range 100 {
		s.Add(10)
	}
	s.Add(0)
	s.Add(-3)
	s.Add(86400) // a day-long gap counts as at most 8 spacings, once
	if s.Typical < 10 || s.Typical > 13 {
		t.Errorf("typical spacing %v after one long gap, want about 10", s.Typical)
	}
	for range 200 {
		s.Add(60)
	}
	if math.Abs(s.Typical-60) > 1 {
		t.Errorf("typical spacing %v after the rate changed, want 60", s.Typical)
	}
}

func BenchmarkLog(b *testing.B) {
	x := 1.0
	var sink float64
	b.Run("ewma.Log", func(b *testing.B) {
		for i := range b.N {
			sink += Log(x + float64(i&1023))
		}
	})
	b.Run("math.Log", func(b *testing.B) {
		for i := range b.N {
			sink += math.Log(x + float64(i&1023))
		}
	})
	_ = sink
}
