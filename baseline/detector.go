package baseline

import (
	"fmt"
	"math"
	"time"

	"github.com/kubepulse/kubepulse/baseline/ewma"
	"github.com/kubepulse/kubepulse/baseline/window"
)

// huberK clips the residual a sample may teach the slow baseline to ±huberK
// standard deviations, so a spike moves it no more than a sample three
// deviations away would.
const huberK = 3

// devMemory is the memory of the fast EWMA's spread around the baseline, in
// slow half-lives: long enough to span a daily cycle's worth of normal
// excursions, so the spread does not shrink in calm hours and then make an
// ordinary evening peak look anomalous.
const devMemory = 4

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
	maxGap             float64
	minSamples         uint32
	enterZ, exitZ      float64
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
		transform:    c.EWMA.Transform,
		halfLife:     sec(c.EWMA.HalfLife),
		hlN:          c.EWMA.HalfLifeSamples,
		fastHalfLife: sec(c.EWMA.FastHalfLife),
		fhlN:         c.EWMA.FastHalfLifeSamples,
		maxGap:       c.EWMA.MaxGapSamples,
		minSamples:   uint32(c.Detector.MinSamples),
		enterZ:       c.Detector.EnterZ,
		exitZ:        c.Detector.ExitZ,
		enterN:       uint16(min(c.Detector.EnterSamples, math.MaxUint16)),
		exitN:        uint16(min(c.Detector.ExitSamples, math.MaxUint16)),
		rearmN:       uint16(min(c.Detector.RearmSamples, math.MaxUint16)),
		minRatio:     c.Detector.MinRatio,
		logRatio:     math.Log(c.Detector.MinRatio),
		accept:       sec(c.Detector.AcceptAfter),
		acceptN:      c.Detector.AcceptAfterSamples,
		relFloor:     c.Detector.RelativeStdDevFloor,
		logFloor:     math.Log1p(c.Detector.RelativeStdDevFloor),
		absFloor:     c.Detector.AbsoluteStdDevFloor,
		absCut:       absCut(c.Detector.AbsoluteStdDevFloor, math.Log1p(c.Detector.RelativeStdDevFloor)),
		sloExit:      c.Detector.SLOExitRatio,
		minFastV:     minFastV(c.EWMA.FastHalfLifeSamples),
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

	slow    ewma.Moments // the baseline
	trend   float64      // EWMA of slow.Mean: 2·slow.Mean − trend has no lag on a ramp
	dev2    float64      // EWMA of (fast − baseline)²
	fast    float64
	prev    [2]float64   // the two previous transformed samples
	fastV   float64      // variance factor of fast: Var(fast) = σ²·fastV for iid samples
	shadow  ewma.Moments // what normal would be if the episode were accepted
	shadowN uint32
	minPos  float64 // smallest positive value seen (log mode clamps to it)
	episode int64   // time the current episode began (pending)
	since   int64   // time the current alert fired

	value, z, score float64

	// Cache of the decay weights for the last (gap, spacing) pair: a regular
	// series computes them once.
	cDt, cSp, cAs, cAd, cAf float64
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
	tx := d.transform(x)
	d.win.Add(tx, t)

	as, ad, af := d.weights(dt)
	fl := d.floor()
	learning := !d.learned
	if d.nLearn < math.MaxUint32 {
		d.nLearn++
	}
	// Until the EWMAs have seen about as many samples as their memory, they
	// are plain running means (weight 1/n), so the first samples do not
	// linger with an outsized weight.
	w := 1 / float64(d.nLearn)
	as, ad, af = fmax(as, w), fmax(ad, w), fmax(af, w)
	// The fast EWMA follows the median of the last three samples: a lone
	// spike never reaches it, a shift does one sample later.
	fin := tx
	if d.learned || d.nLearn >= 3 {
		fin = med3(tx, d.prev[0], d.prev[1])
	}
	// A value repeated exactly comes from a stuck or cached source: it
	// says nothing about the spread, which is then left as it was (so a
	// flat stretch does not make the return of ordinary noise an alert).
	repeat := d.n > 1 && tx == d.prev[0]
	d.prev[1], d.prev[0] = d.prev[0], tx
	d.fast += af * (fin - d.fast)
	// Σwᵢ² of the fast EWMA's weights: exact for any spacing of samples,
	// α/(2−α) (the EWMA chart factor squared) for regular ones.
	d.fastV = (1-af)*(1-af)*d.fastV + af*af
	// Samples that come in bursts are not independent looks at the series:
	// credit the fast EWMA with no more than a regular series sampled once
	// per spacing would give it.
	cf := math.Sqrt(fmax(d.fastV, p.minFastV))
	sd := fmax(d.slow.StdDev(), fl)
	sz := d.sdz(sd, cf)
	// Spreads learned from few samples are uncertain: widen them by
	// 1 + 10/n so the first hours after warm-up are not the noisiest.
	sz *= 1 + 10/float64(d.nLearn)
	d.z = clampZ((d.fast - d.ref()) / sz)

	var ok bool
	switch {
	case d.slo > 0 && (learning || d.reason == ReasonSLO && d.state != StateNormal):
		d.score = d.sloScore()
		ok = d.stepSLO(t, ev)
		d.learn(tx, as, ad, sd, sz, repeat)
	case learning:
		d.score = 0
		d.learn(tx, as, ad, sd, sz, repeat)
	default:
		d.score = d.driftScore()
		ok = d.stepDrift(tx, t, as, ad, sd, sz, cf, repeat, ev)
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
		if x <= 0 && d.p.transform == TransformAuto && !d.learned {
			d.setMode(modeLinear)
			d.restart()
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
	d.nLearn = 0
	d.slow, d.dev2, d.fast, d.fastV, d.trend = ewma.Moments{}, 0, 0, 0, 0
	if d.state != StateFiring {
		d.state, d.reason, d.run = StateNormal, 0, 0
	}
}

// weights returns the slow and fast EWMA weights of a sample dt seconds after
// the previous one. Half-lives are at least a number of typical spacings, and a gap counts for
// at most maxGap spacings (at least an eighth of one, so duplicate
// timestamps still count a little).
func (d *Detector) weights(dt float64) (as, ad, af float64) {
	sp := d.spacing.Typical
	if dt == d.cDt && sp == d.cSp && d.n > 2 {
		return d.cAs, d.cAd, d.cAf
	}
	p := d.p
	dtc := fmax(dt, 0)
	if sp > 0 {
		dtc = fmin(fmax(dtc, sp/8), p.maxGap*sp)
	}
	hs := fmax(p.halfLife, p.hlN*sp)
	hf := fmax(p.fastHalfLife, p.fhlN*sp)
	as, ad, af = ewma.Alpha(dtc, hs), ewma.Alpha(dtc, devMemory*hs), ewma.Alpha(dtc, hf)
	d.cDt, d.cSp, d.cAs, d.cAd, d.cAf = dt, sp, as, ad, af
	return as, ad, af
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

// learn folds tx into the slow baseline and the fast spread, clipping the
// residuals (Huber) so that one outlier cannot move them far.
// sd is the floored baseline deviation and sz the current sdz.
func (d *Detector) learn(tx, as, ad, sd, sz float64, repeat bool) {
	if d.nLearn > 8 || d.learned {
		lim := huberK * sd
		tx = fmin(fmax(tx, d.slow.Mean-lim), d.slow.Mean+lim)
	}
	if repeat {
		d.slow.Mean += as * (tx - d.slow.Mean)
		return
	}
	d.slow.Add(tx, as)
	d.trend += as * (d.slow.Mean - d.trend)
	dev := d.fast - d.ref()
	if d.learned {
		if lim := d.p.enterZ * sz; math.Abs(dev) > lim {
			dev = math.Copysign(lim, dev)
		}
		as = ad
	}
	d.dev2 += as * (dev*dev - d.dev2)
}

// hot reports whether the current level counts towards firing.
func (d *Detector) hot() bool {
	if d.z < d.p.enterZ {
		return false
	}
	diff := d.fast - d.ref()
	if d.mode == modeLog {
		return diff >= d.p.logRatio
	}
	return diff >= (d.p.minRatio-1)*math.Abs(d.ref())
}

func (d *Detector) stepDrift(tx float64, t int64, as, ad, sd, sz, cf float64, repeat bool, ev *Event) bool {
	p := d.p
	switch d.state {
	case StateNormal:
		// After an alert the key re-arms only once it has been calm for
		// rearmN samples: one episode, one alert, even if it flickers.
		if !d.armed {
			if d.z <= p.exitZ {
				if d.quiet++; d.quiet >= p.rearmN {
					d.armed = true
				}
			} else {
				d.quiet = 0
			}
		}
		if !d.armed || !d.hot() {
			d.learn(tx, as, ad, sd, sz, repeat)
			return false
		}
		d.reason, d.episode, d.run = ReasonDrift, t, 1
		d.shadow.Reset(tx, d.slow.Var)
		d.shadowN = 1
		if p.enterN <= 1 {
			d.fire(t, ev)
			return true
		}
		d.state = StatePending
	case StatePending:
		d.learnShadow(tx, as)
		if !d.hot() {
			d.state, d.reason, d.run = StateNormal, 0, 0
			d.learn(tx, as, ad, sd, sz, repeat)
			return false
		}
		if d.run++; d.run >= p.enterN {
			d.fire(t, ev)
			return true
		}
	case StateFiring:
		d.learnShadow(tx, as)
		if d.z <= p.exitZ {
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
			d.z = clampZ((d.fast - d.ref()) / d.sdz(fmax(d.slow.StdDev(), d.floor()), cf))
			d.score = d.driftScore()
			d.resolve(t, true, ev)
			return true
		}
	}
	return false
}

// learnShadow feeds the episode's own baseline: an equal-weight mean of the
// episode that turns into an EWMA with the slow weight once the episode is
// longer than the slow memory.
func (d *Detector) learnShadow(tx, as float64) {
	if d.shadowN < math.MaxUint32 {
		d.shadowN++
	}
	d.shadow.Add(tx, fmax(as, 1/float64(d.shadowN)))
}

func (d *Detector) stepSLO(t int64, ev *Event) bool {
	p := d.p
	cur := d.valueOf(d.fast)
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
	d.state, d.since, d.run = StateFiring, t, 0
	d.event(KindFiring, t, ev)
}

func (d *Detector) resolve(t int64, accepted bool, ev *Event) {
	d.event(KindResolved, t, ev)
	ev.FiringSince = time.Unix(0, d.since).UTC()
	ev.Accepted = accepted
	d.state, d.reason, d.run, d.shadowN = StateNormal, 0, 0, 0
	d.armed, d.quiet = false, 0
}

// driftScore maps z to [0, 1): 0 for z ≤ 0, z²/(z²+enterZ²) above, so the
// score is 0.5 at the enter threshold, 0.8 at twice it, 0.94 at four times.
func (d *Detector) driftScore() float64 {
	if !(d.z > 0) {
		return 0
	}
	if math.IsInf(d.z, 1) {
		return 1
	}
	z2 := d.z * d.z
	return z2 / (z2 + d.p.enterZ*d.p.enterZ)
}

// sloScore is r²/(r²+1) for r = current/SLO: 0.5 at the SLO.
func (d *Detector) sloScore() float64 {
	r := d.valueOf(d.fast) / d.slo
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
		Current:        d.valueOf(d.fast),
		BaselineMean:   mean,
		BaselineStdDev: sd,
		BaselineP99:    d.valueOf(d.win.Quantile(0.99)),
		Z:              d.z,
		Ratio:          d.ratio(),
		SLO:            d.slo,
		Samples:        d.n,
		Score:          d.score,
	}
}

// baseline returns the learned mean and standard deviation in the series'
// unit. For a log-learned series the mean is exp(μ), the geometric mean
// (the median of a log-normal), and the deviation exp(μ)·σ, its first-order
// (delta-method) spread.
func (d *Detector) baseline() (mean, sd float64) {
	if d.n == 0 {
		return 0, 0
	}
	if d.mode == modeLog {
		m := math.Exp(d.ref())
		return m, m * d.slow.StdDev()
	}
	return d.ref(), d.slow.StdDev()
}

// ratio is current / baseline mean, 0 when the baseline is not positive.
func (d *Detector) ratio() float64 {
	if d.mode == modeLog {
		return math.Exp(d.fast - d.ref())
	}
	if r := d.ref(); r > 0 {
		return d.fast / r
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
