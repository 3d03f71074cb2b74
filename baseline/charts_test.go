package baseline

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// firstFiring feeds n samples every step from t0 and returns the index of the
// first firing event (−1 for none) and how many firing events there were.
func firstFiring(t *testing.T, cfg Config, step time.Duration, n int, value func(i int) float64) (first, firings int) {
	t.Helper()
	d := mustDetector(t, cfg, 0)
	first = -1
	for i := range n {
		if ev, ok := d.Observe(value(i), t0.Add(time.Duration(i)*step)); ok && ev.Kind == KindFiring {
			if first < 0 {
				first = i
			}
			firings++
		}
	}
	return first, firings
}

// TestCUSUMDetectsSustainedShiftFaster: a sustained shift of two standard
// deviations (+50 % at σ = 0.2) is found about twice as fast with the CUSUM
// chart beside the EWMA chart as with the EWMA chart alone.
func TestCUSUMDetectsSustainedShiftFaster(t *testing.T) {
	const warm = 2 * 360
	delays := func(cfg Config) []int {
		var ds []int
		for seed := range uint64(30) {
			r := rand.New(rand.NewPCG(seed, 11))
			first, _ := firstFiring(t, cfg, 10*time.Second, warm+120, func(i int) float64 {
				v := lognormal(r, 0.1, 0.2)
				if i >= warm {
					v *= 1.5
				}
				return v
			})
			if first < warm {
				t.Fatalf("seed %d: fired at %d, before the shift at %d", seed, first, warm)
			}
			ds = append(ds, first-warm)
		}
		slices.Sort(ds)
		return ds
	}
	// The exceedance chart is off in both, so the CUSUM's part shows.
	cusum := DefaultConfig()
	cusum.Detector.ExceedanceThreshold = 0
	both := delays(cusum)
	ewmaOnly := cusum
	ewmaOnly.Detector.CUSUMThreshold = 0
	alone := delays(ewmaOnly)
	t.Logf("median delay in samples: CUSUM+EWMA %d, EWMA alone %d; worst %d and %d", both[15], alone[15], both[29], alone[29])
	if 2*both[15] > alone[15]+1 || both[29] >= alone[29] {
		t.Errorf("CUSUM+EWMA delays %v, EWMA alone %v: want about half", both, alone)
	}
}

// TestCUSUMUnitFollowsAutocorrelation: the CUSUM measures residuals in the
// spread their short runs show, so a strongly autocorrelated 5-minute
// series (AR(1), φ = 0.8) pages no more than an independent one, and a
// jump far beyond its wandering still fires within three samples.
func TestCUSUMUnitFollowsAutocorrelation(t *testing.T) {
	for _, phi := range []float64{0, 0.8} {
		r := rand.New(rand.NewPCG(3, 3))
		ar := 0.0
		const n = 14 * 288
		jump := n - 100
		first, firings := firstFiring(t, DefaultConfig(), 5*time.Minute, n, func(i int) float64 {
			ar = phi*ar + r.NormFloat64()
			v := 50 + 3*ar
			if i >= jump {
				v += 60
			}
			return v
		})
		if firings != 1 || first < jump || first > jump+2 {
			t.Errorf("φ %v: %d alerts, first at %d; want one, at the jump (%d) within 3 samples", phi, firings, first, jump)
		}
	}
}

// TestLongChartCatchesSlowDrift: latency ramping to 3× over 4 hours is
// followed by the slow baseline (its lag correction tracks a ramp), so the
// long-horizon chart is what sees it within the ramp.
func TestLongChartCatchesSlowDrift(t *testing.T) {
	const start, ramp = 8640 + 4320, 4 * 360 // a day and a half in; 4 h
	// caught reports whether an alert fires during the ramp.
	caught := func(cfg Config, seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, 5))
		d := mustDetector(t, cfg, 0)
		for i := range start + ramp {
			lf := 0.0
			if i >= start {
				lf = math.Log(3) * float64(i-start) / ramp
			}
			ev, ok := d.Observe(lognormal(r, 0.05, 0.2)*math.Exp(lf), t0.Add(time.Duration(i)*10*time.Second))
			if ok && ev.Kind == KindFiring && i >= start {
				return true
			}
		}
		return false
	}
	// The exceedance chart, which catches some ramps once the window lags
	// them by a few samples' worth, is off in both, so the long chart's
	// part shows.
	long := DefaultConfig()
	long.Detector.ExceedanceThreshold = 0
	noLong := long
	noLong.Detector.LongZ = 0
	with, without := 0, 0
	for seed := range uint64(10) {
		if caught(long, seed) {
			with++
		}
		if caught(noLong, seed) {
			without++
		}
	}
	t.Logf("ramps caught: %d of 10 with the long chart, %d without", with, without)
	if with < 9 || without > with-4 {
		t.Errorf("ramps caught: %d of 10 with the long chart, %d without; want ≥ 9 and at least 4 more than without", with, without)
	}
}

