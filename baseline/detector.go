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

// fastClip bounds how far above or below the fast EWMA a sample may pull it,
// in baseline standard deviations.
var fastClip = 3.0

var devMult = 4.0

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
	minRatio, logRatio float64
	accept, acceptN    float64
	relFloor, logFloor float64
	absFloor           float64
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
		minRatio:     c.Detector.MinRatio,
		logRatio:     math.Log(c.Detector.MinRatio),
		accept:       sec(c.Detector.AcceptAfter),
		acceptN:      c.Detector.AcceptAfterSamples,
		relFloor:     c.Detector.RelativeStdDevFloor,
		logFloor:     math.Log1p(c.Detector.RelativeStdDevFloor),
		absFloor:     c.Detector.AbsoluteStdDevFloor,
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
	nLearn  uint32 // samples since learning (re)started, saturating
	last    int64  // newest sample time, Unix ns
	spacing ewma.Spacing
	mode    uint8
	learned bool
	armed   bool // may start an episode (false after an acceptance until z cools)
	state   State
	reason  Reason
	run     uint16 // consecutive samples towards the next transition

	slow    ewma.Moments // the baseline
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
	cDt, cSp, cAs, cAf float64
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
func (d *Detector) Observe(x float64, at time.Time) (Event, bool) {
	return d.observe(x, at.UnixNano())
}

// ObserveUnixNano is Observe with the time as Unix nanoseconds.
func (d *Detector) ObserveUnixNano(x float64, t int64) (Event, bool) {
	return d.observe(x, t)
}

func (d *Detector) observe(x float64, t int64) (Event, bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return Event{}, false
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

	as, af := d.weights(dt)
	fl := d.floor()
	learning := !d.learned
	if learning {
		if d.nLearn < math.MaxUint32 {
			d.nLearn++
		}
		w := 1 / float64(d.nLearn)
		as, af = max(as, w), max(af, w)
	}
	fin := tx
	if UseMedian {
		// The fast EWMA follows the median of the last three samples: a lone
		// spike never reaches it, a shift does one sample later.
		fin = med3(tx, d.prev[0], d.prev[1])
		if d.nLearn < 3 && !d.learned {
			fin = tx
		}
		d.prev[1], d.prev[0] = d.prev[0], tx
	} else if d.learned {
		lim := fastClip * max(d.slow.StdDev(), fl)
		fin = min(max(tx, d.fast-lim), d.fast+lim)
	}
	d.fast += af * (fin - d.fast)
	// Σwᵢ² of the fast EWMA's weights: exact for any spacing of samples,
	// α/(2−α) (the EWMA chart factor squared) for regular ones.
	d.fastV = (1-af)*(1-af)*d.fastV + af*af
	// Samples that come in bursts are not independent looks at the series:
	// credit the fast EWMA with no more than a regular series sampled once
	// per spacing would give it.
	cf := math.Sqrt(max(d.fastV, p.minFastV))
	d.z = clampZ((d.fast - d.slow.Mean) / d.sdz(cf, fl))

	var ev Event
	var ok bool
	switch {
	case d.slo > 0 && (learning || d.reason == ReasonSLO && d.state != StateNormal):
		d.score = d.sloScore()
		ev, ok = d.stepSLO(t)
		d.learn(tx, as, cf, fl)
	case learning:
		d.score = 0
		d.learn(tx, as, cf, fl)
	default:
		d.score = d.driftScore()
		ev, ok = d.stepDrift(tx, t, as, cf, fl)
	}
	if learning && d.nLearn >= p.minSamples {
		d.learned = true
	}
	return ev, ok
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
		return math.Log(x)
	}
	return math.Log(max(d.minPos, math.SmallestNonzeroFloat64))
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
	d.slow, d.dev2, d.fast, d.fastV = ewma.Moments{}, 0, 0, 0
	if d.state != StateFiring {
		d.state, d.reason, d.run = StateNormal, 0, 0
	}
}

// weights returns the slow and fast EWMA weights of a sample dt seconds after
// the previous one. Half-lives are at least a number of typical spacings, and a gap counts for
// at most maxGap spacings (at least an eighth of one, so duplicate
// timestamps still count a little).
func (d *Detector) weights(dt float64) (as, af float64) {
	sp := d.spacing.Typical
	if dt == d.cDt && sp == d.cSp && d.n > 2 {
		return d.cAs, d.cAf
	}
	p := d.p
	dtc := max(dt, 0)
	if sp > 0 {
		dtc = min(max(dtc, sp/8), p.maxGap*sp)
	}
	hs := max(p.halfLife, p.hlN*sp)
	hf := max(p.fastHalfLife, p.fhlN*sp)
	as, af = ewma.Alpha(dtc, hs), ewma.Alpha(dtc, hf)
	d.cDt, d.cSp, d.cAs, d.cAf = dt, sp, as, af
	return as, af
}

// floor is the least standard deviation assumed, in the learned space.
func (d *Detector) floor() float64 {
	p := d.p
	if d.mode == modeLog {
		f := p.logFloor
		if p.absFloor > 0 {
			// absFloor/exp(mean), only computed when it could matter.
			if m := -d.slow.Mean; m > -700 && m < 700 {
				f = max(f, p.absFloor*math.Exp(m))
			}
		}
		return f
	}
	return max(p.relFloor*math.Abs(d.slow.Mean), p.absFloor)
}

