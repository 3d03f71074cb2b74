// Package window keeps the distribution of a series over a sliding time
// window: a ring of time buckets, each a fixed-size histogram over the same
// bins, plus a running total of all buckets so quantiles never need a merge.
//
// Design, and why:
//   - Bins are equal-width in the caller's space. Package baseline feeds log
//     values for positive series, which makes the bins log-spaced in the value
//     (every bin spans the same ratio, so the relative error of a quantile is
//     the same at 5 ms and at 5 s), and plain values for series that cross
//     zero, where bins are equal-width in the value.
//   - The bins start around the first sample (a per-series offset), so a few
//     dozen bins cover the useful range. A sample outside the covered range
//     doubles the bin width by merging neighbouring bins in every bucket
//     (rare, O(buckets × bins), no allocation) instead of clamping, so a
//     quantile is never silently pinned to an edge. When the whole window
//     empties the layout starts afresh at the next sample.
//   - Rotating a bucket subtracts it from the running total and clears it:
//     O(bins), no allocation, independent of how many samples it held.
//   - Counts are uint32: a 10-minute bucket would need 7 million samples a
//     second in one bin to saturate (it then stops counting in that bin).
//
// The memory of one window is (buckets + 1) × bins × 4 bytes plus a small
// header; 6 buckets × 64 bins is 1,792 bytes.
package window

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Layout describes a window. The zero value is not valid; see Validate.
type Layout struct {
	// Length is how much time the window covers.
	Length time.Duration
	// Buckets is the number of time buckets the length is divided into; the
	// window covers between Length − Length/Buckets and Length of data.
	Buckets int
	// Bins is the number of histogram bins (even, ≥ 4).
	Bins int
	// Width is the initial bin width in the caller's space (for log values,
	// ln(1+2r) gives a relative error of about r at bin centres). 0 makes the
	// first sample choose a width from its own magnitude (for linear series).
	Width float64
}

// Validate reports the first invalid field.
func (l Layout) Validate() error {
	switch {
	case l.Length <= 0:
		return fmt.Errorf("length: want > 0, got %s", l.Length)
	case l.Buckets < 1 || l.Buckets > 1024:
		return fmt.Errorf("buckets: want 1..1024, got %d", l.Buckets)
	case l.Length/time.Duration(l.Buckets) <= 0:
		return fmt.Errorf("length: want ≥ buckets nanoseconds, got %s for %d buckets", l.Length, l.Buckets)
	case l.Bins < 4 || l.Bins > 4096 || l.Bins%2 != 0:
		return fmt.Errorf("bins: want an even number in 4..4096, got %d", l.Bins)
	case l.Width < 0 || math.IsNaN(l.Width) || math.IsInf(l.Width, 0):
		return fmt.Errorf("width: want ≥ 0, got %v", l.Width)
	}
	return nil
}

// Window is a sliding-window histogram. It is not safe for concurrent use.
type Window struct {
	// counts holds Buckets rows of Bins counts, then one row with the total.
	counts []uint32
	bins   int
	nb     int
	width0 float64

	bucketNanos int64
	head        int64 // bucket epoch (time / bucketNanos) of the ring slot cur
	cur         int   // ring slot receiving samples
	total       uint64
	offset      float64 // lower edge of bin 0
	width       float64 // bin width; 0 until the first sample
	inv         float64 // 1/width
	from, to    int64   // time span of the current bucket [from, to)
}

// New returns an empty window.
func New(l Layout) (*Window, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return &Window{
		counts:      make([]uint32, (l.Buckets+1)*l.Bins),
		bins:        l.Bins,
		nb:          l.Buckets,
		width0:      l.Width,
		bucketNanos: int64(l.Length / time.Duration(l.Buckets)),
	}, nil
}

// Bytes is the memory the window holds, for accounting.
func (w *Window) Bytes() int { return len(w.counts)*4 + 96 }

// Count returns the number of samples in the window.
func (w *Window) Count() uint64 { return w.total }

// epoch is floor(t / bucketNanos), correct for negative t.
func (w *Window) epoch(t int64) int64 {
	e := t / w.bucketNanos
	if t%w.bucketNanos < 0 {
		e--
	}
	return e
}

