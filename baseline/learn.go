package baseline

import (
	"math"

	"github.com/kubepulse/kubepulse/baseline/ewma"
)

// weights are the EWMA weights of one sample.
type weights struct {
	slow, fast, long, season float64
	// cusum is the share of a full sample the CUSUM credits (see weights).
	cusum float64
}

// weights returns the EWMA weights of a sample dt seconds after the previous
// one: the cache d.cw, which it fills. Half-lives are at least a number of
// typical spacings. A gap counts for at least an eighth of a spacing (so
// duplicate timestamps still count a little) and for at most maxGap
// spacings or a sixteenth of the memory, whichever is longer: the first
// sample after an outage moves no memory by more than 4 % of the way, while
// the pauses between the bursts of a request-driven series still count for
// the time they last.
func (d *Detector) weights(dt float64) *weights {
	sp := d.spacing.Typical
	p := d.p
	lo, hi := fmax(dt, 0), fmax(dt, 0)
	// Written in place: the cache for the next sample with the same gap.
	w := &d.cw
	w.cusum = 1
	// 1/max(h, n·sp) = min(1/h, 1/(n·sp)): one division per sample.
	var isp float64
	if sp > 0 {
		lo = fmax(lo, sp*0.125)
		hi = fmin(lo, p.maxGap*sp)
		isp = 1 / sp
		// A sample counts for the CUSUM in proportion to the time it
		// covers, up to one spacing: a burst of near-simultaneous samples
		// is not that many independent looks, so its false-alarm rate per
		// hour stays that of a regular series.
		w.cusum = fmin(hi*isp, 1)
	}
	// x = ln 2 · min(lo, max(hi, gapMemory·h)) / h for each half-life h.
	x := func(ih float64) float64 {
		return math.Ln2 * fmin(lo*ih, fmax(hi*ih, gapMemory))
	}
	w.slow = oneMinusExp(x(fmin(p.invHalfLife, p.invHlN*isp)))
	w.fast = oneMinusExp(x(fmin(p.invFastHalfLife, p.invFhlN*isp)))
	w.long = oneMinusExp(x(fmin(p.invLongHalfLife, p.invHlN*isp)))
	w.season = oneMinusExp(x(p.invDailyHalfLife))
	d.cDt, d.cSp = dt, sp
	return w
}

// gapMemory is the share of a memory (in half-lives) one gap may count for
// at least: a weight of at most 1 − 2^(−1/16) ≈ 4 % for a sample after an
// outage, while a 1-hour memory still counts pauses of up to 225 s in full.
const gapMemory = 1.0 / 16

// oneMinusExp is 1 − e^(−x), the weight of a sample x·ln 2 half-lives after
// the previous one; x = +Inf (a half-life of 0) gives 1.
func oneMinusExp(x float64) float64 {
	if x < 1.0/64 {
		// The weight of a sample to a long memory: x − x²/2 is within
		// x²/6 (relative) of it, and these weights need no more.
		return x * (1 - 0.5*x)
	}
	if x > 700 {
		return 1
	}
	return ewma.OneMinusExp(x)
}

// floor is the least standard deviation assumed, in the learned space.
func (d *Detector) floor() float64 {
	p := d.p
	if d.mode == modeLog {
		f := p.logFloor
		// absFloor/exp(mean) in log units, only computed where it can
		// exceed the relative floor (mean below ln(absFloor/logFloor)).
		if m := d.slow.Mean; m < p.absCut && m > -700 {
			f = fmax(f, p.absFloor*math.Exp(-m))
		}
		return f
	}
	return fmax(p.relFloor*math.Abs(d.slow.Mean), p.absFloor)
}

// scales are the spreads the charts measure in, derived from the learned
// variances by refresh, with the inverses the hot path multiplies by.
type scales struct {
	fl float64 // the floor
	sd float64 // the baseline's standard deviation, floored
	cf float64 // √ of fast's variance factor, at least a regular series'
	// sz is the standard deviation of the fast EWMA around the baseline,
	// sl around the long-horizon level, s1 that of one residual as short
	// runs of residuals show it (the CUSUM's unit).
	sz, sl, s1    float64
	isz, isl, is1 float64
}

// refresh recomputes the scales; widen (≥ 1) widens young spreads.
func (d *Detector) refresh(widen float64) {
	c := &d.sc
	c.fl = d.floor()
	// Samples that come in bursts are not independent looks at the series:
	// the fast EWMA is credited with no more than a regular series sampled
	// once per spacing would give it.
	c.cf = math.Sqrt(fmax(d.fastV, d.p.minFastV))
	c.sd = fmax(d.slow.StdDev(), c.fl)
	c.sz = d.sdz(c.sd, c.cf) * widen
	c.sl = fmax(math.Sqrt(d.ldev2), c.sd*c.cf) * widen
	// Autocorrelated residuals vary more in runs than alone: the CUSUM's
	// unit is the spread of one residual that explains the measured spread
	// of their fast EWMA (at least the baseline's own).
	c.s1 = fmax(c.sd, math.Sqrt(d.rv)/c.cf) * widen
	c.isz, c.isl, c.is1 = 1/c.sz, 1/c.sl, 1/c.s1
	if d.p.exH > 0 && d.ex.s == 0 && (d.nLearn < scaleYoung || d.n%exEvery == 0 || d.stale || !d.ex.ready) {
		d.exReference(d.ref()+d.sv, c.sd, widen)
	}
	d.stale = false
}

