package baseline

import "github.com/kubepulse/kubepulse/baseline/ewma"

// The exceedance chart judges a sample by where it falls among the samples
// of the sliding window — at or below their 90th percentile, up to their
// 99th, or beyond — not by how many standard deviations it is from the
// baseline. It needs no spread, so a key whose spread is huge or poorly
// known (a heavy-tailed warm-up of a few dozen samples) still sees a run of
// samples above nearly everything it has seen for what it is. The package
// doc describes the chart and its calibration.

// The window quantiles the categories are cut at.
const (
	exLoQ = 0.9
	exHiQ = 0.99
)

// exZLo and exZHi are the standard normal quantiles of exLoQ and exHiQ. A
// reference is never below the baseline plus that many of its standard
// deviations, so a window that a stuck source made flat, or that is narrow
// by chance, does not turn ordinary noise into exceedances.
const (
	exZLo = 1.2815515655446004
	exZHi = 2.3263478740408408
)

// exAlt is the distribution over the three categories (≤ p90, p90–p99,
// > p99) the chart is tuned to find fastest: what a sustained shift of two
// standard deviations gives a normal series, the size the CUSUM chart is
// tuned to as well.
var exAlt = [3]float64{0.24, 0.39, 0.37}

// exPrior is the weight, in samples, of the prior that a key's categories
// come with their nominal chances, independently: a young key is judged by
// it, an older one by what it has shown.
const exPrior = 20

// exSpan is the longest excursion of the chart, in sample spacings: one
// that has not reached the threshold by then starts again from zero. The
// chart looks for a change within the last exSpan samples (window-limited),
// which a shift that is obvious in rank terms shows within a few samples;
// slower drifts and wandering series are the other charts' to judge.
const exSpan = 16

// exWindow is the least number of samples in the window for the chart to
// rank against: fewer do not tell a 90th from a 99th percentile, so a series
// sampled every 5 minutes (12 an hour) is left to the other charts.
const exWindow = 30

// exMaxVIF is the most variance inflation of runs of exceedances the chart
// corrects for. A key whose exceedances come in longer runs is a series
// that wanders (a machine metric, not the latency of independent calls):
// its samples are not independent looks, a first-order correction is not
// enough, and the chart stands down; the EWMA and CUSUM charts judge it in
// the spread its runs show.
const exMaxVIF = 2

// exEvery is how often, in samples, an old key reads its references and
// recomputes its increments (a young one does at every sample): the window
// and the counts move with memories of an hour or more.
const exEvery = 64

// memory is what samples teach the baselines, the spreads and the chart's
// counts (not the daily profile, whose bins learn too slowly to matter
// here): the copy kept from the start of an excursion of the chart.
type memory struct {
	slow                              ewma.Moments
	trend, dev2, rv, dd2, long, ldev2 float64
	counts                            [3]float64
	starts                            float64
	decayed                           uint64
}

// exceed is the state of the exceedance chart.
type exceed struct {
	s float64 // the CUSUM of log-likelihood ratios
	// lo and hi are the references the categories are cut at, in the
	// learned space; nothing is ranked until they are ready.
	lo, hi float64
	ready  bool
	// inc is the log-likelihood ratio of each category.
	inc [3]float64
	// counts are the categories of the samples learned while the key was
	// normal, and starts the runs above lo they began, decayed with the
	// long memory.
	counts [3]float64
	starts float64
	// decayed is the sample (Detector.n) up to which counts and starts
	// have been forgotten (see learn).
	decayed uint64
	unit    float64 // an increment's weight: 1 / the variance inflation of runs, 0 when off
	down    float64 // unit × inc[0]: what a sample at or below lo adds (≤ 0)
	above   bool    // the previous sample was above lo
	saved   bool    // snap holds what was learned before the current excursion
	span    float64 // spacings since the current excursion began
	snap    memory
}

// hiQ is the quantile of a window of n samples the top category is cut at:
// the 99th percentile, or the maximum while there are fewer than 100 (their
// 99th percentile lies between the two largest; exceeding the largest of n
// exchangeable samples has the exact chance 1/(n+1)).
func hiQ(n uint64) float64 {
	if n < 100 {
		return 1
	}
	return exHiQ
}

