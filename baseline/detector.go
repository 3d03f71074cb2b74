package baseline

import (
	"fmt"
	"math"
	"time"

	"github.com/kubepulse/kubepulse/baseline/ewma"
	"github.com/kubepulse/kubepulse/baseline/window"
)

// huberK clips the residual a sample may teach the baselines to ±huberK
// standard deviations, so a spike moves them no more than a sample three
// deviations away would.
const huberK = 3

// devMemory is the memory of the fast EWMA's spread around the baseline, in
// slow half-lives: long enough to span a daily cycle's worth of normal
// excursions, so the spread does not shrink in calm hours and then make an
// ordinary evening peak look anomalous.
const devMemory = 4

// nonPosSpan is how close two values ≤ 0 must be (in samples) to switch a
// log-learned series to linear.
const nonPosSpan = 1000

// spikeQuantile is the window quantile a spike must be far beyond: the
// largest sample but for the top 0.5 %, so a few earlier spikes do not mask
// the next one while a series with routine outliers keeps them in view.
const spikeQuantile = 0.995

// spikeWindow is how many times further from the baseline than the window's
// spikeQuantile a spike must be.
const spikeWindow = 2

// cusumClip clips a sample's standardized residual before the CUSUM adds
// it (Huber): an outlier adds at most cusumClip − k.
const cusumClip = 3

// Transform modes of a detector.
const (
	modeUnset uint8 = iota
	modeLog
	modeLinear
)

// params are the configuration in the units the detector computes in
// (seconds as float64), derived once and shared by every key.
type params struct {
	transform          Transform
	halfLife, hlN      float64
	fastHalfLife, fhlN float64
	longHalfLife       float64
	dailyHalfLife      float64 // of one profile bin, in the time the bin is visited
	maxGap             float64
	minSamples         uint32
	enterZ, exitZ      float64
	cusumK, cusumH     float64
	longZ, spikeZ      float64
	enterN, exitN      uint16
	rearmN             uint16
	minRatio, logRatio float64
	accept, acceptN    float64
	relFloor, logFloor float64
	absFloor, absCut   float64
	sloExit            float64
	minFastV           float64
	layout             window.Layout
	logWidth           float64
}

func newParams(c Config) *params {
	sec := func(d Duration) float64 { return time.Duration(d).Seconds() }
	return &params{
		transform:      c.EWMA.Transform,
		halfLife:       sec(c.EWMA.HalfLife),
		hlN:            c.EWMA.HalfLifeSamples,
		fastHalfLife:   sec(c.EWMA.FastHalfLife),
		fhlN:           c.EWMA.FastHalfLifeSamples,
		longHalfLife:   sec(c.EWMA.LongHalfLife),
		dailyHalfLife:  sec(c.EWMA.DailyHalfLife) / seasonBins,
		maxGap:         c.EWMA.MaxGapSamples,
		minSamples:     uint32(c.Detector.MinSamples),
		enterZ:         c.Detector.EnterZ,
		exitZ:          c.Detector.ExitZ,
		cusumK:         c.Detector.CUSUMAllowance,
		cusumH:         c.Detector.CUSUMThreshold,
		longZ:          c.Detector.LongZ,
		spikeZ:         c.Detector.SpikeZ,
		enterN:         uint16(min(c.Detector.EnterSamples, math.MaxUint16)),
		exitN:          uint16(min(c.Detector.ExitSamples, math.MaxUint16)),
		rearmN:         uint16(min(c.Detector.RearmSamples, math.MaxUint16)),
		minRatio:       c.Detector.MinRatio,
		logRatio:       math.Log(c.Detector.MinRatio),
		accept:         sec(c.Detector.AcceptAfter),
		acceptN:        c.Detector.AcceptAfterSamples,
		relFloor:       c.Detector.RelativeStdDevFloor,
		logFloor:       math.Log1p(c.Detector.RelativeStdDevFloor),
		absFloor:       c.Detector.AbsoluteStdDevFloor,
		absCut:         absCut(c.Detector.AbsoluteStdDevFloor, math.Log1p(c.Detector.RelativeStdDevFloor)),
		sloExit:        c.Detector.SLOExitRatio,
		minFastV:       minFastV(c.EWMA.FastHalfLifeSamples),
		layout: window.Layout{
			Length:  time.Duration(c.Window.Length),
			Buckets: c.Window.Buckets,
			Bins:    c.Window.Bins,
			Width:   math.Log1p(2 * c.Window.RelativeAccuracy),
		},
		logWidth: math.Log1p(2 * c.Window.RelativeAccuracy),
	}
}

