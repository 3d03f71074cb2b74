package window

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

const sec = int64(time.Second)

func newWindow(t testing.TB, l Layout) *Window {
	t.Helper()
	w, err := New(l)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func exact(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(math.Round(q*float64(len(s)-1)))]
}

func TestQuantilesOfLogNormalLatency(t *testing.T) {
	l := Layout{Length: time.Hour, Buckets: 6, Bins: 64, Width: math.Log1p(2 * 0.02)}
	r := rand.New(rand.NewPCG(1, 1))
	w := newWindow(t, l)
	var xs []float64
	for i := range 3600 {
		v := 0.05 * math.Exp(0.4*r.NormFloat64())
		xs = append(xs, v)
		w.Add(math.Log(v), int64(i)*sec)
	}
	for _, q := range []float64{0.5, 0.95, 0.99} {
		got, want := math.Exp(w.Quantile(q)), exact(xs, q)
		if math.Abs(got/want-1) > 0.05 {
			t.Errorf("q%v = %v, exact %v (%.1f%% off)", q, got, want, 100*(got/want-1))
		}
	}
	if w.Count() != 3600 {
		t.Errorf("count %d", w.Count())
	}
}

func TestRotationExpiresOldBuckets(t *testing.T) {
	w := newWindow(t, Layout{Length: 6 * time.Minute, Buckets: 6, Bins: 8, Width: 1})
	for i := range 6 {
		w.Add(float64(i), int64(i)*60*sec) // one sample per bucket
	}
	if w.Count() != 6 {
		t.Fatalf("count %d, want 6", w.Count())
	}
	w.Advance(7 * 60 * sec) // two buckets expire
	if w.Count() != 4 {
		t.Fatalf("count %d after two rotations, want 4", w.Count())
	}
	if q := w.Quantile(0); q < 2 || q >= 3 {
		t.Errorf("min %v, want the sample 2", q)
	}
	w.Advance(100 * 60 * sec) // everything expires; the layout restarts
	if w.Count() != 0 || !math.IsNaN(w.Quantile(0.5)) {
		t.Fatalf("count %d, q50 %v after a long pause", w.Count(), w.Quantile(0.5))
	}
	w.Add(1000, 101*60*sec)
	if q := w.Quantile(0.5); math.Abs(q-1000) > 1 {
		t.Errorf("q50 %v after a restart at 1000", q)
	}
}

func TestWideningKeepsEveryCount(t *testing.T) {
	w := newWindow(t, Layout{Length: time.Hour, Buckets: 4, Bins: 16, Width: 0})
	r := rand.New(rand.NewPCG(2, 2))
	var xs []float64
	for i := range 2000 {
		x := r.NormFloat64() * math.Pow(10, float64(i%5)) // spreads far beyond the first bins
		xs = append(xs, x)
		w.Add(x, int64(i)*sec)
	}
	if w.Count() != 2000 {
		t.Fatalf("count %d, want 2000", w.Count())
	}
	s := w.State()
	var sum uint64
	for _, c := range s.Counts[4*16:] {
		sum += uint64(c)
	}
	if sum != 2000 {
		t.Errorf("running total holds %d", sum)
	}
	lo, hi := exact(xs, 0.01), exact(xs, 0.99)
	if q := w.Quantile(0.5); q < lo || q > hi {
		t.Errorf("median %v outside [%v, %v]", q, lo, hi)
	}
}

func TestSetStateRejectsInconsistentStates(t *testing.T) {
	l := Layout{Length: time.Hour, Buckets: 2, Bins: 4, Width: 1}
	w := newWindow(t, l)
	w.Add(1, 0)
	good := w.State()
	good.Counts = slices.Clone(good.Counts)
	cases := map[string]func(s *State){
		"short counts":     func(s *State) { s.Counts = s.Counts[:3] },
		"cursor":           func(s *State) { s.Cur = 2 },
		"total mismatch":   func(s *State) { s.Total++ },
		"bin sum mismatch": func(s *State) { s.Counts[0]++ },
		"nan width":        func(s *State) { s.Width = math.NaN() },
		"no width":         func(s *State) { s.Width = 0 },
	}
	for name, mut := range cases {
		s := good
		s.Counts = slices.Clone(good.Counts)
		mut(&s)
		fresh := newWindow(t, l)
		if err := fresh.SetState(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if fresh.Count() != 0 {
			t.Errorf("%s: window changed on error", name)
		}
	}
	fresh := newWindow(t, l)
	if err := fresh.SetState(good); err != nil || fresh.Quantile(0.5) != w.Quantile(0.5) {
		t.Errorf("round trip: %v", err)
	}
}

func TestLayoutValidate(t *testing.T) {
	for _, l := range []Layout{
		{Length: 0, Buckets: 1, Bins: 4},
		{Length: time.Hour, Buckets: 0, Bins: 4},
		{Length: time.Hour, Buckets: 1, Bins: 5},
		{Length: time.Hour, Buckets: 1, Bins: 4, Width: -1},
	} {
		if _, err := New(l); err == nil {
			t.Errorf("%+v accepted", l)
		}
	}
}

// TestQuantileScansFromEitherEnd: high quantiles are read scanning the bins
// from the top; every quantile equals what the scan from the bottom (the
// cumulative counts) gives, bit for bit, on windows of a few samples to
// thousands, with ties and empty bins.
func TestQuantileScansFromEitherEnd(t *testing.T) {
	fromBottom := func(w *Window, q float64) float64 {
		rank := q * float64(w.total-1)
		tot := w.counts[w.nb*w.bins:]
		var cum float64
		for i, c := range tot {
			if c != 0 && rank < cum+float64(c) {
				return w.offset + (float64(i)+(rank-cum+0.5)/float64(c))*w.width
			}
			cum += float64(c)
		}
		return math.NaN()
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{1, 2, 3, 30, 34, 99, 100, 1000, 5000} {
		w := newWindow(t, Layout{Length: time.Hour, Buckets: 6, Bins: 64, Width: 0.04})
		for i := range n {
			x := 1.2 * r.NormFloat64()
			if i%7 == 0 {
				x = 0.5 // ties
			}
			w.Add(x, int64(i)*sec)
		}
		for _, q := range []float64{0, 0.25, 0.5, 0.5000001, 0.9, 0.95, 0.99, 0.995, 1} {
			if got, want := w.Quantile(q), fromBottom(w, q); got != want {
				t.Errorf("n %d q %v: %v, from the bottom %v", n, q, got, want)
			}
		}
	}
}
