package baseline

import (
	"math"
	"time"
)

// seasonBins is the number of bins of the daily profile: one per hour,
// interpolated linearly between bin centres so the profile has no steps.
const seasonBins = 24

// season is a daily profile: the typical deviation of a series from its
// long-horizon level at each time of day (UTC). Each bin is an EWMA over
// days; until a bin has seen as many samples as its memory it is a plain
// mean, so a profile is usable after one day.
type season struct {
	v [seasonBins]float32 // the deviation, in the learned space
	w [seasonBins]float32 // the samples a bin has seen, until its memory is full
}

// seasonPos returns the two bins around the time of day of t and the share
// f of the second: position h hours after midnight lies between the centres
// of bins ⌊h−½⌋ and ⌊h−½⌋+1.
func seasonPos(t int64) (i0, i1 int, f float64) {
	h := float64(t)*(1/float64(time.Hour)) - 0.5
	fl := math.Floor(h)
	f = h - fl
	i := int64(fl) % seasonBins
	if i < 0 {
		i += seasonBins
	}
	i0 = int(i)
	i1 = i0 + 1
	if i1 == seasonBins {
		i1 = 0
	}
	return i0, i1, f
}

// at returns the profile at a position from seasonPos.
func (s *season) at(i0, i1 int, f float64) float64 {
	return (1-f)*float64(s.v[i0]) + f*float64(s.v[i1])
}

// learn moves the bin nearest the position towards dev (each bin learns the
// hour around its centre; at reads interpolates between bins); alpha is a
// sample's weight once the bin's memory is full.
func (s *season) learn(i0, i1 int, f, dev, alpha float64) {
	i := i0
	if f >= 0.5 {
		i = i1
	}
	w := float64(s.w[i]) + 1
	a := alpha
	if w*alpha < 1 { // still a plain mean of what the bin has seen
		s.w[i] = float32(w)
		a = 1 / w
	}
	v := float64(s.v[i])
	s.v[i] = float32(v + a*(dev-v))
}