// absCut is the log-space mean below which the absolute floor exceeds the
// relative one.
func absCut(abs, logFloor float64) float64 {
	switch {
	case abs <= 0:
		return math.Inf(-1)
	case logFloor <= 0:
		return math.Inf(1)
	}
	return math.Log(abs / logFloor)
}

// minFastV is the variance factor λ/(2−λ) of an EWMA with a half-life of n
// regular samples.
func minFastV(n float64) float64 {
	if n <= 0 {
		return 0
	}
	l := ewma.Alpha(1, n)
	return l / (2 - l)
}

// Detector learns one series and decides when it drifts above normal. It is
// not safe for concurrent use: Tracker holds one per key behind a lock.
//
// Each sample updates, in the learned space (log or linear, see the package
// doc): a fast EWMA (the current level), the slow baseline (EWMA mean and
// variance) and the spread of the fast EWMA around the baseline; the sample
// also goes into the sliding window. z is how far the fast EWMA is above the
// baseline in units of its own spread; Score maps z to [0, 1].
type Detector struct {
	p   *params
	win *window.Window
	slo float64

	n       uint64 // samples seen
	nLearn  uint32 // samples since the warm-up (re)started, saturating
	last    int64  // newest sample time, Unix ns
	spacing ewma.Spacing
	mode    uint8
	learned bool
	armed   bool   // may start an episode (see quiet)
	quiet   uint16 // consecutive samples at or below exitZ since disarming
	state   State
	reason  Reason
	run     uint16 // consecutive samples towards the next transition

	slow    ewma.Moments // the baseline, of deseasonalized samples
	trend   float64      // EWMA of slow.Mean: 2·slow.Mean − trend has no lag on a ramp
	dev2    float64      // EWMA of (fast − baseline)²
	fast    float64      // EWMA of the median of the last three deseasonalized samples
	prev    [2]float64   // the two previous transformed samples
	fastV   float64      // variance factor of fast: Var(fast) = σ²·fastV for iid samples
	shadow  ewma.Moments // what normal would be if the episode were accepted
	shadowN uint32
	minPos  float64 // smallest positive value seen (log mode clamps to it)
	episode int64   // time the current episode began (pending)
	since   int64   // time the current alert fired
	cusum   float64 // CUSUM of standardized, clipped residuals
	rm, rv  float64 // fast EWMA of the clipped residuals, and the EWMA of its square
	dd2     float64 // EWMA of half the squared difference of consecutive samples
	long    float64 // the long-horizon level
	ldev2   float64 // EWMA of (fast − long)²
	season  season  // daily profile around long
	first   int64   // time of the first sample since the warm-up (re)started
	nonPos  uint64  // sample number of the last value ≤ 0 of a log series

	value, z, zl, score float64
	sv                  float64 // the daily profile at the latest sample

	// Cache of the decay weights for the last (gap, spacing) pair: a regular
	// series computes them once.
	cDt, cSp float64
	cw       weights
}

// weights are the EWMA weights of one sample.
type weights struct {
	slow, dev, fast, long, season, cusum float64
}

// NewDetector returns a detector for one series. slo is the SLO prior in the
// value's unit (0 for none): while the series is learning, a current value
// above it fires an alert with ReasonSLO.
func NewDetector(c Config, slo float64) (*Detector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if math.IsNaN(slo) || math.IsInf(slo, 0) || slo < 0 {
		return nil, fmt.Errorf("slo: want a finite value ≥ 0, got %v", slo)
	}
	return newDetector(newParams(c), slo), nil
}

func newDetector(p *params, slo float64) *Detector {
	w, err := window.New(p.layout)
	if err != nil {
		panic(err) // the layout was validated with the config
	}
	return &Detector{p: p, win: w, slo: slo, armed: true, state: StateNormal}
}

// Observe folds in value x measured at time at, and returns an event when an
// alert starts or ends with this sample. NaN and infinite values are ignored.
func (d *Detector) Observe(x float64, at time.Time) (ev Event, ok bool) {
	ok = d.observe(x, at.UnixNano(), &ev)
	return ev, ok
}

