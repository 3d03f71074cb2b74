package baseline

import (
	"math"
	"time"
)

// KeyStatus is what is known about one key, for exporters and status pages.
// Values are in the series' unit (seconds for latency); NaN where nothing is
// known yet (e.g. quantiles of an empty window).
type KeyStatus struct {
	Key   string
	State State
	// Reason is why the key is pending or firing (0 otherwise).
	Reason Reason
	// Transform is the learned space: "log" or "linear" ("" before a sample).
	Transform Transform
	// Samples counts the samples seen; Learned is how many of them the
	// current warm-up has (it restarts if a log series turns non-positive).
	Samples uint64
	// Mean and StdDev are the slow EWMA baseline at the time of day of the
	// latest sample (see Event.BaselineMean).
	Mean, StdDev float64
	// P50, P95 and P99 are quantiles of the sliding window, WindowCount
	// the samples in it.
	P50, P95, P99 float64
	WindowCount   uint64
	// Current is the fast EWMA, Value the latest sample.
	Current, Value float64
	// Score is in [0, 1]; Z and Ratio as in Event.
	Score, Z, Ratio float64
	// SLO is the key's prior, 0 if none.
	SLO float64
	// Spacing is the typical time between samples.
	Spacing time.Duration
	// LastSample is the newest sample time; FiringSince is set while firing.
	LastSample  time.Time
	FiringSince time.Time
}

var quantiles = []float64{0.5, 0.95, 0.99}

// Status returns the detector's status (Key empty).
func (d *Detector) Status() KeyStatus {
	var q [3]float64
	d.win.Quantiles(q[:0], quantiles)
	mean, sd := d.baseline()
	s := KeyStatus{
		State:       d.State(),
		Samples:     d.n,
		Mean:        mean,
		StdDev:      sd,
		P50:         d.valueOf(q[0]),
		P95:         d.valueOf(q[1]),
		P99:         d.valueOf(q[2]),
		WindowCount: d.win.Count(),
		Current:     d.valueOf(d.fast + d.sv),
		Value:       d.value,
		Score:       d.Score(),
		Z:           d.z,
		Ratio:       d.ratio(),
		SLO:         d.slo,
		Spacing:     time.Duration(d.spacing.Typical * 1e9),
	}
	switch d.mode {
	case modeLog:
		s.Transform = TransformLog
	case modeLinear:
		s.Transform = TransformLinear
	}
	if d.state != StateNormal {
		s.Reason = d.reason
	}
	if d.n > 0 {
		s.LastSample = time.Unix(0, d.last).UTC()
	} else {
		s.Mean, s.StdDev, s.Current, s.Value, s.Ratio = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	}
	if d.state == StateFiring {
		s.FiringSince = time.Unix(0, d.since).UTC()
	}
	return s
}
