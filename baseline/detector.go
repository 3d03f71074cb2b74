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

// cusumClip clips a sample's standardized residual before the CUSUM adds
// it (Huber): an outlier adds at most cusumClip − k.
const cusumClip = 3

// longUpClip clips upward deviations from the long-horizon level, in its
// spreads, before they teach that spread (see learn).
const longUpClip = 2

// spikeQuantile is the window quantile a spike must be far beyond: the
// largest sample but for the top 0.5 %, so a few earlier spikes do not mask
// the next one while a series with routine outliers keeps them in view.
const spikeQuantile = 0.995

// spikeSD is how many of the baseline's standard deviations above it a
// spike must be besides spikeZ noise deviations: in a strongly
// autocorrelated series single samples vary much less than the series
// wanders, and a jump within its usual range is not a spike.
const spikeSD = 5

// spikeWindow is how many times further from the baseline than the window's
// spikeQuantile a spike must be.
const spikeWindow = 2

// Spreads move with memories of an hour or more: once a key has seen
// scaleYoung samples they are recomputed every scaleEvery samples only
// (square roots and divisions are a good part of a sample's cost).
const (
	scaleYoung = 4096
	scaleEvery = 8
)

// nonPosSpan is how close two values ≤ 0 must be (in samples) to switch a
// log-learned series to linear.
const nonPosSpan = 1000

// Transform modes of a detector.
const (
	modeUnset uint8 = iota
	modeLog
	modeLinear
)

// What the score of the latest sample is made of (see Score).
const (
	scoreNone uint8 = iota
	scoreSLO
	scoreDrift
)