// nominal is the chance that a new sample exceeds the q-quantile of n
// exchangeable samples, read between order statistics as the window reads
// it: (n − q·(n−1))/(n+1), and at least that of exceeding their maximum,
// 1/(n+1). For a full window it is 1 − q; a young window's quantiles are
// exceeded more often, and the chart knows it.
func nominal(q, n float64) float64 {
	return fmax((n-q*(n-1))/(n+1), 1/(n+1))
}

// exReference reads the references from the window (the current sample not
// yet in it), the increments and the chart's unit. It runs only while the
// chart is at zero, so all of them stay what they were before an excursion
// until it ends: a shift cannot raise the bar it is measured against. base
// is the baseline at the time of day of the sample, sd its spread, widen
// how much young spreads are widened (see refresh).
func (d *Detector) exReference(base, sd, widen float64) {
	x := &d.ex
	n := d.win.Count()
	if n < exWindow {
		x.ready = false
		return
	}
	// The window holds the last hour as it was. The chart looks for a
	// change within a few samples (exSpan), on which scale neither the time
	// of day nor a trend moves the window's quantiles.
	x.lo = fmax(d.win.Quantile(exLoQ), base+exZLo*sd)
	x.hi = fmax(d.win.Quantile(hiQ(n)), base+exZHi*sd)
	x.ready = true
	d.exIncrements(n)
	// Exceedances that come in runs carry less news each: an increment
	// weighs 1/VIF, the larger of the variance inflation runs of
	// exceedances show and the one short runs of residuals show the CUSUM
	// (the square of its unit over the baseline's spread). The latter is
	// read at its low end while the key is young — divided by widen², the
	// uncertainty young spreads are widened for — since a few dozen samples
	// measure it poorly. Past exMaxVIF the chart stands down.
	r := d.sc.s1 / (sd * widen * widen)
	v := fmax(x.vif(), r*r)
	x.unit = 0
	if v <= exMaxVIF {
		x.unit = 1 / v
	}
	x.down = x.unit * x.inc[0]
}

// exIncrements sets the log-likelihood ratio of each category, for a window
// of n samples: of exAlt against the chance of the category in control. The
// chance is estimated from the categories the key has shown and a prior of
// exPrior samples at the nominal chances of its window, and is never taken
// below nominal: a key whose references are exceeded more often than that
// (discrete values, ties) learns so and weighs exceedances less; one whose
// references are exceeded less often (a floor above the window's quantile,
// a window an episode inflated) keeps the nominal weights, which can only
// lengthen its run to a false alarm. A sample at or below lo never adds.
func (d *Detector) exIncrements(n uint64) {
	x := &d.ex
	fn := float64(n)
	pl, ph := nominal(exLoQ, fn), nominal(hiQ(n), fn)
	nom := [3]float64{1 - pl, pl - ph, ph}
	c := &x.counts
	// Forget what the samples counted since the last time are worth:
	// (1−w)^m ≈ e^(−m·w) for m samples of the long memory's weight w.
	if m := d.n - x.decayed; m > 0 {
		k := 1 - oneMinusExp(float64(m)*d.cw.long)
		c[0], c[1], c[2], x.starts, x.decayed = c[0]*k, c[1]*k, c[2]*k, x.starts*k, d.n
	}
	inv := 1 / (c[0] + c[1] + c[2] + exPrior)
	for k := range c {
		p := (c[k] + exPrior*nom[k]) * inv
		if k > 0 {
			p = fmax(p, nom[k])
		}
		x.inc[k] = ewma.Log(exAlt[k] / p)
	}
	x.inc[0] = fmin(x.inc[0], 0)
}

