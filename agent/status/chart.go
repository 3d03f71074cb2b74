package status

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Chart geometry in SVG user units. The SVG scales to its container's width;
// the plot area leaves room for the axis labels on the left and bottom.
const (
	chartW = 480
	chartH = 168
	plotL  = 58 // left edge of the plot area
	plotR  = chartW - 12
	plotT  = 10
	plotB  = chartH - 26
)

// chart is the geometry of one key's latency chart, computed in Go so that
// it can be tested on its own; the template only writes it out. Path data
// holds numbers and path commands only.
type chart struct {
	ID    string // unique within the page, for aria-labelledby
	Title string // <title>: what the chart shows, in words
	W, H  int    // viewBox

	L, R, T, B float64 // plot area

	Band  string // closed areas from lower to upper, one per run of known band
	Value string // the value line, broken where values are unknown or missing
	Over  string // circles (as path data) where the value left the band

	Firing  []span // stretches during which an alert fired for the key
	SLO     *hline // the SLO line when it fits the chart
	SLONote string // "SLO 1 s ↑" when the SLO is far above the data
	Last    *point // the newest value
	YTicks  []tick // latency gridlines
	XTicks  []tick // time labels
	Empty   string // message when there is nothing to draw
}

// span is a horizontal stretch of the plot area.
type span struct {
	X, W  float64
	Label string
}

// hline is a horizontal line with a label.
type hline struct {
	Y     float64
	Label string
}

// point is a position in the plot with a label.
type point struct {
	X, Y  float64
	Label string
}

// tick is an axis label at a position (x for time, y for latency).
type tick struct {
	Pos    float64
	Label  string
	Anchor string // text-anchor for time labels: start, middle or end
}

// interval is a time range, for alert stretches.
type interval struct{ From, To time.Time }

// chartInput is what a chart is drawn from.
type chartInput struct {
	ID      string
	Name    string // "get nodes · server"
	History []Point
	SLO     float64
	Firing  []interval // open intervals have a zero To
}

