// Package eval is the labelled evaluation set of package baseline: a seeded
// generator of series with known anomaly windows, a scorer reporting
// precision, recall and detection delay, and a runner that replays a series
// through a baseline.Detector.
//
// The scenarios are latency-like (log-normal noise, daily cycles, spikes,
// steps, slow drifts, flat stretches, gaps, bursts of samples) and, so that
// the defaults are checked beyond latency, counts with zeros, percentages,
// values that go negative, integer timestamps and 5-minute sampling. Every
// series is a pure function of its scenario and seed.
package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Span is a labelled anomaly window [Start, End] in Unix nanoseconds: an
// alert inside it detects it, an alert outside every span is false.
type Span struct{ Start, End int64 }

// Series is one labelled series.
type Series struct {
	Scenario string
	Seed     uint64
	// Integer says the timestamps are small integers (1, 2, 3 … read as
	// Unix seconds), written as such in CSV.
	Integer bool
	Times   []int64 // Unix nanoseconds, in order
	Values  []float64
	// Anomalies are the true anomaly windows, in order.
	Anomalies []Span
	// Shifts are spans where the level changed for good: the alert raised
	// at their start must resolve by acceptance.
	Shifts []Span
}

// Len returns the number of samples.
func (s *Series) Len() int { return len(s.Times) }

// Scenario is a named family of series.
type Scenario struct {
	Name string
	// Doc says what the scenario checks.
	Doc string
	// Latency marks latency-like scenarios (the detector's main job).
	Latency bool
	gen     func(g *gen)
}

// Generate returns the scenario's series for seed.
func (sc Scenario) Generate(seed uint64) Series {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x6b756265_70756c73)), s: Series{Scenario: sc.Name, Seed: seed}}
	sc.gen(g)
	return g.s
}

// Lookup returns the scenario with that name.
func Lookup(name string) (Scenario, error) {
	for _, sc := range Scenarios {
		if sc.Name == name {
			return sc, nil
		}
	}
	return Scenario{}, fmt.Errorf("no scenario %q", name)
}

// t0 is the start of every generated series (a Monday, UTC).
var t0 = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC).UnixNano()

const (
	sec  = int64(time.Second)
	min_ = int64(time.Minute)
	hour = int64(time.Hour)
	day  = 24 * hour
)

type gen struct {
	r *rand.Rand
	s Series
}

func (g *gen) add(t int64, v float64) {
	g.s.Times = append(g.s.Times, t)
	g.s.Values = append(g.s.Values, v)
}

func (g *gen) label(start, end int64) { g.s.Anomalies = append(g.s.Anomalies, Span{start, end}) }

func (g *gen) uniform(lo, hi float64) float64 { return lo + (hi-lo)*g.r.Float64() }

// at returns a time between lo and hi (offsets from t0), on a step grid.
func (g *gen) at(lo, hi, step int64) int64 {
	return t0 + (lo+g.r.Int64N(hi-lo))/step*step
}

// daily returns the log-factor of a daily cycle of amplitude amp (log
// units) with its peak around phase (fraction of a day).
func daily(t int64, amp, phase float64) float64 {
	return amp * math.Sin(2*math.Pi*(float64(t-t0)/float64(day)-phase))
}

// latency is the common latency model: base × daily cycle × log-normal noise
// (σ in log units), with rare single-sample outliers (GC pauses, retries)
// that are not anomalies.
type latency struct {
	base, sigma, amp, phase, outlier float64
}

func (g *gen) latencyModel() latency {
	return latency{
		base:    g.uniform(0.005, 0.3),
		sigma:   g.uniform(0.15, 0.35),
		amp:     g.uniform(0.05, 0.3),
		phase:   g.r.Float64(),
		outlier: 0.002,
	}
}

func (g *gen) sample(m latency, t int64, factor float64) float64 {
	v := m.base * factor * math.Exp(daily(t, m.amp, m.phase)+m.sigma*g.r.NormFloat64())
	if g.r.Float64() < m.outlier {
		v *= g.uniform(2, 5)
	}
	return v
}

// poisson draws a Poisson variate (Knuth for small means, a normal
// approximation for large ones).
func poisson(r *rand.Rand, lam float64) int {
	if lam > 50 {
		return max(0, int(math.Round(lam+math.Sqrt(lam)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-lam), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// CSV writes the series as `kubepulse backtest` reads it: a header and one
// row per sample, integer timestamps as integers, others in RFC 3339.
func (s *Series) CSV() []byte {
	b := []byte("timestamp,value\n")
	for i, t := range s.Times {
		b = append(b, s.formatTime(t)...)
		b = append(b, ',')
		b = strconv.AppendFloat(b, s.Values[i], 'g', 6, 64)
		b = append(b, '\n')
	}
	return b
}

func (s *Series) formatTime(t int64) string {
	if s.Integer {
		return strconv.FormatInt(t/int64(time.Second), 10)
	}
	return time.Unix(0, t).UTC().Format(time.RFC3339Nano)
}
