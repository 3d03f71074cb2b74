package status

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Human-readable numbers for the page. Every function here accepts NaN and
// ±Inf (values the baseline reports before it knows anything) and prints "–"
// for them, never "NaN".

const unknown = "–"

// finite reports whether v is a real number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// fmtSeconds prints a latency in the unit a person reads it in: ns below a
// microsecond, µs below a millisecond, ms below a second, s above, with three
// significant digits.
func fmtSeconds(v float64) string {
	if !finite(v) {
		return unknown
	}
	return string(appendSeconds(nil, v))
}

func appendSeconds(b []byte, v float64) []byte {
	v = roundSig(v) // first, so that 999.96 µs prints as 1 ms, not 1000 µs
	a := math.Abs(v)
	switch {
	case a == 0:
		return append(b, '0')
	case a < 1e-6:
		b = appendSig(b, v*1e9)
		return append(b, " ns"...)
	case a < 1e-3:
		b = appendSig(b, v*1e6)
		return append(b, " µs"...)
	case a < 1:
		b = appendSig(b, v*1e3)
		return append(b, " ms"...)
	default:
		b = appendSig(b, v)
		return append(b, " s"...)
	}
}

// fmtRange prints a band, naming the unit once when both ends share it:
// "2.93 – 7.83 ms", "0 – 1.2 s", "439 µs – 1.46 ms".
func fmtRange(lo, hi float64) string {
	if !finite(lo) || !finite(hi) {
		return unknown
	}
	h := fmtSeconds(hi)
	l := fmtSeconds(lo)
	if i, j := strings.LastIndexByte(l, ' '), strings.LastIndexByte(h, ' '); i > 0 && j > 0 && l[i:] == h[j:] {
		l = l[:i]
	}
	return l + " – " + h
}

// roundSig rounds v to three significant digits.
func roundSig(v float64) float64 {
	if v == 0 || !finite(v) {
		return v
	}
	p := math.Pow(10, 3-math.Ceil(math.Log10(math.Abs(v))))
	if r := math.Round(v*p) / p; finite(r) {
		return r
	}
	return v
}

// appendSig appends v with three significant digits and no trailing zeros:
// 12.3, 0.5, 250, 1230.
func appendSig(b []byte, v float64) []byte {
	a := math.Abs(v)
	prec := 0
	switch {
	case a < 1:
		prec = 3
	case a < 10:
		prec = 2
	case a < 100:
		prec = 1
	}
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', prec, 64)
	if prec > 0 {
		n := len(b)
		for n > start && b[n-1] == '0' {
			n--
		}
		if n > start && b[n-1] == '.' {
			n--
		}
		b = b[:n]
	}
	if string(b[start:]) == "-0" {
		b = append(b[:start], '0')
	}
	return b
}

// fmtNum prints a unitless number (z, score) with three significant digits.
func fmtNum(v float64) string {
	if !finite(v) {
		return unknown
	}
	return string(appendSig(nil, v))
}

// fmtRatio prints a ratio as "4.1×".
func fmtRatio(v float64) string {
	if !finite(v) {
		return unknown
	}
	return string(appendSig(nil, v)) + "×"
}

// fmtCount prints an integer with narrow no-break spaces between thousands
// (12 345), as SI recommends, once it has five digits or more.
func fmtCount[T int | int64 | uint64](n T) string {
	var s string
	switch v := any(n).(type) {
	case uint64:
		s = strconv.FormatUint(v, 10)
	case int64:
		s = strconv.FormatInt(v, 10)
	case int:
		s = strconv.Itoa(v)
	}
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	if len(s) <= 4 {
		return sign + s
	}
	var b strings.Builder
	b.WriteString(sign)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// fmtDuration prints a duration coarsely, two units at most: 45s, 6m 12s,
// 3h 5m, 2d 4h. Sub-second durations use fmtSeconds.
func fmtDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	if d < time.Second {
		return fmtSeconds(d.Seconds())
	}
	s := int64(d / time.Second)
	days, s := s/86400, s%86400
	h, s := s/3600, s%3600
	m, s := s/60, s%60
	switch {
	case days > 0:
		return two(days, "d", h, "h")
	case h > 0:
		return two(h, "h", m, "m")
	case m > 0:
		return two(m, "m", s, "s")
	}
	return strconv.FormatInt(s, 10) + "s"
}

func two(a int64, ua string, b int64, ub string) string {
	out := strconv.FormatInt(a, 10) + ua
	if b > 0 {
		out += " " + strconv.FormatInt(b, 10) + ub
	}
	return out
}

// fmtClock prints a time of day in UTC; the date is added when t is not on
// now's day.
func fmtClock(t, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	t = t.UTC()
	n := now.UTC()
	if !now.IsZero() && (t.Year() != n.Year() || t.YearDay() != n.YearDay()) {
		return t.Format("Jan 2 15:04:05") + " UTC"
	}
	return t.Format("15:04:05") + " UTC"
}

// fmtAgo prints how long ago t was relative to now ("6m 12s ago", "in 38s").
func fmtAgo(t, now time.Time) string {
	if t.IsZero() || now.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d > -time.Second && d < time.Second:
		return "just now"
	case d < 0:
		return "in " + fmtDuration(-d)
	}
	return fmtDuration(d) + " ago"
}

// fmtWhen prints an absolute time with its relative age: "03:12:05 UTC (6m ago)".
func fmtWhen(t, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	if ago := fmtAgo(t, now); ago != "" {
		return fmtClock(t, now) + " (" + ago + ")"
	}
	return fmtClock(t, now)
}

// fmtQPS prints a request rate: "20/s", "0.08/s".
func fmtQPS(v float64) string {
	if !finite(v) {
		return unknown
	}
	return string(appendSig(nil, v)) + "/s"
}
