package baseline

import (
	"math"
	"testing"
	"time"
)

// TestSeasonLearnsAndReadsADailyCycle: fed a daily sine every 5 minutes, the
// profile reads it back at any time of day (interpolated between the hourly
// bins) after a day, and keeps following it when its amplitude changes.
func TestSeasonLearnsAndReadsADailyCycle(t *testing.T) {
	s := newSeason()
	day := float64(24 * time.Hour)
	cycle := func(amp float64, at int64) float64 { return amp * math.Sin(2*math.Pi*float64(at)/day) }
	alpha := 1 - math.Pow(2, -300.0/(3*86400/seasonBins)) // 3-day memory
	at := t0.UnixNano()
	// feed adds days of samples and one more hour, so that the last bin's
	// batch is folded in (it is when the series moves on).
	feed := func(days int, amp float64) {
		for range days*288 + 12 {
			s.read(at)
			s.learn(s.bin(at), cycle(amp, at), alpha)
			at += int64(5 * time.Minute)
		}
	}
	check := func(amp, tol float64) {
		t.Helper()
		for m := range 24 * 60 / 7 { // every 7 minutes of a day
			q := at + int64(m)*int64(7*time.Minute)
			got := s.read(q)
			if want := cycle(amp, q); math.Abs(got-want) > tol {
				t.Fatalf("at %s: profile %.3f, want %.3f ± %v", time.Unix(0, q).UTC().Format("15:04"), got, want, tol)
			}
		}
	}
	feed(1, 1)
	check(1, 0.02) // hourly bins, linear in between: within 2 % of the amplitude
	feed(10, 2)    // the cycle doubles: 10 days is over 3 memories
	check(2, 0.2)
}

// TestSeasonBinsAndSegments: the bin nearest a time, and the segment
// between bin centres, around midnight and for times before 1970.
func TestSeasonBinsAndSegments(t *testing.T) {
	s := newSeason()
	for _, c := range []struct {
		at    time.Time
		first bool
		bin   int32
	}{
		{time.Date(2025, 3, 3, 0, 10, 0, 0, time.UTC), false, 0},  // 23:30–00:30 segment, nearer 00:30
		{time.Date(2025, 3, 3, 23, 50, 0, 0, time.UTC), true, 23}, // nearer 23:30
		{time.Date(2025, 3, 3, 12, 40, 0, 0, time.UTC), true, 12},
		{time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), true, 23}, // 29 min after 23:30
		{time.Date(1969, 12, 31, 0, 31, 0, 0, time.UTC), true, 0},
	} {
		at := c.at.UnixNano()
		s.read(at)
		first := at-s.from < hourNanos/2
		if first != c.first || s.bin(at) != c.bin || at < s.from || at >= s.from+hourNanos {
			t.Errorf("%s: first %v bin %d segment from %d, want %v, %d", c.at, first, s.bin(at), s.from, c.first, c.bin)
		}
	}
}