// Add counts x at time t (Unix nanoseconds). Samples older than the current
// bucket (out-of-order arrival) are counted in the current bucket. NaN and
// infinities are ignored.
func (w *Window) Add(x float64, t int64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	if t < w.from || t >= w.to || w.width == 0 {
		w.advance(t)
	}
	if w.width == 0 {
		w.start(x)
	}
	i := w.index(x)
	if i < 0 {
		return
	}
	c, tot := &w.counts[w.cur*w.bins+i], &w.counts[w.nb*w.bins+i]
	if *tot == math.MaxUint32 {
		return // saturated: the bin stops counting, the invariants hold
	}
	*c++
	*tot++
	w.total++
}

// Advance rotates the window forward to time t without adding a sample, so
// a series that went quiet shows an emptying window.
func (w *Window) Advance(t int64) { w.advance(t) }

func (w *Window) advance(t int64) {
	e := w.epoch(t)
	if w.total == 0 && w.width == 0 {
		w.setHead(e)
		return
	}
	if e <= w.head {
		return
	}
	steps := e - w.head
	if steps > int64(w.nb) {
		steps = int64(w.nb)
	}
	tot := w.counts[w.nb*w.bins:]
	for range steps {
		w.cur++
		if w.cur == w.nb {
			w.cur = 0
		}
		row := w.counts[w.cur*w.bins : (w.cur+1)*w.bins]
		for i, c := range row {
			if c != 0 {
				tot[i] -= c
				w.total -= uint64(c)
				row[i] = 0
			}
		}
	}
	w.setHead(e)
	if w.total == 0 {
		w.width = 0 // empty: the next sample lays the bins out afresh
	}
}

// setHead makes epoch e current and caches its time span.
func (w *Window) setHead(e int64) {
	w.head = e
	w.from = e * w.bucketNanos
	w.to = w.from + w.bucketNanos
	if w.to < w.from { // overflow at the end of time
		w.to = math.MaxInt64
	}
}

// start lays out the bins so that x falls a quarter of the way up: series
// like latency spread further above their typical value than below.
func (w *Window) start(x float64) {
	w.width = w.width0
	if w.width == 0 {
		w.width = math.Abs(x) / 1024 // narrow: doubling widens it to the data's spread
		if w.width < 1e-9 {
			w.width = 1e-9
		}
	}
	w.offset = x - float64(w.bins/4)*w.width - w.width/2
	w.inv = 1 / w.width
}

// maxDoublings bounds how far one outlandish sample can coarsen the bins: a
// sample needing more is clamped to the edge bin instead.
const maxDoublings = 64

// index returns the bin for x, widening the bins until x fits.
func (w *Window) index(x float64) int {
	for range maxDoublings {
		f := (x - w.offset) * w.inv
		if f >= 0 && f < float64(w.bins) {
			return int(f)
		}
		w.double(f < 0)
	}
	f := (x - w.offset) / w.width
	if f < 0 {
		return 0
	}
	return w.bins - 1
}

// double halves the resolution, keeping every count: pairs of bins merge.
// With down set the covered range extends below the offset, otherwise above.
func (w *Window) double(down bool) {
	half := w.bins / 2
	for r := 0; r <= w.nb; r++ {
		row := w.counts[r*w.bins : (r+1)*w.bins]
		if down {
			for j := half - 1; j >= 0; j-- {
				row[half+j] = sat(row[2*j], row[2*j+1])
			}
			clear(row[:half])
		} else {
			for j := range half {
				row[j] = sat(row[2*j], row[2*j+1])
			}
			clear(row[half:])
		}
	}
	if down {
		w.offset -= float64(w.bins) * w.width
	}
	w.width *= 2
	w.inv = 1 / w.width
}