// vif is the variance inflation of runs of exceedances of lo, seen as a
// two-state Markov chain with the prior of independent samples: a run
// starts from below with chance π₀₁ and ends with chance π₁₀, so consecutive
// states correlate with λ = 1 − π₀₁ − π₁₀, and a sum of many of them varies
// (1+λ)/(1−λ) times as much as one of independent states would.
func (x *exceed) vif() float64 {
	c := &x.counts
	n1 := c[1] + c[2]
	const p = 1 - exLoQ
	st := x.starts + exPrior*p*(1-p)
	l := 1 - st/(c[0]+exPrior*(1-p)) - st/(n1+exPrior*p)
	return fmax((1+l)/(1-l), 1)
}

// exStep puts the sample in its category and, while the chart runs, adds
// its log-likelihood ratio in the chart's unit, weighted by the share of a
// spacing the sample covers. When the chart leaves zero it saves what the
// key has learned, so that an alert at the end of the excursion can
// unlearn what the excursion taught.
func (d *Detector) exStep(s *sample, run bool) {
	x := &d.ex
	c := uint8(0)
	if s.tx > x.lo {
		c = 1
		if s.tx > x.hi {
			c = 2
		}
	}
	s.cat, s.ranked, s.start = c, true, c > 0 && !x.above
	x.above = c > 0
	if d.win.Count() < exWindow {
		// A gap emptied the window: the references are stale.
		x.s, x.saved, x.ready = 0, false, false
		return
	}
	if !run || x.unit == 0 {
		x.s, x.saved = 0, false
		return
	}
	was := x.s
	x.s, x.span = exAdvance(was, x.span, s.w.cusum*x.unit*x.inc[c], s.w.cusum)
	if x.s == 0 {
		x.saved = false
	} else if was == 0 {
		d.save(&x.snap)
		x.saved = true
	}
}

// exAdvance is one step of the window-limited CUSUM: s grows by e, floored
// at 0, and span counts the spacings w since it left zero; an excursion
// longer than exSpan starts again from zero.
func exAdvance(s, span, e, w float64) (float64, float64) {
	was := s
	s = fmax(0, s+e)
	switch {
	case s == 0:
		span = 0
	case was == 0:
		span = w
	default:
		if span += w; span > exSpan {
			s, span = 0, 0
		}
	}
	return s, span
}

// learn counts the sample's category, and whether it starts a run above
// lo. The counts forget with the long memory — each sample makes the ones
// before it worth 1 − w — but the forgetting is taken off when they are
// read (exIncrements, every exEvery samples at most), not at every sample:
// the samples counted in between are forgotten a little too much, by at
// most exEvery weights of a memory of a day, which no estimate here
// notices.
func (x *exceed) learn(s *sample) {
	x.counts[s.cat]++
	if s.start {
		x.starts++
	}
}

// save copies what the key has learned into m.
func (d *Detector) save(m *memory) {
	*m = memory{slow: d.slow, trend: d.trend, dev2: d.dev2, rv: d.rv, dd2: d.dd2, long: d.long, ldev2: d.ldev2,
		counts: d.ex.counts, starts: d.ex.starts, decayed: d.ex.decayed}
}

// unlearn runs when an alert fires. If the exceedance chart fired it, the
// baselines, spreads and counts go back to what they were when its
// excursion began — its last zero, the CUSUM's estimate of when the change
// started — and the scales and charts are recomputed against them: a young
// key, whose baseline is still a running mean, has learned a good part of a
// shift by the time any chart is sure of it. The chart restarts from zero
// either way.
func (d *Detector) unlearn() {
	x := &d.ex
	if x.saved && x.s >= d.p.exH {
		m := &x.snap
		d.slow, d.trend, d.dev2, d.rv, d.dd2, d.long, d.ldev2 = m.slow, m.trend, m.dev2, m.rv, m.dd2, m.long, m.ldev2
		x.counts, x.starts, x.decayed = m.counts, m.starts, m.decayed
		widen := 1.0 // as observe widens young spreads
		if n := float64(d.nLearn); n*d.cw.long < 2 {
			widen = 1 + 10/n
		}
		d.refresh(widen)
		d.z = clampZ((d.fast - d.ref()) * d.sc.isz)
		if d.p.longZ > 0 {
			d.zl = clampZ((d.fast - d.long) * d.sc.isl)
		}
	}
	x.s, x.saved, x.span = 0, false, 0
}