// ObserveUnixNano is Observe with the time as Unix nanoseconds.
func (d *Detector) ObserveUnixNano(x float64, t int64) (ev Event, ok bool) {
	ok = d.observe(x, t, &ev)
	return ev, ok
}

// sample is what one observation computes once and the steps share.
type sample struct {
	tx     float64 // the transformed value
	u      float64 // tx less the daily profile
	fin    float64 // the median of the last three u
	w      weights
	i0, i1 int // daily profile bins around the sample, and the share f of i1
	f      float64
	sd     float64 // the baseline's floored standard deviation
	sz     float64 // the standard deviation of fast around the baseline
	sl     float64 // the standard deviation of fast around long
	s1     float64 // the CUSUM's standard deviation of one residual
	cf     float64 // √ of fast's variance factor
	repeat bool
	spike  bool    // a huge isolated sample (see spike)
	zs     float64 // its z: how many noise standard deviations above the baseline
	prev   float64 // the previous transformed sample
	prev1  float64 // and the one before
}

// observe folds in one sample and reports whether it caused an event, which
// it then writes to ev (untouched otherwise: no copy on the hot path).
func (d *Detector) observe(x float64, t int64, ev *Event) bool {
	if x-x != 0 { // NaN or ±Inf
		return false
	}
	p := d.p
	var dt float64
	if d.n > 0 {
		dt = float64(t-d.last) * 1e-9
		d.spacing.Add(dt)
	}
	if d.n == 0 || t > d.last {
		d.last = t
	}
	d.n++
	d.value = x
	var s sample
	s.tx = d.transform(x)

	s.w = d.weights(dt)
	fl := d.floor()
	learning := !d.learned
	if d.nLearn < math.MaxUint32 {
		d.nLearn++
	}
	// Until the EWMAs have seen about as many samples as their memory, they
	// are plain running means (weight 1/n), so the first samples do not
	// linger with an outsized weight.
	w := 1 / float64(d.nLearn)
	s.w.slow, s.w.dev, s.w.fast, s.w.long = fmax(s.w.slow, w), fmax(s.w.dev, w), fmax(s.w.fast, w), fmax(s.w.long, w)
	// The daily profile takes the time of day out of the sample.
	if p.dailyHalfLife > 0 {
		if d.nLearn == 1 {
			d.first = t
		}
		s.i0, s.i1, s.f = seasonPos(t)
		// The profile applies once a day of data taught it, fully after two.
		if g := float64(t-d.first)/float64(24*time.Hour) - 1; g > 0 {
			d.sv = fmin(g, 1) * d.season.at(s.i0, s.i1, s.f)
		} else {
			d.sv = 0
		}
	}
	s.u = s.tx - d.sv
	// The fast EWMA follows the median of the last three samples: a lone
	// spike never reaches it, a shift does one sample later.
	s.fin = s.u
	if d.learned || d.nLearn >= 3 {
		s.fin = med3(s.u, d.prev[0]-d.sv, d.prev[1]-d.sv)
	}
	// A value repeated exactly comes from a stuck or cached source: it
	// says nothing about the spread, which is then left as it was (so a
	// flat stretch does not make the return of ordinary noise an alert).
	s.repeat = d.n > 1 && s.tx == d.prev[0]
	s.prev, s.prev1 = d.prev[0], d.prev[1]
	d.prev[1], d.prev[0] = d.prev[0], s.tx
	d.fast += s.w.fast * (s.fin - d.fast)
	// Σwᵢ² of the fast EWMA's weights: exact for any spacing of samples,
	// α/(2−α) (the EWMA chart factor squared) for regular ones.
	d.fastV = (1-s.w.fast)*(1-s.w.fast)*d.fastV + s.w.fast*s.w.fast
	// Samples that come in bursts are not independent looks at the series:
	// credit the fast EWMA with no more than a regular series sampled once
	// per spacing would give it.
	s.cf = math.Sqrt(fmax(d.fastV, p.minFastV))
	s.sd = fmax(d.slow.StdDev(), fl)
	// Spreads learned from few samples are uncertain: widen them by
	// 1 + 10/n so the first hours after warm-up are not the noisiest.
	widen := 1 + 10/float64(d.nLearn)
	s.sz = d.sdz(s.sd, s.cf) * widen
	ref := d.ref()
	d.z = clampZ((d.fast - ref) / s.sz)
	s.sl = fmax(math.Sqrt(d.ldev2), s.sd*s.cf) * widen
	d.zl = 0
	if p.longZ > 0 {
		d.zl = clampZ((d.fast - d.long) / s.sl)
	}
	// The CUSUM chart: each sample's residual, standardized by the spread
	// of one sample implied by short runs of residuals and clipped (Huber)
	// so that a lone outlier adds at most cusumClip − k.
	r := s.u - ref
	lim := huberK * s.sd
	d.rm += s.w.fast * (fmin(fmax(r, -lim), lim) - d.rm)
	s.s1 = fmax(s.sd, math.Sqrt(d.rv)/s.cf) * widen
	if p.cusumH > 0 && d.learned && d.armed && d.state != StateFiring {
		e := r / s.s1
		e = fmin(fmax(e, -cusumClip), cusumClip)
		d.cusum = fmax(0, d.cusum+s.w.cusum*(e-p.cusumK))
	} else {
		d.cusum = 0
	}

	s.spike = d.spike(&s, ref)
	d.win.Add(s.tx, t)

	var ok bool
	switch {
	case d.slo > 0 && (learning || d.reason == ReasonSLO && d.state != StateNormal):
		d.score = d.sloScore()
		ok = d.stepSLO(t, ev)
		d.learn(&s)
	case learning:
		d.score = 0
		d.learn(&s)
	default:
		d.score = d.driftScore(s.zs * p.enterZ / fmax(p.spikeZ, 1))
		ok = d.stepDrift(&s, t, ev)
	}
	if learning && d.nLearn >= p.minSamples {
		d.learned = true
	}
	return ok
}

