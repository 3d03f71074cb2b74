package status

import (
	"math"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		got, want string
	}{
		{fmtSeconds(0), "0"},
		{fmtSeconds(0.0000004), "400 ns"},
		{fmtSeconds(0.000417), "417 µs"},
		{fmtSeconds(0.00099951), "1 ms"},
		{fmtSeconds(0.0009994), "999 µs"},
		{fmtSeconds(0.0169), "16.9 ms"},
		{fmtSeconds(0.0042), "4.2 ms"},
		{fmtSeconds(0.1), "100 ms"},
		{fmtSeconds(0.30000000000000004), "300 ms"},
		{fmtSeconds(1), "1 s"},
		{fmtSeconds(1.25), "1.25 s"},
		{fmtSeconds(250), "250 s"},
		{fmtSeconds(-0.002), "-2 ms"},
		{fmtSeconds(nan), "–"},
		{fmtSeconds(inf), "–"},
		{fmtRange(0.00293, 0.00783), "2.93 – 7.83 ms"},
		{fmtRange(0, 1.2), "0 – 1.2 s"},
		{fmtRange(0.000439, 0.00146), "439 µs – 1.46 ms"},
		{fmtRange(nan, 1), "–"},
		{fmtNum(11.63), "11.6"},
		{fmtNum(-0.0001), "0"},
		{fmtNum(0.674), "0.674"},
		{fmtNum(nan), "–"},
		{fmtRatio(4.02), "4.02×"},
		{fmtRatio(3), "3×"},
		{fmtRatio(-inf), "–"},
		{fmtQPS(0.071), "0.071/s"},
		{fmtCount(9120), "9120"},
		{fmtCount(12345), "12\u202f345"},
		{fmtCount(int64(-1234567)), "-1\u202f234\u202f567"},
		{fmtCount(uint64(math.MaxUint64)), "18\u202f446\u202f744\u202f073\u202f709\u202f551\u202f615"},
		{fmtDuration(450 * time.Millisecond), "450 ms"},
		{fmtDuration(45 * time.Second), "45s"},
		{fmtDuration(7*time.Minute + 10*time.Second), "7m 10s"},
		{fmtDuration(2 * time.Hour), "2h"},
		{fmtDuration(26*time.Hour + 14*time.Minute), "1d 2h"},
		{fmtDuration(-90 * time.Second), "1m 30s"},
		{fmtClock(t0.Add(-time.Minute), t0), "03:19:00 UTC"},
		{fmtClock(t0.Add(-24*time.Hour), t0), "Mar 13 03:20:00 UTC"},
		{fmtClock(time.Time{}, t0), "–"},
		{fmtAgo(t0.Add(-430*time.Second), t0), "7m 10s ago"},
		{fmtAgo(t0.Add(58*time.Second), t0), "in 58s"},
		{fmtAgo(t0, t0), "just now"},
		{fmtAgo(t0, time.Time{}), ""},
		{fmtWhen(t0.Add(-47*time.Second), t0), "03:19:13 UTC (47s ago)"},
		{fmtWhen(t0.In(time.FixedZone("CET", 3600)), time.Time{}), "03:20:00 UTC"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}
