package baseline

import (
	"math"
	"time"
)

// hot reports whether the current level counts towards firing: the EWMA
// chart or the long-horizon chart is at or above its threshold, with a
// relevant effect.
func (d *Detector) hot() bool {
	return d.z >= d.p.enterZ && d.effect(d.fast, d.ref()) ||
		d.p.longZ > 0 && d.zl >= d.p.longZ && d.effect(d.fast, d.long)
}

// effect reports whether level x is at least minRatio above reference r
// (log-learned series) or above it by (minRatio−1)·|r| (linear ones).
func (d *Detector) effect(x, r float64) bool {
	if d.mode == modeLog {
		return x-r >= d.p.logRatio
	}
	return x-r >= (d.p.minRatio-1)*math.Abs(r)
}

// cusumStep is one step of the upper CUSUM (Page): the standardized
// residual e, clipped at ±cusumClip, less the allowance k, weighted by the
// share w of a spacing the sample covers, added to s and floored at 0.
func cusumStep(s, e, w, k float64) float64 {
	e = fmin(fmax(e, -cusumClip), cusumClip)
	return fmax(0, s+w*(e-k))
}

// shifted reports whether the CUSUM chart crossed its threshold with a
// relevant effect: the median of the last three samples or the fast EWMA
// is at least minRatio above the baseline.
func (d *Detector) shifted(fin float64) bool {
	if d.cusum < d.p.cusumOn && d.ex.s < d.p.exOn {
		return false
	}
	return d.effect(fmax(fin, d.fast), d.ref())
}

// spike reports whether the sample is a huge isolated value: at least
// spikeZ noise standard deviations (from second differences) above both the
// previous sample and the baseline, a relevant effect, and far beyond the
// sliding window (spikeWindow times further from the baseline than its
// spikeQuantile). Ordinary outliers of a heavy-tailed series stay in the
// window and keep the next ones from qualifying. It sets s.zs.
func (d *Detector) spike(s *sample, ref float64) bool {
	if !d.learned || !d.armed || d.state != StateNormal {
		return false
	}
	r := s.u - ref
	lim := d.p.spikeZ * fmax(math.Sqrt(d.dd2), d.sc.fl*0.25)
	if s.tx-s.prev < lim || r < lim || r < spikeSD*d.sc.sd || !d.effect(s.u, ref) {
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
		// After an alert the key re-arms once it has been calm for rearmN
		// samples more than restless: one episode, one alert, even if it
		// flickers, yet a key whose charts often wander a little still
		// re-arms.
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
			d.unlearn()
			d.fire(t, ev)
			if s.spike && !d.hot() {
				d.spikeEvent(s, ev)
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
			d.unlearn()
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
			// Adopt the episode's level, as the baseline and as the
			// long-horizon level; the event reports the new baseline.
			d.slow = d.shadow
			d.trend = d.slow.Mean
			d.long = d.slow.Mean
			d.refresh(1)
			d.z = clampZ((d.fast - d.ref()) * d.sc.isz)
			d.zl = clampZ((d.fast - d.long) * d.sc.isl)
			d.zs = 0
			d.resolve(t, true, ev)
			return true
		}
	}
	return false
}

// spikeEvent makes a firing event report the lone sample that fired it,
// not the fast EWMA, which has not moved yet.
func (d *Detector) spikeEvent(s *sample, ev *Event) {
	ref := d.ref()
	ev.Current, ev.Z = d.value, s.zs
	if d.mode == modeLog {
		ev.Ratio = math.Exp(s.u - ref)
	} else if b := ref + d.sv; b > 0 {
		ev.Ratio = d.value / b
	} else {
		ev.Ratio = 0
	}
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

// Score returns the severity of the latest sample in [0, 1]: 0 while
// learning (with an SLO prior, r²/(r²+1) for r = current/SLO), otherwise
// z²/(z²+enterZ²) for the largest chart z > 0 — monotone, 0.5 where a chart
// reaches its threshold — and 0 when every chart is at or below 0, since a
// faster than normal series is never an alert.
func (d *Detector) Score() float64 {
	switch d.scoreKind {
	case scoreSLO:
		return d.sloScore()
	case scoreDrift:
		return d.driftScore()
	}
	return 0
}

// driftScore maps the charts to [0, 1): z²/(z²+enterZ²) for the largest
// z > 0 (0.5 at the enter threshold, 0.8 at twice it), with the long-horizon
// chart, the CUSUM and a spike scaled so that they too give 0.5 at their
// thresholds.
func (d *Detector) driftScore() float64 {
	p := d.p
	z := d.z
	if p.longZ > 0 {
		z = fmax(z, d.zl*p.enterZ/p.longZ)
	}
	if p.cusumH > 0 {
		z = fmax(z, d.cusum*p.enterZ/p.cusumH)
	}
	if p.exH > 0 {
		z = fmax(z, d.ex.s*p.enterZ/p.exH)
	}
	if p.spikeZ > 0 {
		z = fmax(z, d.zs*p.enterZ/p.spikeZ)
	}
	if !(z > 0) {
		return 0
	}
	if math.IsInf(z, 1) {
		return 1
	}
	z2 := z * z
	return z2 / (z2 + p.enterZ*p.enterZ)
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
		Score:          d.Score(),
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