// sdz is the standard deviation of the fast EWMA around the baseline: the
// larger of its measured spread (which includes autocorrelation) and what
// independent samples with the baseline's (floored) spread would give.
func (d *Detector) sdz(sd, cf float64) float64 {
	s := sd * cf
	if v := math.Sqrt(d.dev2); v > s {
		s = v
	}
	if s == 0 || math.IsNaN(s) {
		return math.SmallestNonzeroFloat64
	}
	return s
}

// learn folds the sample into the baselines, the spreads, the long-horizon
// level and the daily profile, clipping the residuals (Huber) so that one
// outlier cannot move them far.
func (d *Detector) learn(s *sample) {
	c := &d.sc
	u := s.u
	if d.nLearn > 8 || d.learned {
		lim := huberK * c.sd
		u = fmin(fmax(u, d.slow.Mean-lim), d.slow.Mean+lim)
	}
	w := &s.w
	if s.repeat {
		d.slow.Mean += w.slow * (u - d.slow.Mean)
		return
	}
	if s.ranked {
		d.ex.learn(s)
	}
	d.slow.Add(u, w.slow)
	d.trend += w.slow * (d.slow.Mean - d.trend)
	dev := d.fast - d.ref()
	ldev := d.fast - d.long
	df := s.tx - 2*s.prev + s.prev1
	// Spreads are learned with the long memory, which spans a daily
	// cycle's worth of normal excursions, so they do not shrink in calm
	// hours and make an ordinary evening peak look anomalous. Once learned,
	// what one sample teaches them is clipped too.
	a := w.slow
	if d.learned {
		a = w.long
		if lim := d.p.enterZ * c.sz; math.Abs(dev) > lim {
			dev = math.Copysign(lim, dev)
		}
		if lim := d.p.enterZ * c.sl; math.Abs(ldev) > lim {
			ldev = math.Copysign(lim, ldev)
		}
		// df² > (huberK·√(6·dd2))², without the square root.
		if df*df > huberK*huberK*6*d.dd2 {
			df = math.Copysign(huberK*math.Sqrt(6*d.dd2), df)
		}
	}
	d.dev2 += a * (dev*dev - d.dev2)
	d.rv += a * (d.rm*d.rm - d.rv)
	// The noise of single samples, from second differences: a linear trend
	// or a smooth cycle cancels out of x − 2x₁ + x₂, whose variance is 6σ²
	// for independent noise.
	if d.n > 2 {
		d.dd2 += a * (df*df*(1.0/6) - d.dd2)
	}
	// The long chart's spread learns upward deviations clipped at
	// longUpClip spreads (downward ones at enterZ, above): a slow upward
	// drift, which the long level follows in part, would otherwise widen
	// the spread it is measured in as it goes and never stand out. For
	// normal deviations this keeps 96 % of the variance.
	ldev = fmin(ldev, longUpClip*c.sl)
	d.ldev2 += w.long * (ldev*ldev - d.ldev2)
	// The long-horizon level and the daily profile around it learn the
	// sample itself (clipped like the baseline's).
	tx := u + d.sv
	d.long += w.long * (tx - d.long)
	if d.p.daily {
		d.season.learn(d.season.bin(s.t), tx-d.long, w.season)
	}
}

// learnShadow feeds the episode's own baseline: an equal-weight mean of the
// episode that turns into an EWMA with the slow weight once the episode is
// longer than the slow memory.
func (d *Detector) learnShadow(u, as float64) {
	if d.shadowN < math.MaxUint32 {
		d.shadowN++
	}
	d.shadow.Add(u, fmax(as, 1/float64(d.shadowN)))
}

// ref is the baseline level the current value is compared with: the slow
// mean corrected for its lag (Brown's double exponential smoothing).
func (d *Detector) ref() float64 { return 2*d.slow.Mean - d.trend }

// med3 returns the median of three values.
func med3(a, b, c float64) float64 {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return fmax(a, b)
}

// fmax and fmin are max and min for values known not to be NaN, without
// the builtins' NaN and signed-zero handling (a hot path).
func fmax(a, b float64) float64 {
	if a > b {
		return a
	}
	return b
}

func fmin(a, b float64) float64 {
	if a < b {
		return a
	}
	return b
}

// clampZ keeps z finite (and so every score and checkpoint field).
func clampZ(z float64) float64 {
	if z > 1e9 {
		return 1e9
	}
	if z < -1e9 {
		return -1e9
	}
	return z
}
