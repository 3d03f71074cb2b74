package baseline

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

// feed observes n samples every step from start, with value(i), and returns
// the events.
func feed(d *Detector, start time.Time, step time.Duration, n int, value func(i int) float64) []Event {
	var evs []Event
	for i := range n {
		if ev, ok := d.Observe(value(i), start.Add(time.Duration(i)*step)); ok {
			evs = append(evs, ev)
		}
	}
	return evs
}

func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

func mustDetector(t *testing.T, cfg Config, slo float64) *Detector {
	t.Helper()
	d, err := NewDetector(cfg, slo)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAcceptanceStepWithinTwoMinutes: a +50 % step in the median of a noisy
// latency series (log-normal, σ = 0.2: consecutive samples differ by 23 % on
// average, p90/p50 ≈ 1.29) sampled every 10 s is alerted within 2 minutes,
// on every one of 40 seeds. The step is 2σ; the CUSUM chart (k = 1, the
// optimum for it) needs 6 samples at the median. No detector can promise
// it on every key at one false alarm in weeks: with 13 samples in 2 minutes
// and ln(ARL₀) ≈ 12.5 nats of evidence to gather, even the optimal one is
// late on about 1 key in 100 (see BENCHMARKS.md); these 40 seeds are all
// caught, the slowest at exactly 2 minutes, and the test holds that line so
// a regression shows.
func TestAcceptanceStepWithinTwoMinutes(t *testing.T) {
	var delays []time.Duration
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 1))
		d := mustDetector(t, DefaultConfig(), 0)
		median := 0.02 + 0.3*r.Float64()
		const warm = 6 * 360 // 6 h
		var fired time.Time
		for i := range warm + 60 {
			v := lognormal(r, median, 0.2)
			if i >= warm {
				v *= 1.5
			}
			at := t0.Add(time.Duration(i) * 10 * time.Second)
			if ev, ok := d.Observe(v, at); ok && ev.Kind == KindFiring {
				if i < warm {
					t.Fatalf("seed %d: false alert before the step at %s", seed, at)
				}
				fired = at
				break
			}
		}
		if fired.IsZero() {
			t.Fatalf("seed %d: step not alerted within 10 minutes", seed)
		}
		delays = append(delays, fired.Sub(t0.Add(warm*10*time.Second)))
	}
	within2, worst := 0, time.Duration(0)
	for _, d := range delays {
		if d <= 2*time.Minute {
			within2++
		}
		worst = max(worst, d)
	}
	slices.Sort(delays)
	t.Logf("%d of %d seeds alerted within 2m; median %s, p90 %s, worst %s", within2, len(delays), delays[20], delays[36], worst)
	if within2 < 40 || delays[20] > time.Minute {
		t.Errorf("%d of %d seeds within 2m (want all), median %s (want ≤ 1m): %v", within2, len(delays), delays[20], delays)
	}
}

func TestFasterIsNeverAnAlert(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	d := mustDetector(t, DefaultConfig(), 0)
	evs := feed(d, t0, 10*time.Second, 1010, func(i int) float64 {
		return lognormal(r, 0.1, 0.2)
	})
	for i := range 20 { // ten times faster: the score drops to 0
		if ev, ok := d.Observe(lognormal(r, 0.01, 0.2), t0.Add(time.Duration(1010+i)*10*time.Second)); ok {
			evs = append(evs, ev)
		}
		if i > 2 && d.Score() != 0 {
			t.Fatalf("score %v %d samples into a faster series, want 0", d.Score(), i)
		}
	}
	evs = append(evs, feed(d, t0.Add(1030*10*time.Second), 10*time.Second, 1000, func(i int) float64 {
		return lognormal(r, 0.01, 0.2)
	})...)
	if len(evs) != 0 {
		t.Fatalf("events for a faster series: %v", evs)
	}
}