// TestDailyProfile: a 5-minute metric whose daily cycle (±60 %) is larger
// than the anomaly: after two days the profile takes the cycle out, the
// baseline the status reports follows the time of day, and a doubling at
// the night-time trough — still below the daytime peak — fires; without the
// profile it does not.
func TestDailyProfile(t *testing.T) {
	const day = 288
	trough := 5*day + day/4 // 06:00 on day 5, at the bottom of the cycle
	value := func(r *rand.Rand) func(i int) float64 {
		return func(i int) float64 {
			v := 1000 * math.Exp(0.6*math.Sin(2*math.Pi*(float64(i)/day-0.5))+0.05*r.NormFloat64())
			if i >= trough && i < trough+24 {
				v *= 2
			}
			return v
		}
	}
	first, _ := firstFiring(t, DefaultConfig(), 5*time.Minute, trough+24, value(rand.New(rand.NewPCG(1, 1))))
	if first < trough || first > trough+3 {
		t.Errorf("first alert at %d, want the doubling at %d within 3 samples", first, trough)
	}
	flat := DefaultConfig()
	flat.EWMA.DailyHalfLife = 0
	if first, _ := firstFiring(t, flat, 5*time.Minute, trough+24, value(rand.New(rand.NewPCG(1, 1)))); first >= trough {
		t.Errorf("without the profile the doubling fired at %d: the test no longer shows what the profile adds", first)
	}

	// The reported baseline is the expected value at this time of day.
	d := mustDetector(t, DefaultConfig(), 0)
	v := value(rand.New(rand.NewPCG(2, 2)))
	for i := range 4 * day {
		d.Observe(v(i), t0.Add(time.Duration(i)*5*time.Minute))
		if i < 3*day || i%(day/4) != 0 {
			continue
		}
		want := 1000 * math.Exp(0.6*math.Sin(2*math.Pi*(float64(i)/day-0.5)))
		if got := d.Status().Mean; math.Abs(math.Log(got/want)) > 0.1 {
			t.Errorf("sample %d: baseline %.0f, want about %.0f", i, got, want)
		}
	}
}

// TestLogSeriesThatGoesNonPositiveTurnsLinear: a series learned on logs
// that keeps reaching zero or below after its warm-up (a temperature that
// was positive at first) is relearned linear instead of being clamped into
// nonsense; a lone zero stays a clamped glitch (TestAutoTransform).
func TestLogSeriesThatGoesNonPositiveTurnsLinear(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	d := mustDetector(t, DefaultConfig(), 0)
	evs := feed(d, t0, 5*time.Minute, 2000, func(i int) float64 {
		return 3 + 4*math.Sin(2*math.Pi*float64(i)/288) + 0.5*r.NormFloat64()
	})
	s := d.Status()
	if s.Transform != TransformLinear || s.State == StateLearning {
		t.Fatalf("transform %s, state %s: want linear and learned", s.Transform, s.State)
	}
	if s.Mean < -2 || s.Mean > 8 || s.StdDev <= 0 || s.StdDev > 4 {
		t.Errorf("baseline %v ± %v, want within the series' range", s.Mean, s.StdDev)
	}
	// Nothing but the first day's cycle, before the profile knew it.
	for _, ev := range evs {
		if ev.Kind == KindFiring && ev.At.After(t0.Add(48*time.Hour)) {
			t.Errorf("alert after two days: %v", ev)
		}
	}
}