// transform maps x into the learned space, deciding the mode on the first
// sample and, for auto, switching a log series to linear (and restarting the
// warm-up) if a value ≤ 0 arrives while it is still learning.
func (d *Detector) transform(x float64) float64 {
	switch d.mode {
	case modeUnset:
		if d.p.transform == TransformLinear || d.p.transform == TransformAuto && x <= 0 {
			d.setMode(modeLinear)
		} else {
			d.setMode(modeLog)
		}
	case modeLog:
		// A value ≤ 0 in the warm-up, or a second one within nonPosSpan
		// samples after it, says the series is not a positive quantity
		// (a temperature, a difference): it is learned anew, linear. A
		// lone zero later on is a glitch and is clamped.
		if x <= 0 && d.p.transform == TransformAuto {
			if !d.learned || d.nonPos != 0 && d.n-d.nonPos < nonPosSpan {
				d.setMode(modeLinear)
				d.restart()
			} else {
				d.nonPos = d.n
			}
		}
	}
	if d.mode == modeLinear {
		return x
	}
	if x > 0 {
		if x < d.minPos || d.minPos == 0 {
			d.minPos = x
		}
		return ewma.Log(x)
	}
	return ewma.Log(fmax(d.minPos, math.SmallestNonzeroFloat64))
}

func (d *Detector) setMode(m uint8) {
	d.mode = m
	d.win.Reset()
	if m == modeLog {
		d.win.SetWidth(d.p.logWidth)
	} else {
		d.win.SetWidth(0)
	}
}

// restart forgets what was learned so far (the warm-up starts again).
func (d *Detector) restart() {
	d.nLearn, d.learned, d.prev, d.nonPos = 0, false, [2]float64{}, 0
	d.cusum, d.armed, d.quiet = 0, true, 0
	d.slow, d.dev2, d.fast, d.fastV, d.trend = ewma.Moments{}, 0, 0, 0, 0
	d.rm, d.rv, d.dd2 = 0, 0, 0
	d.long, d.ldev2, d.season, d.sv = 0, 0, season{}, 0
	if d.state != StateFiring {
		d.state, d.reason, d.run = StateNormal, 0, 0
	}
}