func sat(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint32
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the samples in the window,
// interpolated within its bin, in the caller's space; NaN when empty.
func (w *Window) Quantile(q float64) float64 {
	if w.total == 0 || math.IsNaN(q) {
		return math.NaN()
	}
	q = min(max(q, 0), 1)
	rank := q * float64(w.total-1) // 0-based rank among the samples
	tot := w.counts[w.nb*w.bins:]
	if q > 0.5 {
		return w.upper(rank)
	}
	var cum float64
	for i, c := range tot {
		if c == 0 {
			continue
		}
		fc := float64(c)
		if rank < cum+fc {
			// Spread the c samples of bin i evenly across it.
			return w.offset + (float64(i)+(rank-cum+0.5)/fc)*w.width
		}
		cum += fc
	}
	// Unreachable while the counts add up; report the top occupied bin.
	for i := len(tot) - 1; i >= 0; i-- {
		if tot[i] != 0 {
			return w.offset + (float64(i)+0.5)*w.width
		}
	}
	return math.NaN()
}

// upper is Quantile for a rank in the upper half, scanning the bins from
// the top: a high quantile (the detector reads p90, p99 and p99.5 every few
// samples) is found in a few bins instead of most of them.
func (w *Window) upper(rank float64) float64 {
	tot := w.counts[w.nb*w.bins:]
	var above float64 // samples in the bins above i
	for i := len(tot) - 1; i >= 0; i-- {
		c := tot[i]
		if c == 0 {
			continue
		}
		fc := float64(c)
		// The samples below bin i, exactly as the scan from the bottom
		// adds them up (counts are integers far below 2⁵³).
		if cum := float64(w.total) - above - fc; rank >= cum {
			return w.offset + (float64(i)+(rank-cum+0.5)/fc)*w.width
		}
		above += fc
	}
	return math.NaN() // unreachable while the counts add up
}

// Quantiles fills dst[i] with the qs[i]-quantile in one pass over the bins;
// qs must be ascending. It returns dst.
func (w *Window) Quantiles(dst, qs []float64) []float64 {
	dst = dst[:0]
	if w.total == 0 {
		for range qs {
			dst = append(dst, math.NaN())
		}
		return dst
	}
	tot := w.counts[w.nb*w.bins:]
	var cum float64
	i := 0
	for _, q := range qs {
		rank := min(max(q, 0), 1) * float64(w.total-1)
		for i < len(tot) && rank >= cum+float64(tot[i]) {
			cum += float64(tot[i])
			i++
		}
		if i == len(tot) {
			dst = append(dst, w.Quantile(q))
			continue
		}
		dst = append(dst, w.offset+(float64(i)+(rank-cum+0.5)/float64(tot[i]))*w.width)
	}
	return dst
}

// State is the complete state of a window, for checkpoints. Counts aliases
// the window's memory: copy it to keep it.
type State struct {
	Head   int64
	Cur    int
	Total  uint64
	Offset float64
	Width  float64
	Counts []uint32 // (buckets + 1) × bins, the last row the running total
}

// State returns the window's state.
func (w *Window) State() State {
	return State{Head: w.head, Cur: w.cur, Total: w.total, Offset: w.offset, Width: w.width, Counts: w.counts}
}

// ErrLayout reports a state that does not fit the window's layout.
var ErrLayout = errors.New("window state does not match the layout")

// SetState replaces the window's state with s (copied), after checking it is
// consistent: counts of the right size, a running total equal to the sum of
// the buckets, a cursor in range. On error the window is unchanged.
func (w *Window) SetState(s State) error {
	if len(s.Counts) != len(w.counts) || s.Cur < 0 || s.Cur >= w.nb {
		return ErrLayout
	}
	if s.Width < 0 || math.IsNaN(s.Width) || math.IsInf(s.Width, 0) || math.IsNaN(s.Offset) || math.IsInf(s.Offset, 0) {
		return fmt.Errorf("%w: bin width %v, offset %v", ErrLayout, s.Width, s.Offset)
	}
	tot := s.Counts[w.nb*w.bins:]
	var n uint64
	for i := range w.bins {
		var sum uint64
		for r := range w.nb {
			sum += uint64(s.Counts[r*w.bins+i])
		}
		if sum != uint64(tot[i]) {
			return fmt.Errorf("%w: bin %d total %d, buckets sum to %d", ErrLayout, i, tot[i], sum)
		}
		n += uint64(tot[i])
	}
	if n != s.Total || (s.Width == 0 && n != 0) {
		return fmt.Errorf("%w: total %d, bins sum to %d", ErrLayout, s.Total, n)
	}
	w.cur, w.total, w.offset, w.width = s.Cur, s.Total, s.Offset, s.Width
	w.setHead(s.Head)
	w.inv = 0
	if w.width > 0 {
		w.inv = 1 / w.width
	}
	copy(w.counts, s.Counts)
	return nil
}

// Layout returns the number of time buckets and of bins.
func (w *Window) Layout() (buckets, bins int) { return w.nb, w.bins }

// InitialWidth returns the bin width used when the bins are next laid out.
func (w *Window) InitialWidth() float64 { return w.width0 }

// SetWidth sets the initial bin width, used when the bins are next laid out
// (at the first sample after the window was empty).
func (w *Window) SetWidth(width float64) { w.width0 = width }

// Reset empties the window.
func (w *Window) Reset() {
	clear(w.counts)
	w.total, w.width, w.inv, w.cur = 0, 0, 0, 0
	w.setHead(0)
}