// newChart computes a chart. Values that are NaN, infinite or negative are
// treated as unknown (a gap); a band whose lower bound exceeds its upper
// bound is swapped, so the band is never inverted.
func newChart(in chartInput) *chart {
	c := &chart{ID: in.ID, W: chartW, H: chartH, L: plotL, R: plotR, T: plotT, B: plotB}
	pts := in.History
	if !slices.IsSortedFunc(pts, func(a, b Point) int { return a.T.Compare(b.T) }) {
		pts = slices.SortedStableFunc(slices.Values(pts), func(a, b Point) int { return a.T.Compare(b.T) })
	}
	vals := make([]float64, len(pts))
	los := make([]float64, len(pts))
	his := make([]float64, len(pts))
	dataMax, known := 0.0, 0
	for i, p := range pts {
		vals[i] = latency(p.Value)
		los[i], his[i] = band(p.Lower, p.Upper)
		for _, v := range [...]float64{vals[i], his[i]} {
			if !math.IsNaN(v) {
				dataMax = max(dataMax, v)
			}
		}
		if !math.IsNaN(vals[i]) {
			known++
		}
	}
	if len(pts) == 0 || known == 0 && dataMax == 0 {
		c.Empty = "no samples yet"
		c.Title = in.Name + ": no samples yet"
		c.YTicks = yTicks(axisTop(latency(in.SLO)))
		return c
	}

	// The y axis starts at zero: latency is compared with zero by eye. An
	// SLO far above the data would squash it, so it is then only named.
	slo := latency(in.SLO)
	top := dataMax
	if slo > 0 {
		if dataMax == 0 || slo <= 2*dataMax {
			top = max(top, slo)
		} else {
			c.SLONote = "SLO " + fmtSeconds(slo) + " ↑"
		}
	}
	top, step := axisTop(top)
	c.YTicks = yTicks(top, step)
	y := func(v float64) float64 { return plotB - min(v/top, 1)*(plotB-plotT) }
	if slo > 0 && c.SLONote == "" {
		c.SLO = &hline{Y: r1(y(slo)), Label: "SLO " + fmtSeconds(slo)}
	}

	t0, t1 := pts[0].T, pts[len(pts)-1].T
	if !t1.After(t0) {
		t0 = t1.Add(-time.Minute)
	}
	spanNs := float64(t1.Sub(t0))
	x := func(t time.Time) float64 {
		f := float64(t.Sub(t0)) / spanNs
		return plotL + min(max(f, 0), 1)*(plotR-plotL)
	}
	c.XTicks = xTicks(t0, t1, x)
	gap := gapThreshold(pts)

	var b []byte
	// Value line, broken at unknown values and at gaps in time.
	pen := false
	for i, p := range pts {
		if math.IsNaN(vals[i]) {
			pen = false
			continue
		}
		if i > 0 && gap > 0 && p.T.Sub(pts[i-1].T) > gap {
			pen = false
		}
		b = appendCmd(b, pen, x(p.T), y(vals[i]))
		pen = true
		c.Last = &point{X: r1(x(p.T)), Y: r1(y(vals[i])), Label: fmtSeconds(vals[i])}
	}
	c.Value = string(b)

	// Band: one closed area per run of points with a known band.
	b = b[:0]
	for i := 0; i < len(pts); {
		if math.IsNaN(his[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(pts) && !math.IsNaN(his[j]) && (gap == 0 || pts[j].T.Sub(pts[j-1].T) <= gap) {
			j++
		}
		if j-i >= 2 {
			for k := i; k < j; k++ {
				b = appendCmd(b, k > i, x(pts[k].T), y(his[k]))
			}
			for k := j - 1; k >= i; k-- {
				b = appendCmd(b, true, x(pts[k].T), y(los[k]))
			}
			b = append(b, 'Z')
		}
		i = j
	}
	c.Band = string(b)

	// Values above the band: small circles, so excursions stand out even
	// where the line is short.
	b = b[:0]
	for i, p := range pts {
		if math.IsNaN(vals[i]) || math.IsNaN(his[i]) || vals[i] <= his[i] {
			continue
		}
		b = appendCircle(b, x(p.T), y(vals[i]), 1.6)
	}
	c.Over = string(b)

	for _, iv := range in.Firing {
		to := iv.To
		if to.IsZero() || to.After(t1) {
			to = t1
		}
		from := iv.From
		if from.Before(t0) {
			from = t0
		}
		if to.Before(from) || from.After(t1) {
			continue
		}
		x0, x1 := x(from), x(to)
		c.Firing = append(c.Firing, span{X: r1(x0), W: r1(max(x1-x0, 2)), Label: "firing from " + fmtClock(iv.From, t1)})
	}

	c.Title = chartTitle(in.Name, pts, vals, los, his, slo)
	return c
}

// r1 rounds a coordinate to a tenth of a unit: finer than any screen shows.
func r1(v float64) float64 { return math.Round(v*10) / 10 }

// maxLatency bounds what the chart takes for a latency (a million seconds,
// 11.6 days): beyond it a value is a bug upstream, and drawing it would
// overflow the axis arithmetic.
const maxLatency = 1e6

// latency returns v, or NaN when v is not a usable latency.
func latency(v float64) float64 {
	if !finite(v) || v < 0 || v > maxLatency {
		return math.NaN()
	}
	return v
}

// band returns a usable band: lower clamped at zero, bounds swapped if
// inverted; NaN, NaN when either bound is unknown or the band is empty at 0.
func band(lo, hi float64) (float64, float64) {
	if !finite(lo) || !finite(hi) {
		return math.NaN(), math.NaN()
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	lo = max(lo, 0)
	if hi <= 0 || hi > maxLatency {
		return math.NaN(), math.NaN()
	}
	return lo, hi
}

// gapThreshold is the time between samples beyond which the line breaks:
// four times the median spacing (an agent restart, a stopped probe).
func gapThreshold(pts []Point) time.Duration {
	if len(pts) < 4 {
		return 0
	}
	d := make([]time.Duration, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		d = append(d, pts[i].T.Sub(pts[i-1].T))
	}
	slices.Sort(d)
	med := d[len(d)/2]
	if med <= 0 {
		return 0
	}
	return 4 * med
}

func appendCmd(b []byte, line bool, x, y float64) []byte {
	if line {
		b = append(b, 'L')
	} else {
		b = append(b, 'M')
	}
	b = strconv.AppendFloat(b, x, 'f', 1, 64)
	b = append(b, ' ')
	return strconv.AppendFloat(b, y, 'f', 1, 64)
}

// appendCircle appends a circle of radius r around x, y as two half arcs.
func appendCircle(b []byte, x, y, r float64) []byte {
	b = appendCmd(b, false, x-r, y)
	rs := strconv.FormatFloat(r, 'f', 1, 64)
	d := strconv.FormatFloat(2*r, 'f', 1, 64)
	for _, dx := range [...]string{d, "-" + d} {
		b = append(b, 'a')
		b = append(b, rs...)
		b = append(b, ' ')
		b = append(b, rs...)
		b = append(b, " 0 1 0 "...)
		b = append(b, dx...)
		b = append(b, " 0"...)
	}
	return b
}

// chartTitle describes the chart in words, for screen readers and tooltips.
func chartTitle(name string, pts []Point, vals, los, his []float64, slo float64) string {
	b := []byte(name)
	b = append(b, ": "...)
	last := -1
	for i := len(vals) - 1; i >= 0; i-- {
		if !math.IsNaN(vals[i]) {
			last = i
			break
		}
	}
	if last >= 0 {
		b = append(b, "latest "...)
		b = appendSeconds(b, vals[last])
		if !math.IsNaN(his[last]) {
			b = append(b, ", learned band "...)
			b = appendSeconds(b, los[last])
			b = append(b, " to "...)
			b = appendSeconds(b, his[last])
		}
	} else {
		b = append(b, "no known value"...)
	}
	if slo > 0 {
		b = append(b, ", SLO "...)
		b = appendSeconds(b, slo)
	}
	b = append(b, "; "...)
	b = strconv.AppendInt(b, int64(len(pts)), 10)
	b = append(b, " samples from "...)
	b = append(b, fmtClock(pts[0].T, pts[len(pts)-1].T)...)
	b = append(b, " to "...)
	b = append(b, fmtClock(pts[len(pts)-1].T, pts[len(pts)-1].T)...)
	return string(b)
}