// TestOrdinaryOutliersDoNotAlert: latency with routine outliers (0.3 % of
// samples 2–5× slower: GC pauses, retries) does not page on an outlier,
// not even on a 5× one on a key whose noise is small (the spike rule wants
// ≥ detector.spikeZ noise deviations and nothing like it in the window).
// How often the charts fire on such noise at all is the false-alarm rate,
// checked by TestAcceptanceFalseAlertsPerWeek.
func TestOrdinaryOutliersDoNotAlert(t *testing.T) {
	for seed := range uint64(10) {
		r := rand.New(rand.NewPCG(seed, 3))
		d := mustDetector(t, DefaultConfig(), 0)
		sigma := 0.15 + 0.2*r.Float64()
		outlier := map[int]bool{}
		for i := range 3 * 8640 {
			v := lognormal(r, 0.1, sigma)
			if i%2000 == 1000 || r.Float64() < 0.003 {
				v *= 2 + 3*r.Float64()
				if i%2000 == 1000 {
					v = 5 * lognormal(r, 0.1, sigma)
				}
				outlier[i] = true
			}
			if ev, ok := d.Observe(v, t0.Add(time.Duration(i)*10*time.Second)); ok && ev.Kind == KindFiring && outlier[i] {
				t.Errorf("seed %d (σ %.2f): the outlier %d (%.3g) fired: %v", seed, sigma, i, v, ev)
			}
		}
	}
}

// TestHugeSpikeInCalmSeriesAlertsOnce: a single sample far beyond anything
// the series did in the last hour (here 500× a calm series) is an alert of
// its own: it fires on that sample with the sample's numbers, resolves
// within exitSamples, and teaches the baseline nothing.
func TestHugeSpikeInCalmSeriesAlertsOnce(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 1))
	cfg := DefaultConfig()
	d := mustDetector(t, cfg, 0)
	evs := feed(d, t0, 10*time.Second, 2000, func(i int) float64 {
		if i == 1000 {
			return 50
		}
		return lognormal(r, 0.1, 0.2)
	})
	if len(evs) != 2 {
		t.Fatalf("want firing and resolved, got %v", evs)
	}
	f, res := evs[0], evs[1]
	if f.Kind != KindFiring || f.Reason != ReasonDrift || f.Samples != 1001 || f.Value != 50 || f.Current != 50 {
		t.Errorf("firing event %+v, want the spike itself", f)
	}
	if f.Ratio < 400 || f.Z < cfg.Detector.SpikeZ || f.Score <= 0.5 {
		t.Errorf("spike numbers: ratio %v z %v score %v", f.Ratio, f.Z, f.Score)
	}
	if res.Kind != KindResolved || res.Samples > 1001+uint64(cfg.Detector.ExitSamples) || res.Accepted {
		t.Errorf("resolved event %+v, want it within %d samples", res, cfg.Detector.ExitSamples)
	}
	if m := d.Status().Mean; math.Abs(m-0.1) > 0.01 {
		t.Errorf("baseline %v after the spike, want about 0.1", m)
	}
}

func TestLearningStateAndWarmUp(t *testing.T) {
	cfg := DefaultConfig()
	d := mustDetector(t, cfg, 0)
	if d.State() != StateLearning {
		t.Fatalf("fresh detector in state %v", d.State())
	}
	for i := range cfg.Detector.MinSamples {
		if d.State() != StateLearning {
			t.Fatalf("state %v after %d samples, want learning", d.State(), i)
		}
		// Even a wild warm-up scores 0 without a prior.
		if _, ok := d.Observe(float64(1+i*i), t0.Add(time.Duration(i)*time.Second)); ok {
			t.Fatal("event while learning without a prior")
		}
		if d.Score() != 0 {
			t.Fatalf("score %v while learning", d.Score())
		}
	}
	if d.State() != StateNormal {
		t.Fatalf("state %v after warm-up, want normal", d.State())
	}
	if s := d.Status(); s.Samples != uint64(cfg.Detector.MinSamples) || s.Transform != TransformLog {
		t.Errorf("status %+v", s)
	}
}

