package baseline

import (
	"math"
	"time"
)

// seasonBins is the number of bins of the daily profile: one per hour,
// read with linear interpolation between bin centres so the profile has no
// steps.
const seasonBins = 24

const hourNanos = int64(time.Hour)

// season is a daily profile: the typical deviation of a series from its
// long-horizon level at each time of day (UTC). Each bin is an EWMA over
// days of the samples within half an hour of its centre; until a bin has
// seen as many samples as its memory it is a plain mean, so a profile is
// usable after one day.
//
// Both halves are cheap per sample: the samples of the current bin are
// summed and folded into it when the series moves on to the next bin (at
// most every half hour), and between two bin centres the interpolated
// profile is a line in time, computed once per segment.
type season struct {
	v [seasonBins]float64 // the deviation, in the learned space
	w [seasonBins]float64 // the samples a bin has seen, until its memory is full

	// The batch: samples of bin cur (−1: none) not folded in yet, their
	// sum, and the weight the past keeps after them, Π(1 − αᵢ).
	cur       int32
	n, sum    float64
	keep      float64
	from      int64   // the segment between bin centres the line covers: [from, from + 1 h)
	b0        int32   // the bin whose centre is at from
	at0, rate float64 // the profile at from, and its slope per nanosecond
}

// newSeason returns an empty profile.
func newSeason() season { return season{cur: -1, keep: 1, from: math.MinInt64} }

// read returns the profile at time t (a cheap line, inlined).
func (s *season) read(t int64) float64 {
	dt := t - s.from
	if uint64(dt) >= uint64(hourNanos) { // outside [from, from + 1 h)
		dt = s.segment(t)
	}
	return s.at0 + s.rate*float64(dt)
}

// segment lays out the line between the bin centres around t and returns
// t − from.
func (s *season) segment(t int64) int64 {
	// Bin i's centre is at i + ½ hours after midnight (UTC).
	c := t - hourNanos/2
	k := c / hourNanos
	if c%hourNanos < 0 {
		k--
	}
	s.from = k*hourNanos + hourNanos/2
	i0 := int(k % seasonBins)
	if i0 < 0 {
		i0 += seasonBins
	}
	i1 := i0 + 1
	if i1 == seasonBins {
		i1 = 0
	}
	s.b0 = int32(i0)
	s.at0 = s.v[i0]
	s.rate = (s.v[i1] - s.v[i0]) / float64(hourNanos)
	return t - s.from
}

// bin returns the bin whose centre is nearest t, a time in the segment of
// the last read.
func (s *season) bin(t int64) int32 {
	if t-s.from < hourNanos/2 {
		return s.b0
	}
	if s.b0 == seasonBins-1 {
		return 0
	}
	return s.b0 + 1
}

// learn adds dev to the batch of bin i (nearest the sample), folding the
// batch of the previous bin in first; alpha is the sample's weight once the
// bin's memory is full.
func (s *season) learn(i int32, dev, alpha float64) {
	if i != s.cur {
		s.flush(i)
	}
	s.n++
	s.sum += dev
	s.keep *= 1 - alpha
}

// flush folds the batch into its bin (a plain mean while the bin is young,
// else the batch mean with the weight its samples have together) and starts
// one for bin next.
func (s *season) flush(next int32) {
	if s.cur < 0 || s.n == 0 {
		s.cur, s.n, s.sum, s.keep = next, 0, 0, 1
		return
	}
	i := s.cur
	mean := s.sum / s.n
	w := s.w[i] + s.n
	a := 1 - s.keep
	if w*(1-math.Pow(s.keep, 1/s.n)) < 1 { // still a plain mean of what the bin has seen
		s.w[i] = w
		a = s.n / w
	}
	s.v[i] += a * (mean - s.v[i])
	s.cur, s.n, s.sum, s.keep = next, 0, 0, 1
	s.from = math.MinInt64 // the line may have moved: lay it out again
}
