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
	from, to  int64   // the segment between two bin centres the line covers
	b0        int32   // the bin whose centre is at from
	at0, rate float64 // the profile at from, and its slope per nanosecond
}

// newSeason returns an empty profile.
func newSeason() season { return season{cur: -1, keep: 1} }

// read returns the profile at time t, and whether t is in the first half of
// its segment (nearer the bin centre at from).
func (s *season) read(t int64) (v float64, first bool) {
	if t < s.from || t >= s.to {
		s.segment(t)
	}
	dt := t - s.from
	return s.at0 + s.rate*float64(dt), dt < hourNanos/2
}

// segment lays out the line between the bin centres around t.
func (s *season) segment(t int64) {
	// Bin i's centre is at i + ½ hours after midnight (UTC).
	c := t - hourNanos/2
	k := c / hourNanos
	if c%hourNanos < 0 {
		k--
	}
	s.from = k*hourNanos + hourNanos/2
	s.to = s.from + hourNanos
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
}

// bin returns the bin whose centre is nearest t: the one at the start of its
// segment when first, else the one at the end.
func (s *season) bin(first bool) int32 {
	if first {
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
		s.flush()
		s.cur = i
	}
	s.n++
	s.sum += dev
	s.keep *= 1 - alpha
}

// flush folds the batch into its bin: a plain mean while the bin is young,
// else the batch mean with the weight its samples have together.
func (s *season) flush() {
	if s.cur < 0 || s.n == 0 {
		s.cur, s.n, s.sum, s.keep = -1, 0, 0, 1
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
	s.cur, s.n, s.sum, s.keep = -1, 0, 0, 1
	s.to = s.from // the line may have moved: lay it out again
}
