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
	return OneMinusExp(dt / h * math.Ln2)
}

// OneMinusExp returns 1 − e^(−x) for x ≥ 0. Below 1/16 it sums the Taylor
// series to x⁷ (relative error < 1e-13) with a short dependency chain, several
// times faster than math.Expm1; below 1 it squares e^(−x/4) twice or
// e^(−x/16) four times (the weight of a sample one spacing after the last,
// for a half-life of a few spacings, lands here); this is every sample's
// cost.
func OneMinusExp(x float64) float64 {
	if x < 0.0625 {
		return taylor(x)
	}
	if x < 0.25 {
		b := 1 - taylor(x*0.25) // e^(−x/4)
		b *= b
		return 1 - b*b
	}
	if x < 1 {
		b := 1 - taylor(x*0.0625) // e^(−x/16)
		b *= b
		b *= b
		b *= b
		return 1 - b*b
	}
	return -math.Expm1(-x)
}

// taylor is 1 − e^(−x) for 0 ≤ x < 1/16.
func taylor(x float64) float64 {
	x2 := x * x
	// x − x²/2 + x³/6 − x⁴/24 + x⁵/120 − x⁶/720 + x⁷/5040
	lo := 1 - 0.5*x + (1.0/6)*x2
	mid := -(1.0 / 24) + (1.0/120)*x
	hi := -(1.0 / 720) + (1.0/5040)*x
	return x * (lo + x2*x*(mid+x2*hi))
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
	dt = min(max(dt, s.Typical*0.125), s.Typical*8)
	if s.N < spacingMemory {
		s.N++
		s.Typical += (dt - s.Typical) / float64(s.N)
		return
	}
	s.Typical += (dt - s.Typical) * (1.0 / spacingMemory) // no division once settled
}

// Log returns the natural logarithm of x > 0 (NaN for x < 0 or NaN, −Inf
// for 0, +Inf for +Inf), to within 1e-14 relative of math.Log, in about
// half its time: x = m·2^e with m in [√½, √2), then
// ln m = 2·atanh(s) = 2(s + s³/3 + s⁵/5 + …) with s = (m−1)/(m+1), |s| < 0.172,
// summed to s¹⁷.
func Log(x float64) float64 {
	if !(x >= 0x1p-1022) || x > math.MaxFloat64 { // ≤ 0, subnormal, NaN or +Inf
		return math.Log(x)
	}
	// Split x into m·2^e with m in [√½, √2) without a branch (which
	// random data would mispredict half the time): offsetting the bits by
	// those of √½ carries into the exponent exactly when m ≥ √2.
	const sqrtHalf = 0x3fe6a09e667f3bcd // math.Float64bits(√½)
	ix := math.Float64bits(x) + (0x3ff0000000000000 - sqrtHalf)
	e := int(ix>>52) - 0x3ff
	m := math.Float64frombits(ix&(1<<52-1) + sqrtHalf)
	s := (m - 1) / (m + 1)
	s2 := s * s
	s4 := s2 * s2
	s8 := s4 * s4
	// 1 + s²/3 + … + s¹⁶/17, in Estrin's scheme (independent products).
	p := (1 + (1.0/3)*s2) + s4*((1.0/5)+(1.0/7)*s2) + s8*(((1.0/9)+(1.0/11)*s2)+s4*((1.0/13)+(1.0/15)*s2)+s8*(1.0/17))
	return float64(e)*math.Ln2 + 2*s*p
}