func TestSLOPriorStandsInWhileLearning(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Detector.MinSamples = 100
	d := mustDetector(t, cfg, 1) // 1 s: single-object SLO
	evs := feed(d, t0, 10*time.Second, 60, func(i int) float64 {
		if i >= 20 && i < 40 {
			return 3
		}
		return 0.05
	})
	if len(evs) != 2 {
		t.Fatalf("want firing and resolved, got %v", evs)
	}
	f, r := evs[0], evs[1]
	if f.Kind != KindFiring || f.Reason != ReasonSLO || f.SLO != 1 || f.Current < 1 {
		t.Errorf("firing event %+v", f)
	}
	if r.Kind != KindResolved || r.Reason != ReasonSLO || !r.FiringSince.Equal(f.At) {
		t.Errorf("resolved event %+v", r)
	}
	if d.State() != StateLearning {
		t.Errorf("state %v, want still learning", d.State())
	}
}

func TestFlatStretchesDoNotMakeHugeScores(t *testing.T) {
	d := mustDetector(t, DefaultConfig(), 0)
	// Exactly flat, then jitter of 1 %: the relative floor (5 %) keeps z small.
	evs := feed(d, t0, 10*time.Second, 3000, func(i int) float64 {
		if i < 2000 {
			return 0.1
		}
		return 0.1 * (1 + 0.01*float64(i%3-1))
	})
	if len(evs) != 0 {
		t.Fatalf("flat series with 1 %% jitter alerted: %v", evs)
	}
	if z := d.Status().Z; z > 2 {
		t.Errorf("z = %v on 1 %% jitter after a flat stretch", z)
	}
}

func TestAutoTransform(t *testing.T) {
	cases := []struct {
		name   string
		values func(i int) float64
		want   Transform
	}{
		{"positive series learn logs", func(i int) float64 { return 1 + float64(i%5) }, TransformLog},
		{"zero during warm-up switches to linear", func(i int) float64 { return float64(i % 3) }, TransformLinear},
		{"negative values are linear", func(i int) float64 { return float64(i%7) - 3 }, TransformLinear},
		{"a zero after warm-up is clamped, the series stays log", func(i int) float64 {
			if i == 100 {
				return 0
			}
			return 1 + float64(i%5)
		}, TransformLog},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := mustDetector(t, DefaultConfig(), 0)
			feed(d, t0, time.Minute, 200, c.values)
			if got := d.Status().Transform; got != c.want {
				t.Errorf("transform %q, want %q", got, c.want)
			}
			if s := d.Status(); math.IsNaN(s.Mean) || math.IsInf(s.Z, 0) {
				t.Errorf("status not finite: %+v", s)
			}
		})
	}
}

func TestEventsCarryTheNumbers(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 1))
	d := mustDetector(t, DefaultConfig(), 0)
	evs := feed(d, t0, 10*time.Second, 3*360, func(i int) float64 {
		if i >= 360 && i < 720 {
			return lognormal(r, 0.4, 0.1) // 4× for an hour
		}
		return lognormal(r, 0.1, 0.1)
	})
	if len(evs) < 2 {
		t.Fatalf("want firing and resolved, got %v", evs)
	}
	f := evs[0]
	switch {
	case f.Kind != KindFiring || f.Reason != ReasonDrift:
		t.Errorf("first event %v", f)
	case f.At.Before(t0.Add(360*10*time.Second)) || f.At.After(t0.Add(370*10*time.Second)):
		t.Errorf("fired at %s, want within 10 samples of the change", f.At)
	case math.Abs(f.BaselineMean-0.1) > 0.01:
		t.Errorf("baseline mean %v, want about 0.1", f.BaselineMean)
	case f.Current < 0.12 || f.Ratio < 1.2 || f.Z < DefaultConfig().Detector.EnterZ || math.Abs(f.Current/f.BaselineMean-f.Ratio) > 1e-9:
		t.Errorf("current %v ratio %v z %v", f.Current, f.Ratio, f.Z)
	case f.BaselineP99 < 0.1 || f.Samples < 360 || f.Score <= 0.5 || f.Score > 1:
		t.Errorf("p99 %v samples %d score %v", f.BaselineP99, f.Samples, f.Score)
	}
	res := evs[1]
	if res.Kind != KindResolved || !res.FiringSince.Equal(f.At) || !res.At.After(f.At) {
		t.Errorf("resolve event %v", res)
	}
	if !strings.Contains(f.String(), "firing drift") {
		t.Errorf("String() = %q", f.String())
	}
}