// sdz is the standard deviation of the fast EWMA around the baseline: the
// larger of its measured spread (which includes autocorrelation) and what
// independent samples with the baseline's (floored) spread would give.
func (d *Detector) sdz(cf, fl float64) float64 {
	s := max(d.slow.StdDev(), fl) * cf
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
func (d *Detector) learn(tx, as, cf, fl float64) {
	if d.nLearn > 8 || d.learned {
		lim := huberK * max(d.slow.StdDev(), fl)
		tx = min(max(tx, d.slow.Mean-lim), d.slow.Mean+lim)
	}
	d.slow.Add(tx, as)
	dev := d.fast - d.slow.Mean
	if d.learned {
		if lim := d.p.enterZ * d.sdz(cf, fl); math.Abs(dev) > lim {
			dev = math.Copysign(lim, dev)
		}
	}
	ad := as
	if d.learned {
		ad = 1 - math.Pow(1-as, 1/devMult)
	}
	d.dev2 += ad * (dev*dev - d.dev2)
}

// hot reports whether the current level counts towards firing.
func (d *Detector) hot() bool {
	if d.z < d.p.enterZ {
		return false
	}
	diff := d.fast - d.slow.Mean
	if d.mode == modeLog {
		return diff >= d.p.logRatio
	}
	return diff >= (d.p.minRatio-1)*math.Abs(d.slow.Mean)
}

func (d *Detector) stepDrift(tx float64, t int64, as, cf, fl float64) (Event, bool) {
	p := d.p
	switch d.state {
	case StateNormal:
		if d.z <= p.exitZ {
			d.armed = true
		}
		if !d.armed || !d.hot() {
			d.learn(tx, as, cf, fl)
			return Event{}, false
		}
		d.reason, d.episode, d.run = ReasonDrift, t, 1
		d.shadow.Reset(tx, d.slow.Var)
		d.shadowN = 1
		if p.enterN <= 1 {
			return d.fire(t), true
		}
		d.state = StatePending
	case StatePending:
		d.learnShadow(tx, as)
		if !d.hot() {
			d.state, d.reason, d.run = StateNormal, 0, 0
			d.learn(tx, as, cf, fl)
			return Event{}, false
		}
		if d.run++; d.run >= p.enterN {
			return d.fire(t), true
		}
	case StateFiring:
		d.learnShadow(tx, as)
		if d.z <= p.exitZ {
			d.run++
		} else {
			d.run = 0
		}
		if d.run >= p.exitN {
			return d.resolve(t, false), true
		}
		sp := d.spacing.Typical
		if float64(t-d.episode)*1e-9 >= max(p.accept, p.acceptN*sp) && d.shadowN >= 2 {
			// Adopt the episode's level; the event reports the new baseline.
			d.slow = d.shadow
			d.armed = false
			d.z = clampZ((d.fast - d.slow.Mean) / d.sdz(cf, d.floor()))
			d.score = d.driftScore()
			return d.resolve(t, true), true
		}
	}
	return Event{}, false
}

// learnShadow feeds the episode's own baseline: an equal-weight mean of the
// episode that turns into an EWMA with the slow weight once the episode is
// longer than the slow memory.
func (d *Detector) learnShadow(tx, as float64) {
	if d.shadowN < math.MaxUint32 {
		d.shadowN++
	}
	d.shadow.Add(tx, max(as, 1/float64(d.shadowN)))
}

func (d *Detector) stepSLO(t int64) (Event, bool) {
	p := d.p
	cur := d.valueOf(d.fast)
	switch d.state {
	case StateNormal:
		if cur < d.slo {
			return Event{}, false
		}
		d.reason, d.episode, d.run = ReasonSLO, t, 1
		if p.enterN <= 1 {
			return d.fire(t), true
		}
		d.state = StatePending
	case StatePending:
		if cur < d.slo {
			d.state, d.reason, d.run = StateNormal, 0, 0
			return Event{}, false
		}
		if d.run++; d.run >= p.enterN {
			return d.fire(t), true
		}
	case StateFiring:
		if cur <= d.slo*p.sloExit {
			d.run++
		} else {
			d.run = 0
		}
		if d.run >= p.exitN {
			return d.resolve(t, false), true
		}
	}
	return Event{}, false
}

func (d *Detector) fire(t int64) Event {
	d.state, d.since, d.run = StateFiring, t, 0
	return d.event(KindFiring, t)
}

func (d *Detector) resolve(t int64, accepted bool) Event {
	ev := d.event(KindResolved, t)
	ev.FiringSince = time.Unix(0, d.since).UTC()
	ev.Accepted = accepted
	d.state, d.reason, d.run, d.shadowN = StateNormal, 0, 0, 0
	return ev
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

func (d *Detector) event(kind Kind, t int64) Event {
	mean, sd := d.baseline()
	return Event{
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
		m := math.Exp(d.slow.Mean)
		return m, m * d.slow.StdDev()
	}
	return d.slow.Mean, d.slow.StdDev()
}

// ratio is current / baseline mean, 0 when the baseline is not positive.
func (d *Detector) ratio() float64 {
	if d.mode == modeLog {
		return math.Exp(d.fast - d.slow.Mean)
	}
	if d.slow.Mean > 0 {
		return d.fast / d.slow.Mean
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
	return max(a, b)
}

// clampZ keeps z finite (and so every score and checkpoint field).
func clampZ(z float64) float64 { return min(max(z, -1e9), 1e9) }