// TestGapWeights: a gap counts for a sixteenth of each memory at most, so
// the first sample after a 6-hour outage moves the 1-hour baseline by at
// most 4 % of the way; the pauses between bursts of request-driven samples
// count for the time they last.
func TestGapWeights(t *testing.T) {
	d := mustDetector(t, DefaultConfig(), 0)
	for i := range 500 {
		d.ObserveUnixNano(1, t0.Add(time.Duration(i)*10*time.Second).UnixNano())
	}
	w := d.weights(6 * 3600)
	if cap := 1 - math.Pow(2, -gapMemory); w.slow > cap+1e-12 || w.slow < cap-1e-3 || w.long > cap+1e-12 {
		t.Errorf("weights after a 6 h gap: slow %v, long %v; want at most %v", w.slow, w.long, cap)
	}
	if w, want := d.weights(10).slow, 1-math.Pow(2, -10.0/3600); math.Abs(w-want) > 1e-6*want {
		t.Errorf("a regular 10 s step weighs %v, want %v", w, want)
	}

	// Bursts of 20 samples within 0.2 s every 30 s: the slow EWMA forgets
	// in about its half-life of real time, not 30 times slower.
	b := mustDetector(t, DefaultConfig(), 0)
	var keep float64 = 1
	at := t0.UnixNano()
	for burst := range 240 { // 2 hours
		for i := range 20 {
			tt := at + int64(burst)*int64(30*time.Second) + int64(i)*int64(10*time.Millisecond)
			dt := float64(tt-b.last) * 1e-9
			if b.n > 0 && burst >= 120 {
				keep *= 1 - b.weights(dt).slow
			}
			b.ObserveUnixNano(1, tt)
		}
	}
	// Over the last hour the past kept about half its weight.
	if keep < 0.35 || keep > 0.65 {
		t.Errorf("after an hour of bursts the past keeps %.3f of its weight, want about 0.5", keep)
	}
}

// TestCUSUMCalibration simulates the CUSUM recursion the detector runs, with
// the default allowance and threshold, on independent standard normal
// residuals with 0.2 % gross outliers (3–10 σ, like the latency outliers of
// the evaluation set): its in-control run length, and how soon it finds a
// shift of 2.03 σ (+50 % at σ_log = 0.2). These are the numbers the package
// doc and BENCHMARKS.md quote.
func TestCUSUMCalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates 4 million samples")
	}
	cfg := DefaultConfig().Detector
	k, h := cfg.CUSUMAllowance, cfg.CUSUMThreshold
	r := rand.New(rand.NewPCG(1, 2))
	noise := func() float64 {
		x := r.NormFloat64()
		if r.Float64() < 0.002 {
			x += 3 + 7*r.Float64()
		}
		return x
	}
	const n = 4_000_000
	s, alarms := 0.0, 0
	for range n {
		if s = cusumStep(s, noise(), 1, k); s >= h {
			alarms++
			s = 0
		}
	}
	arl := float64(n) / float64(max(alarms, 1))
	var delays []int
	for range 2000 {
		s := 0.0
		for range 200 { // a random start, as after any stretch of normal
			if s = cusumStep(s, noise(), 1, k); s >= h {
				s = 0
			}
		}
		d := 0
		for s = cusumStep(s, 2.03+noise(), 1, k); s < h; s = cusumStep(s, 2.03+noise(), 1, k) {
			d++
		}
		delays = append(delays, d)
	}
	slices.Sort(delays)
	within := 0
	for _, d := range delays {
		if d <= 12 {
			within++
		}
	}
	p := float64(within) / float64(len(delays))
	t.Logf("k %v h %v: in-control run length %.0f samples (%.2f alarms a week at 10 s); 2.03σ shift found after %d samples (median), %d (p90), %d (p99); %.1f %% within 12", k, h, arl, 60480/arl, delays[1000], delays[1800], delays[1980], 100*p)
	if arl < 100_000 || delays[1000] > 6 || p < 0.98 {
		t.Errorf("CUSUM calibration moved: run length %.0f (want ≥ 100,000), median delay %d (want ≤ 6), %.3f within 12 (want ≥ 0.98)", arl, delays[1000], p)
	}
}
