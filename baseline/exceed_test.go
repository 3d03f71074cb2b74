package baseline

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/baseline/window"
)

// TestExceedanceCalibration simulates the exceedance chart's recursion
// (exAdvance, the default threshold, the increments of a full window) on
// independent categories with their nominal chances: its in-control run
// length, and how soon it finds a normal series shifted by 1.5, 2 and 3
// standard deviations (the categories' chances then follow from the
// normal distribution). These are the numbers the package doc and
// BENCHMARKS.md quote; the chart needs no spread, so they hold for any
// distribution whose samples are independent.
func TestExceedanceCalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 60 million samples")
	}
	h := DefaultConfig().Detector.ExceedanceThreshold
	nom := [3]float64{exLoQ, exHiQ - exLoQ, 1 - exHiQ}
	var inc [3]float64
	for k := range inc {
		inc[k] = math.Log(exAlt[k] / nom[k])
	}
	r := rand.New(rand.NewPCG(1, 2))
	draw := func(p [3]float64) float64 {
		u := r.Float64()
		switch {
		case u < p[2]:
			return inc[2]
		case u < p[2]+p[1]:
			return inc[1]
		}
		return inc[0]
	}
	const n = 60_000_000
	var s, span float64
	alarms := 0
	for range n {
		if s, span = exAdvance(s, span, draw(nom), 1); s >= h {
			alarms++
			s, span = 0, 0
		}
	}
	arl := float64(n) / float64(max(alarms, 1))
	normal := func(z float64) float64 { return 0.5 * math.Erfc(z/math.Sqrt2) } // P(Z > z)
	delays := map[float64][]int{}
	for _, shift := range []float64{1.5, 2, 3} {
		p2 := normal(exZHi - shift)
		p1 := normal(exZLo-shift) - p2
		p := [3]float64{1 - p1 - p2, p1, p2}
		for range 4000 {
			var s, span float64
			for range 200 { // a random start, as after any stretch of normal
				if s, span = exAdvance(s, span, draw(nom), 1); s >= h {
					s, span = 0, 0
				}
			}
			d := 0
			for s, span = exAdvance(s, span, draw(p), 1); s < h && d < 1000; s, span = exAdvance(s, span, draw(p), 1) {
				d++
			}
			delays[shift] = append(delays[shift], d)
		}
		slices.Sort(delays[shift])
	}
	q := func(shift, p float64) int { return delays[shift][int(p*float64(len(delays[shift])-1))] }
	t.Logf("h %v: in-control run length %.0f samples (%.2f alarms a week at 10 s); samples after the first shifted one (median / p90 / p99): 1.5σ %d/%d/%d, 2σ %d/%d/%d, 3σ %d/%d/%d; all above p99: %.0f, all p90–p99: %.0f",
		h, arl, 60480/arl, q(1.5, .5), q(1.5, .9), q(1.5, .99), q(2, .5), q(2, .9), q(2, .99), q(3, .5), q(3, .9), q(3, .99),
		math.Ceil(h/inc[2])-1, math.Ceil(h/inc[1])-1)
	// Held to about a quarter of the CUSUM's false-alarm rate (its run
	// length is about 235,000 samples): two charts watching the same
	// series keep the key within the same target.
	if arl < 600_000 || q(2, .5) > 7 || q(3, .5) > 4 {
		t.Errorf("calibration moved: run length %.0f (want ≥ 600,000), 2σ median delay %d (want ≤ 7), 3σ %d (want ≤ 4)", arl, q(2, .5), q(3, .5))
	}
}

