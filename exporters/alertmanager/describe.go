package alertmanager

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Unit says how Describe prints a Numbers' values.
type Unit int

// Units of the values an alert is about.
const (
	Seconds   Unit = iota // latencies: 850µs, 412ms, 2.5s
	Fraction              // shares such as an error rate: 0.042 prints 4.2%
	PerSecond             // rates: 3.5/s
	Count                 // counts: 3
)

// Numbers are the figures behind an alert, as the detector saw them. Describe
// turns them into the description annotation, always in the same words, so
// that people (and tools) can read every kubepulse alert the same way.
type Numbers struct {
	Stat      string  // what Current and Reference measure: "p99", "ewma_mean", "error rate"
	Unit      Unit    // how to print Current and Reference
	Current   float64 // the recent value
	Reference float64 // what it is compared with: the learned baseline, or the SLO
	// RefName names Reference: "baseline" when empty, e.g. "SLO".
	RefName string
	// Z is the anomaly score (standard deviations above the baseline); NaN or
	// 0 leaves it out.
	Z float64
	// Ratio is Current / Reference; 0 computes it (left out if Reference is 0).
	Ratio   float64
	Samples int           // observations the current value rests on; 0 leaves it out
	Window  time.Duration // the time they cover; 0 leaves it out
}

// Describe formats n as "p99 412ms vs baseline 120ms (3.43× baseline, z=5.20,
// 1200 samples over 10m0s)". NaN and infinite values print as "n/a".
func Describe(n Numbers) string {
	ref := n.RefName
	if ref == "" {
		ref = "baseline"
	}
	var b strings.Builder
	if n.Stat != "" {
		b.WriteString(n.Stat)
		b.WriteByte(' ')
	}
	b.WriteString(formatValue(n.Current, n.Unit))
	b.WriteString(" vs ")
	b.WriteString(ref)
	b.WriteByte(' ')
	b.WriteString(formatValue(n.Reference, n.Unit))

	var details []string
	ratio := n.Ratio
	if ratio == 0 && n.Reference != 0 {
		ratio = n.Current / n.Reference
	}
	if ratio != 0 && !math.IsNaN(ratio) && !math.IsInf(ratio, 0) {
		details = append(details, strconv.FormatFloat(ratio, 'f', 2, 64)+"× "+ref)
	}
	if n.Z != 0 && !math.IsNaN(n.Z) && !math.IsInf(n.Z, 0) {
		details = append(details, "z="+strconv.FormatFloat(n.Z, 'f', 2, 64))
	}
	if n.Samples > 0 {
		s := strconv.Itoa(n.Samples) + " samples"
		if n.Samples == 1 {
			s = "1 sample"
		}
		if n.Window > 0 {
			s += " over " + n.Window.String()
		}
		details = append(details, s)
	}
	if len(details) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(details, ", "))
		b.WriteByte(')')
	}
	return b.String()
}

// formatValue prints v in its unit with three significant digits.
func formatValue(v float64, u Unit) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	switch u {
	case Fraction:
		return sig3(v*100) + "%"
	case PerSecond:
		return sig3(v) + "/s"
	case Count:
		return sig3(v)
	default:
		return formatSeconds(v)
	}
}

// formatSeconds prints a latency the way people read them: 850µs, 412ms, 2.5s.
func formatSeconds(s float64) string {
	abs := math.Abs(s)
	switch {
	case abs == 0:
		return "0s"
	case abs < 1e-3:
		return sig3(s*1e6) + "µs"
	case abs < 1:
		return sig3(s*1e3) + "ms"
	default:
		return sig3(s) + "s"
	}
}

// sig3 prints v with three significant digits (all integer digits when there
// are more), without exponent or trailing zeros: 412, 41.2, 0.0412, 12345.
func sig3(v float64) string {
	prec := 0
	if a := math.Abs(v); a > 0 && a < 100 {
		prec = 2 - int(math.Floor(math.Log10(a)))
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
