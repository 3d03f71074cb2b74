// Package ewma holds exponentially weighted moving statistics decayed by
// elapsed time rather than by sample count.
//
// A count-decayed EWMA (x̄ ← x̄ + α(x − x̄) with a fixed α) forgets faster when
// samples come faster and never forgets while none come, so its memory depends
// on the traffic, not on the clock. Here the weight kept by the past after an
// elapsed time dt is 2^(−dt/halfLife): a sample that arrives after a long pause
// moves the mean more than one that arrives right after another, and the
// statistics mean the same thing whatever the sampling rate.
//
// The package is pure arithmetic with no state beyond the values it is given,
// so callers (package baseline) decide how gaps, warm-up and freezing work.
package ewma

import "math"

// Alpha returns the weight of a new sample that arrives dt after the previous
// one, for a half-life h (both in the same unit, e.g. seconds): 1 − 2^(−dt/h).
// It is 0 for dt ≤ 0 and approaches 1 as dt grows past a few half-lives.
func Alpha(dt, h float64) float64 {
	if dt <= 0 || h <= 0 {
		if h <= 0 && dt > 0 {
			return 1
		}
		return 0
	}
	return -math.Expm1(-dt / h * math.Ln2)
}

// SteadyLambda is the per-sample weight of an EWMA fed regularly every
// spacing with half-life h; an iid series smoothed by it has variance
// σ²·λ/(2−λ) — see ChartFactor.
func SteadyLambda(spacing, h float64) float64 { return Alpha(spacing, h) }

// ChartFactor returns √(λ/(2−λ)), the ratio between the standard deviation of
// an EWMA with per-sample weight λ over independent samples and the standard
// deviation of the samples themselves (the classic EWMA control chart limit).
func ChartFactor(lambda float64) float64 {
	if lambda <= 0 {
		return 0
	}
	if lambda >= 1 {
		return 1
	}
	return math.Sqrt(lambda / (2 - lambda))
}

// Moments is an exponentially weighted mean and variance. The zero value is
// a series that has seen nothing; Reset starts it at a first sample.
type Moments struct {
	Mean float64
	Var  float64
}

// Reset starts the statistics at x with variance v.
func (m *Moments) Reset(x, v float64) {
	m.Mean, m.Var = x, v
}

// Add folds x in with weight alpha ∈ [0, 1] (see Alpha). The variance update
// is the incremental form of the exponentially weighted variance
// (Finch, "Incremental calculation of weighted mean and variance", 2009):
//
//	δ = x − μ;  μ ← μ + αδ;  σ² ← (1−α)(σ² + αδ²)
//
// which stays non-negative and needs no stored history.
func (m *Moments) Add(x, alpha float64) {
	d := x - m.Mean
	m.Mean += alpha * d
	m.Var = (1 - alpha) * (m.Var + alpha*d*d)
}

// StdDev returns √Var.
func (m *Moments) StdDev() float64 { return math.Sqrt(m.Var) }

// Spacing estimates the typical time between samples of a series, robust to
// gaps (a pause of hours does not make the series look sparse) and to bursts
// of near-simultaneous samples. It is a count-weighted EWMA of the gap between
// samples with each gap clamped to [Typical/8, 8·Typical] once a first
// estimate exists.
type Spacing struct {
	// Typical is the current estimate, in the caller's unit; 0 until a first
	// positive gap was seen.
	Typical float64
	// N counts the gaps folded in, saturating; it sets the weight of the next
	// one (1/N up to 1/32), so the estimate settles in a few dozen samples and
	// then still follows a change of sampling rate.
	N uint32
}

// spacingMemory bounds the count weight: 1/32 per gap once settled.
const spacingMemory = 32

// Add folds in the gap dt between two consecutive samples; dt ≤ 0 (duplicate
// or backward timestamps) is ignored.
func (s *Spacing) Add(dt float64) {
	if !(dt > 0) || math.IsInf(dt, 0) {
		return
	}
	if s.Typical == 0 {
		s.Typical, s.N = dt, 1
		return
	}
	dt = min(max(dt, s.Typical/8), s.Typical*8)
	if s.N < spacingMemory {
		s.N++
	}
	s.Typical += (dt - s.Typical) / float64(s.N)
}