// Detector learns one series and decides when it drifts above normal. It is
// not safe for concurrent use: Tracker holds one per key behind a lock.
//
// Each sample updates, in the learned space (log or linear, less the daily
// profile; see the package doc): a fast EWMA (the current level), the slow
// baseline (EWMA mean and variance), the long-horizon level, the spreads the
// charts are measured in, the daily profile and the sliding window. Four
// charts watch it: the EWMA chart (z of the fast EWMA above the baseline),
// the CUSUM of single-sample residuals, the long-horizon chart and the spike
// rule; Score maps them to [0, 1].
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
	stale   bool   // the scales must be recomputed at the next sample
	quiet   uint16 // calm samples since disarming, less the restless ones
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
	first   int64   // time of the first sample since the warm-up (re)started
	nonPos  uint64  // sample number of the last value ≤ 0 of a log series
	cusum   float64 // CUSUM of standardized, clipped residuals
	rm, rv  float64 // fast EWMA of the clipped residuals, and the EWMA of its square
	dd2     float64 // EWMA of a sixth of the squared second difference
	long    float64 // the long-horizon level
	ldev2   float64 // EWMA of (fast − long)²
	season  season  // daily profile around long
	sc      scales  // the spreads the charts divide by
	ex      exceed  // the exceedance chart

	value, z, zl, zs float64 // the latest sample, the charts' z and its spike z
	sv               float64 // the daily profile at the latest sample
	scoreKind        uint8

	// Cache of the decay weights for the last (gap, spacing) pair: a regular
	// series computes them once.
	cDt, cSp float64
	cw       weights
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
	return &Detector{p: p, win: w, slo: slo, armed: true, state: StateNormal, season: newSeason()}
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
	tx          float64 // the transformed value
	u           float64 // tx less the daily profile
	fin         float64 // the median of the last three u
	prev, prev1 float64 // the two previous transformed samples
	w           weights
	t           int64 // the sample's time
	repeat      bool
	spike       bool    // a huge isolated sample (see spike)
	zs          float64 // its z: how many noise standard deviations above the baseline
	// The exceedance chart's category of the sample (0: at or below the
	// window's p90, 1: up to its p99, 2: beyond), when ranked.
	cat           uint8
	ranked, start bool // start: the first of a run above the p90
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
	s.t = t
	if d.mode == modeLog && x >= d.minPos && d.minPos > 0 {
		s.tx = ewma.Log(x) // the common case, without a call
	} else {
		s.tx = d.transform(x)
	}
	if dt == d.cDt && d.spacing.Typical == d.cSp && d.n > 2 {
		s.w = d.cw
	} else {
		s.w = *d.weights(dt)
	}
	learning := !d.learned
	if d.nLearn < math.MaxUint32 {
		d.nLearn++
	}
	widen := 1.0
	if n := float64(d.nLearn); n*s.w.long < 2 {
		// Until the EWMAs have seen about as many samples as their memory,
		// they are plain running means (weight 1/n), so the first samples
		// do not linger with an outsized weight. (Past twice the longest
		// memory 1/n no longer matters, and the division is skipped.)
		w := 1 / n
		s.w.slow, s.w.fast, s.w.long = fmax(s.w.slow, w), fmax(s.w.fast, w), fmax(s.w.long, w)
		// Spreads learned from few samples are uncertain: widen them by
		// 1 + 10/n so the first hours after warm-up are not the noisiest.
		widen = 1 + 10*w
	}
	// The daily profile takes the time of day out of the sample once a day
	// of data taught it, fully after two.
	if p.daily {
		if d.nLearn == 1 {
			d.first = t
		}
		v := d.season.read(t)
		d.sv = 0
		if g := float64(t-d.first)*(1/float64(24*time.Hour)) - 1; g > 0 {
			d.sv = fmin(g, 1) * v
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
	if d.nLearn < scaleYoung || d.n%scaleEvery == 0 || d.stale {
		d.refresh(widen)
	}
	ref := d.ref()
	d.z = clampZ((d.fast - ref) * d.sc.isz)
	if p.longZ > 0 {
		d.zl = clampZ((d.fast - d.long) * d.sc.isl)
	}
	// The CUSUM chart: each sample's residual, standardized by the spread
	// of one sample implied by short runs of residuals and clipped (Huber)
	// so that a lone outlier adds at most cusumClip − k.
	r := s.u - ref
	lim := huberK * d.sc.sd
	d.rm += s.w.fast * (fmin(fmax(r, -lim), lim) - d.rm)
	run := d.learned && d.armed && d.state != StateFiring
	if p.cusumH > 0 && run {
		d.cusum = cusumStep(d.cusum, r*d.sc.is1, s.w.cusum, p.cusumK)
	} else {
		d.cusum = 0
	}
	// The exceedance chart ranks the sample against the window before the
	// sample joins it. A sample at or below the 90th percentile needs no
	// call: it leaves a chart at zero there, and takes one above zero down
	// (a chart that does not run is at zero).
	if x := &d.ex; x.ready {
		switch {
		case s.tx > x.lo:
			d.exStep(&s, run)
		case x.s == 0:
			s.ranked, x.above = true, false
		default:
			s.ranked, x.above = true, false
			if x.s, x.span = exAdvance(x.s, x.span, s.w.cusum*x.down, s.w.cusum); x.s == 0 {
				x.saved = false
			}
		}
	}
	// Nearly every sample fails the spike rule's first test: no call, and
	// a branch that is always predicted right (r > 0 is a coin toss).
	if p.spikeZ > 0 && r*r >= p.spikeZ2*d.dd2 && r > 0 {
		s.spike = d.spike(&s, ref)
	}
	d.win.Add(s.tx, t)

	var ok bool
	switch {
	case d.slo > 0 && (learning || d.reason == ReasonSLO && d.state != StateNormal):
		d.scoreKind = scoreSLO
		ok = d.stepSLO(t, ev)
		d.learn(&s)
	case learning:
		d.scoreKind = scoreNone
		d.learn(&s)
	default:
		d.scoreKind, d.zs = scoreDrift, s.zs
		// The common case, mostly decided without a call: every chart
		// below its threshold.
		quiet := d.z < p.enterZ && d.zl < p.longOn && d.cusum < p.cusumOn && d.ex.s < p.exOn
		if d.state == StateNormal && d.armed && !s.spike && (quiet || !d.hot() && !d.shifted(s.fin)) {
			d.learn(&s)
		} else {
			ok = d.stepDrift(&s, t, ev)
		}
	}
	if learning && d.nLearn >= p.minSamples {
		d.learned = true
	}
	return ok
}

// transform maps x into the learned space, deciding the mode on the first
// sample and, for auto, switching a log series to linear (and restarting the
// warm-up) when values ≤ 0 say it is not a positive quantity.
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
	d.cusum, d.armed, d.quiet, d.stale = 0, true, 0, true
	d.slow, d.dev2, d.fast, d.fastV, d.trend = ewma.Moments{}, 0, 0, 0, 0
	d.rm, d.rv, d.dd2 = 0, 0, 0
	d.long, d.ldev2, d.season, d.sv = 0, 0, newSeason(), 0
	d.ex = exceed{}
	if d.state != StateFiring {
		d.state, d.reason, d.run = StateNormal, 0, 0
	}
}

// State returns the detector's state.
func (d *Detector) State() State {
	if !d.learned && d.state == StateNormal {
		return StateLearning
	}
	return d.state
}