// TestNominalExceedanceChance: a new sample exceeds a window's quantile
// (read as the window reads it, between its bins) about as often as
// nominal says, for a young window of a few dozen samples (its quantiles
// are exceeded more often than 1 − q) as for a full one, for the two
// quantiles the chart cuts at.
func TestNominalExceedanceChance(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	l := window.Layout{Length: time.Hour, Buckets: 6, Bins: 64, Width: math.Log1p(2 * 0.02)}
	for _, n := range []int{30, 34, 60, 99, 100, 300} {
		const trials = 20000
		var lo, hi int
		for range trials {
			w, _ := window.New(l)
			for i := range n {
				w.Add(1.2*r.NormFloat64(), int64(i))
			}
			x := 1.2 * r.NormFloat64()
			if x > w.Quantile(exLoQ) {
				lo++
			}
			if x > w.Quantile(hiQ(uint64(n))) {
				hi++
			}
		}
		fn := float64(n)
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"p90", float64(lo) / trials, nominal(exLoQ, fn)},
			{"top", float64(hi) / trials, nominal(hiQ(uint64(n)), fn)},
		} {
			// Binomial noise plus the bins' resolution.
			if tol := 4*math.Sqrt(c.want*(1-c.want)/trials) + 0.1*c.want; math.Abs(c.got-c.want) > tol {
				t.Errorf("n %d %s: exceeded %.4f of the time, nominal %.4f", n, c.name, c.got, c.want)
			}
		}
	}
}

// TestExceedanceStandsDownOnWanderingSeries: a metric whose samples run
// together (AR(1) with φ ≥ 0.8 at 1 minute: its exceedances come in runs)
// is not judged by the chart, which would take a run for a shift; the
// latency of independent calls is.
func TestExceedanceStandsDownOnWanderingSeries(t *testing.T) {
	for _, tc := range []struct {
		name string
		phi  float64
		on   bool
	}{{"independent", 0, true}, {"AR(1) φ 0.8", 0.8, false}, {"AR(1) φ 0.9", 0.9, false}, {"AR(1) φ 0.97", 0.97, false}} {
		r := rand.New(rand.NewPCG(5, 5))
		d := mustDetector(t, DefaultConfig(), 0)
		ar, on, looks := 0.0, 0, 0
		for i := range 10000 {
			ar = tc.phi*ar + 0.1*r.NormFloat64()
			d.Observe(20*math.Exp(ar), t0.Add(time.Duration(i)*time.Minute))
			if i > 2000 && i%10 == 0 {
				looks++
				if d.ex.ready && d.ex.unit > 0 {
					on++
				}
			}
		}
		if share := float64(on) / float64(looks); tc.on && share < 0.95 || !tc.on && share > 0.05 {
			t.Errorf("%s: the chart ran on %.0f%% of the samples", tc.name, 100*share)
		}
	}
}

// busyProbe draws the latency of a probe on a busy machine, as the agent's
// end-to-end test recorded it: a 1.5 ms fast path for about half the
// calls, a slow path spread over two decades for the rest.
func busyProbe(r *rand.Rand) float64 {
	if r.Float64() < 0.55 {
		return 0.0015 * math.Exp(2.2+r.NormFloat64())
	}
	return 0.0015 * math.Exp(0.15*r.NormFloat64())
}

// TestExceedanceAlertUnlearnsItsExcursion: when the exceedance chart fires
// on a young key (its baseline a running mean of 34 noisy samples), the
// baseline goes back to what it was when the chart's excursion began — at
// the shift, or a sample or two before it if noise started it — so the
// alert reports the shift against the normal it interrupted (without the
// rollback the baseline would have doubled) and stays firing while the
// shift lasts.
func TestExceedanceAlertUnlearnsItsExcursion(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 8))
		d := mustDetector(t, DefaultConfig(), 0)
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
		const warm = 34
		for i := range warm {
			d.Observe(busyProbe(r), at(i))
		}
		before, _ := d.baseline()
		var evs []Event
		for i := warm; i < warm+120; i++ {
			if ev, ok := d.Observe(busyProbe(r)+0.174, at(i)); ok {
				evs = append(evs, ev)
			}
		}
		if len(evs) != 1 || evs[0].Kind != KindFiring || evs[0].At.After(at(warm+8)) {
			t.Fatalf("seed %d: events %v, want one firing within 8 samples that lasts while the shift does", seed, evs)
		}
		if got := evs[0].BaselineMean; got > 1.25*before || got < before/1.5 {
			t.Errorf("seed %d: the alert reports a baseline of %.4g, was %.4g before the shift", seed, got, before)
		}
	}
}