func TestNonFiniteValuesAreIgnored(t *testing.T) {
	d := mustDetector(t, DefaultConfig(), 0)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, ok := d.Observe(v, t0); ok || d.Status().Samples != 0 {
			t.Fatalf("%v was learned", v)
		}
	}
}

func TestConfigValidateNamesFields(t *testing.T) {
	cases := []struct {
		name string
		mut  func(c *Config)
		want string
	}{
		{"half-life", func(c *Config) { c.EWMA.HalfLife = 0 }, "baseline.ewma.halfLife: want > 0, got 0s"},
		{"transform", func(c *Config) { c.EWMA.Transform = "sqrt" }, `baseline.ewma.transform: want one of auto, log, linear, got "sqrt"`},
		{"fast longer than slow", func(c *Config) { c.EWMA.FastHalfLife = Duration(2 * time.Hour) }, "baseline.ewma.fastHalfLife: want ≤ ewma.halfLife"},
		{"bins odd", func(c *Config) { c.Window.Bins = 63 }, "baseline.window.bins: want an even number in 4..4096, got 63"},
		{"exit above enter", func(c *Config) { c.Detector.ExitZ = 5 }, "baseline.detector.exitZ: want < detector.enterZ (4.5), got 5"},
		{"long below exit", func(c *Config) { c.Detector.LongZ = 1 }, "baseline.detector.longZ: want 0 (off) or > detector.exitZ (1.5), got 1"},
		{"negative spike", func(c *Config) { c.Detector.SpikeZ = -1 }, "baseline.detector.spikeZ: want ≥ 0, got -1"},
		{"long memory shorter", func(c *Config) { c.EWMA.LongHalfLife = Duration(time.Minute) }, "baseline.ewma.longHalfLife: want ≥ ewma.halfLife (1h0m0s), got 1m0s"},
		{"negative daily", func(c *Config) { c.EWMA.DailyHalfLife = Duration(-time.Hour) }, "baseline.ewma.dailyHalfLife: want ≥ 0"},
		{"enter samples", func(c *Config) { c.Detector.EnterSamples = 0 }, "baseline.detector.enterSamples: want ≥ 1, got 0"},
		{"no floor", func(c *Config) { c.Detector.RelativeStdDevFloor, c.Detector.AbsoluteStdDevFloor = 0, 0 }, "baseline.detector.absoluteStdDevFloor"},
		{"max keys", func(c *Config) { c.Store.MaxKeys = 0 }, "baseline.store.maxKeys: want ≥ 1, got 0"},
		{"accuracy", func(c *Config) { c.Window.RelativeAccuracy = math.NaN() }, "baseline.window.relativeAccuracy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.mut(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want it to contain %q", err, c.want)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	b, err := json.Marshal(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"halfLife":"1h0m0s"`) {
		t.Errorf("durations not written as strings: %s", b)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c != DefaultConfig() {
		t.Errorf("round trip changed the config: %+v", c)
	}
	for _, bad := range []string{`{"ewma":{"halfLife":3600}}`, `{"ewma":{"halfLife":"soon"}}`} {
		if err := json.Unmarshal([]byte(bad), &c); err == nil || !strings.Contains(err.Error(), "duration") {
			t.Errorf("%s: error %v, want one about the duration", bad, err)
		}
	}
}