// weights returns the EWMA weights of a sample dt seconds after the previous
// one. Half-lives are at least a number of typical spacings, and a gap
// counts for at most maxGap spacings (at least an eighth of one, so
// duplicate timestamps still count a little).
func (d *Detector) weights(dt float64) weights {
	sp := d.spacing.Typical
	if dt == d.cDt && sp == d.cSp && d.n > 2 {
		return d.cw
	}
	p := d.p
	dtc := fmax(dt, 0)
	if sp > 0 {
		dtc = fmin(fmax(dtc, sp/8), p.maxGap*sp)
	}
	hs := fmax(p.halfLife, p.hlN*sp)
	hf := fmax(p.fastHalfLife, p.fhlN*sp)
	hl := fmax(p.longHalfLife, p.hlN*sp)
	w := weights{
		slow:   ewma.Alpha(dtc, hs),
		dev:    ewma.Alpha(dtc, devMemory*hs),
		fast:   ewma.Alpha(dtc, hf),
		long:   ewma.Alpha(dtc, hl),
		season: ewma.Alpha(dtc, p.dailyHalfLife),
		cusum:  1,
	}
	// A sample counts for the CUSUM in proportion to the time it covers,
	// up to one spacing: a burst of near-simultaneous samples is not that
	// many independent looks, so its false-alarm rate per hour stays that
	// of a regular series.
	if sp > 0 {
		w.cusum = fmin(dtc/sp, 1)
	}
	d.cDt, d.cSp, d.cw = dt, sp, w
	return w
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

// learn folds the sample into the baselines, clipping the residuals (Huber)
// so that one outlier cannot move them far.
func (d *Detector) learn(s *sample) {
	u := s.u
	if d.nLearn > 8 || d.learned {
		lim := huberK * s.sd
		u = fmin(fmax(u, d.slow.Mean-lim), d.slow.Mean+lim)
	}
	w := s.w
	if s.repeat {
		d.slow.Mean += w.slow * (u - d.slow.Mean)
		return
	}
	d.slow.Add(u, w.slow)
	d.trend += w.slow * (d.slow.Mean - d.trend)
	dev := d.fast - d.ref()
	ldev := d.fast - d.long
	a := w.slow
	if d.learned {
		if lim := d.p.enterZ * s.sz; math.Abs(dev) > lim {
			dev = math.Copysign(lim, dev)
		}
		if lim := d.p.enterZ * s.sl; math.Abs(ldev) > lim {
			ldev = math.Copysign(lim, ldev)
		}
		a = w.dev
	}
	d.dev2 += a * (dev*dev - d.dev2)
	d.rv += a * (d.rm*d.rm - d.rv)
	// The noise of single samples, from second differences: a linear
	// trend or a smooth cycle cancels out of x − 2x₁ + x₂, whose variance
	// is 6σ² for independent noise.
	if d.n > 2 {
		df := s.tx - 2*s.prev + s.prev1
		if l := huberK * math.Sqrt(6*d.dd2); d.learned && math.Abs(df) > l {
			df = math.Copysign(l, df)
		}
		d.dd2 += a * (df*df/6 - d.dd2)
	}
	d.ldev2 += w.long * (ldev*ldev - d.ldev2)
	// The long-horizon level and the daily profile around it learn the
	// sample itself (clipped like the baseline's).
	tx := u + d.sv
	d.long += w.long * (tx - d.long)
	if d.p.dailyHalfLife > 0 {
		d.season.learn(s.i0, s.i1, s.f, tx-d.long, w.season)
	}
}

// hot reports whether the current level counts towards firing.
func (d *Detector) hot() bool {
	return d.z >= d.p.enterZ && d.effect(d.fast, d.ref()) ||
		d.p.longZ > 0 && d.zl >= d.p.longZ && d.effect(d.fast, d.long)
}

// effect reports whether level x is at least minRatio above reference r.
func (d *Detector) effect(x, r float64) bool {
	if d.mode == modeLog {
		return x-r >= d.p.logRatio
	}
	return x-r >= (d.p.minRatio-1)*math.Abs(r)
}

// shifted reports whether the CUSUM chart crossed its threshold with a
// relevant effect: the median of the last three samples or the fast EWMA
// is at least minRatio above the baseline.
func (d *Detector) shifted(fin float64) bool {
	if d.p.cusumH <= 0 || d.cusum < d.p.cusumH {
		return false
	}
	return d.effect(fmax(fin, d.fast), d.ref())
}

// spike reports whether the sample is a huge isolated value: at least
// spikeZ spreads of consecutive differences above both the previous sample
// and the baseline, a relevant effect, and far beyond anything in the
// sliding window (its maximum at least spikeWin times closer to the
// baseline). Ordinary outliers of a heavy-tailed series stay in the window
// and keep the next one from qualifying.
func (d *Detector) spike(s *sample, ref float64) bool {
	if d.p.spikeZ <= 0 || !d.learned || !d.armed || d.state != StateNormal {
		return false
	}
	lim := d.p.spikeZ * fmax(math.Sqrt(d.dd2), d.floor())
	r := s.u - ref
	if s.tx-s.prev < lim || r < lim || !d.effect(s.u, ref) {
		return false
	}
	m := d.win.Quantile(spikeQuantile)
	if m == m && r >= spikeWindow*(m-d.sv-ref) {
		s.zs = clampZ(r / lim * d.p.spikeZ)
		return true
	}
	return false
}

// calm reports whether every chart is at or below exitZ.
func (d *Detector) calm() bool {
	return d.z <= d.p.exitZ && d.zl <= d.p.exitZ
}

func (d *Detector) stepDrift(s *sample, t int64, ev *Event) bool {
	p := d.p
	switch d.state {
	case StateNormal:
		// After an alert the key re-arms only once it has been calm for
		// rearmN samples: one episode, one alert, even if it flickers.
		if !d.armed {
			if d.calm() {
				if d.quiet++; d.quiet >= p.rearmN {
					d.armed = true
				}
			} else if d.quiet > 0 {
				d.quiet--
			}
		}
		shift := d.shifted(s.fin) || s.spike
		if !d.armed || !d.hot() && !shift {
			d.learn(s)
			return false
		}
		d.reason, d.episode, d.run = ReasonDrift, t, 1
		d.shadow.Reset(s.u, d.slow.Var)
		d.shadowN = 1
		if p.enterN <= 1 || shift {
			d.fire(t, ev)
			if s.spike && !d.hot() {
				// A lone sample fired: the event reports it, not the
				// fast EWMA that has not moved yet.
				ref := d.ref()
				ev.Current, ev.Ratio = d.value, d.valueOf(s.u-ref)
				if d.mode == modeLinear {
					ev.Ratio = 0
					if b := ref + d.sv; b > 0 {
						ev.Ratio = d.value / b
					}
				}
				ev.Z = s.zs
			}
			return true
		}
		d.state = StatePending
	case StatePending:
		d.learnShadow(s.u, s.w.slow)
		shift := d.shifted(s.fin)
		if !d.hot() && !shift {
			d.state, d.reason, d.run = StateNormal, 0, 0
			d.learn(s)
			return false
		}
		if d.run++; d.run >= p.enterN || shift {
			d.fire(t, ev)
			return true
		}
	case StateFiring:
		d.learnShadow(s.u, s.w.slow)
		if d.calm() {
			d.run++
		} else {
			d.run = 0
		}
		if d.run >= p.exitN {
			d.resolve(t, false, ev)
			return true
		}
		sp := d.spacing.Typical
		if float64(t-d.episode)*1e-9 >= fmax(p.accept, p.acceptN*sp) && d.shadowN >= 2 {
			// Adopt the episode's level; the event reports the new baseline.
			d.slow = d.shadow
			d.trend = d.slow.Mean
			d.long = d.slow.Mean
			d.z = clampZ((d.fast - d.ref()) / d.sdz(fmax(d.slow.StdDev(), d.floor()), s.cf))
			d.zl = clampZ((d.fast - d.long) / s.sl)
			d.score = d.driftScore(0)
			d.resolve(t, true, ev)
			return true
		}
	}
	return false
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

func (d *Detector) stepSLO(t int64, ev *Event) bool {
	p := d.p
	cur := d.valueOf(d.fast + d.sv)
	switch d.state {
	case StateNormal:
		if cur < d.slo {
			return false
		}
		d.reason, d.episode, d.run = ReasonSLO, t, 1
		if p.enterN <= 1 {
			d.fire(t, ev)
			return true
		}
		d.state = StatePending
	case StatePending:
		if cur < d.slo {
			d.state, d.reason, d.run = StateNormal, 0, 0
			return false
		}
		if d.run++; d.run >= p.enterN {
			d.fire(t, ev)
			return true
		}
	case StateFiring:
		if cur <= d.slo*p.sloExit {
			d.run++
		} else {
			d.run = 0
		}
		if d.run >= p.exitN {
			d.resolve(t, false, ev)
			return true
		}
	}
	return false
}

func (d *Detector) fire(t int64, ev *Event) {
	d.state, d.since, d.run, d.cusum = StateFiring, t, 0, 0
	d.event(KindFiring, t, ev)
}

func (d *Detector) resolve(t int64, accepted bool, ev *Event) {
	d.event(KindResolved, t, ev)
	ev.FiringSince = time.Unix(0, d.since).UTC()
	ev.Accepted = accepted
	d.state, d.reason, d.run, d.shadowN = StateNormal, 0, 0, 0
	d.armed, d.quiet = false, 0
}

// driftScore maps the charts to [0, 1): z²/(z²+enterZ²) for the largest
// z > 0 (0.5 at the enter threshold, 0.8 at twice it), with the long-horizon
// chart, the CUSUM and a spike (zs, already scaled) on the same scale: 0.5
// at their thresholds.
func (d *Detector) driftScore(zs float64) float64 {
	z := fmax(d.z, zs)
	if d.p.longZ > 0 {
		z = fmax(z, d.zl*d.p.enterZ/d.p.longZ)
	}
	if d.p.cusumH > 0 {
		z = fmax(z, d.p.enterZ*d.cusum/d.p.cusumH)
	}
	if !(z > 0) {
		return 0
	}
	if math.IsInf(z, 1) {
		return 1
	}
	z2 := z * z
	return z2 / (z2 + d.p.enterZ*d.p.enterZ)
}

// sloScore is r²/(r²+1) for r = current/SLO: 0.5 at the SLO.
func (d *Detector) sloScore() float64 {
	r := d.valueOf(d.fast+d.sv) / d.slo
	if !(r > 0) {
		return 0
	}
	if math.IsInf(r, 1) {
		return 1
	}
	return r * r / (r*r + 1)
}

// valueOf maps a value of the learned space back to the series' unit.
func (d *Detector) valueOf(t float64) float64 {
	if d.mode == modeLog {
		return math.Exp(t)
	}
	return t
}

func (d *Detector) event(kind Kind, t int64, ev *Event) {
	mean, sd := d.baseline()
	*ev = Event{
		Kind:           kind,
		Reason:         d.reason,
		At:             time.Unix(0, t).UTC(),
		Value:          d.value,
		Current:        d.valueOf(d.fast + d.sv),
		BaselineMean:   mean,
		BaselineStdDev: sd,
		BaselineP99:    d.valueOf(d.win.Quantile(0.99)),
		Z:              fmax(d.z, d.zl),
		Ratio:          d.ratio(),
		SLO:            d.slo,
		Samples:        d.n,
		Score:          d.score,
	}
}

// baseline returns the learned mean and standard deviation in the series'
// unit, at the time of day of the latest sample. For a log-learned series
// the mean is exp(μ), the geometric mean (the median of a log-normal), and
// the deviation exp(μ)·σ, its first-order (delta-method) spread.
func (d *Detector) baseline() (mean, sd float64) {
	if d.n == 0 {
		return 0, 0
	}
	if d.mode == modeLog {
		m := math.Exp(d.ref() + d.sv)
		return m, m * d.slow.StdDev()
	}
	return d.ref() + d.sv, d.slow.StdDev()
}

// ratio is current / baseline mean, 0 when the baseline is not positive.
func (d *Detector) ratio() float64 {
	if d.mode == modeLog {
		return math.Exp(d.fast - d.ref())
	}
	if r := d.ref() + d.sv; r > 0 {
		return (d.fast + d.sv) / r
	}
	return 0
}

// Score returns the severity of the latest sample in [0, 1]: 0 while
// learning (unless an SLO prior applies), otherwise z²/(z²+enterZ²) for
// z > 0 — monotone in z, 0.5 at detector.enterZ — and 0 for z ≤ 0, since a
// faster than normal series is never an alert.
func (d *Detector) Score() float64 { return d.score }

// State returns the detector's state.
func (d *Detector) State() State {
	if !d.learned && d.state == StateNormal {
		return StateLearning
	}
	return d.state
}

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

// ref is the baseline level the current value is compared with: the slow
// mean corrected for its lag (Brown's double exponential smoothing).
func (d *Detector) ref() float64 { return 2*d.slow.Mean - d.trend }

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
