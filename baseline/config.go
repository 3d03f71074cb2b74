package baseline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that reads and writes as a Go duration string
// ("90s", "1h30m") in JSON and YAML. A bare number is rejected: "60" could
// mean seconds or nanoseconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "1h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string such as "1h" or "250ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"1h\", got %s", b)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("want a duration such as \"1h\" or \"30s\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// String returns the duration in Go syntax.
func (d Duration) String() string { return time.Duration(d).String() }

// Transform names how values are mapped before they are learned.
type Transform string

// Transforms.
const (
	// TransformAuto learns log(value) when the warm-up samples are all
	// positive and the plain value otherwise (see the package doc).
	TransformAuto Transform = "auto"
	// TransformLog always learns log(value); values ≤ 0 are clamped.
	TransformLog Transform = "log"
	// TransformLinear learns the plain value.
	TransformLinear Transform = "linear"
)

// Config is the complete configuration of baselines, detector and store. It
// is data: decode it from YAML or JSON over DefaultConfig, then Validate.
type Config struct {
	EWMA     EWMAConfig     `json:"ewma"`
	Window   WindowConfig   `json:"window"`
	Detector DetectorConfig `json:"detector"`
	Store    StoreConfig    `json:"store"`
}

// EWMAConfig configures the time-decayed baselines.
type EWMAConfig struct {
	// Transform is auto, log or linear.
	Transform Transform `json:"transform"`
	// HalfLife is the memory of the slow baseline (mean and spread of
	// normal): after HalfLife a sample weighs half as much.
	HalfLife Duration `json:"halfLife"`
	// HalfLifeSamples is the least memory of the slow baseline counted in
	// typical sample spacings: the effective half-life is
	// max(HalfLife, HalfLifeSamples × spacing), so a series sampled every
	// 5 minutes still learns from enough samples.
	HalfLifeSamples float64 `json:"halfLifeSamples"`
	// FastHalfLife is the memory of the fast EWMA, the "current" value the
	// detector compares with the baseline.
	FastHalfLife Duration `json:"fastHalfLife"`
	// FastHalfLifeSamples is the least memory of the fast EWMA in sample
	// spacings (the effective fast half-life is the larger of the two).
	FastHalfLifeSamples float64 `json:"fastHalfLifeSamples"`
	// MaxGapSamples caps the time one gap counts for, in spacings, so a
	// sample after a long pause cannot outweigh everything learned.
	MaxGapSamples float64 `json:"maxGapSamples"`
	// LongHalfLife is the memory of the long-horizon level: the reference
	// slow drifts are measured against (the slow baseline follows them) and
	// around which the daily profile is learned. At least halfLife.
	LongHalfLife Duration `json:"longHalfLife"`
	// DailyHalfLife is the memory, in days of data, of the daily profile:
	// the typical deviation from the long-horizon level at each hour of the
	// day (UTC), taken out of every sample once a day of data taught it.
	// 0 disables the profile.
	DailyHalfLife Duration `json:"dailyHalfLife"`
}

// WindowConfig configures the sliding-window quantiles.
type WindowConfig struct {
	// Length is the time the window covers.
	Length Duration `json:"length"`
	// Buckets divides Length; rotation drops one bucket at a time.
	Buckets int `json:"buckets"`
	// Bins is the histogram size of every bucket (even).
	Bins int `json:"bins"`
	// RelativeAccuracy is the initial relative error of quantiles of a
	// log-learned series (bin width ln(1+2r)); the bins widen if the values
	// spread beyond what Bins such bins cover.
	RelativeAccuracy float64 `json:"relativeAccuracy"`
}

// DetectorConfig configures drift detection and the alert state machine.
type DetectorConfig struct {
	// MinSamples is the warm-up: a key is "learning" until it has seen this
	// many samples, and only SLO priors can alert meanwhile.
	MinSamples int `json:"minSamples"`
	// EnterZ is the z-score at or above which a sample counts towards firing.
	EnterZ float64 `json:"enterZ"`
	// ExitZ is the z-score at or below which a sample counts towards
	// resolving (hysteresis: ExitZ < EnterZ).
	ExitZ float64 `json:"exitZ"`
	// EnterSamples is how many consecutive samples at or above EnterZ fire
	// an alert (persistence; the first ones are "pending").
	EnterSamples int `json:"enterSamples"`
	// ExitSamples is how many consecutive samples at or below ExitZ resolve.
	ExitSamples int `json:"exitSamples"`
	// RearmSamples is how many consecutive calm samples (at or below ExitZ)
	// a key needs after an alert ends before it may fire again, so one
	// flickering episode raises one alert.
	RearmSamples int `json:"rearmSamples"`
	// CUSUMAllowance is the reference value k of the CUSUM chart, in
	// standard deviations of one sample: the chart accumulates how far each
	// standardized sample is above the baseline beyond k, so it detects a
	// sustained shift of 2k standard deviations fastest.
	CUSUMAllowance float64 `json:"cusumAllowance"`
	// CUSUMThreshold is the decision interval h of the CUSUM chart: it fires
	// when the accumulated excess reaches h (see the package doc for the
	// in-control run length this gives). 0 disables the chart.
	CUSUMThreshold float64 `json:"cusumThreshold"`
	// ExceedanceThreshold is the decision interval h of the exceedance
	// chart, a window-limited CUSUM of log-likelihood ratios of where each
	// sample falls among the sliding window's samples (at or below their
	// 90th percentile, up to their 99th, beyond): it fires when the
	// evidence that samples rank higher than they did reaches h nats,
	// whatever the spread (see the package doc for the in-control run
	// length). 0 disables it.
	ExceedanceThreshold float64 `json:"exceedanceThreshold"`
	// LongZ is the z-score of the current level above the long-horizon
	// level (in units of its own measured spread) at or above which a
	// sample counts towards firing, like EnterZ: it catches drifts too slow
	// for the slow baseline to tell from normal. 0 disables it.
	LongZ float64 `json:"longZ"`
	// SpikeZ fires on a single sample at least SpikeZ noise standard
	// deviations (estimated from second differences, so trends and cycles
	// do not count) above both the previous sample and the baseline, and
	// far beyond the sliding window's 99.5th percentile. 0 disables it.
	SpikeZ float64 `json:"spikeZ"`
	// MinRatio is the least relative effect that may fire: the fast value
	// must be at least MinRatio × the baseline (log-learned series) or the
	// baseline plus (MinRatio−1) × its scale (linear series).
	MinRatio float64 `json:"minRatio"`
	// AcceptAfter is how long a drift fires before its level is accepted as
	// the new normal: the alert resolves and the baseline adopts what the
	// shadow baseline learned during the episode.
	AcceptAfter Duration `json:"acceptAfter"`
	// AcceptAfterSamples is the least acceptance time in sample spacings.
	AcceptAfterSamples float64 `json:"acceptAfterSamples"`
	// RelativeStdDevFloor is the smallest spread assumed, relative to the
	// baseline's magnitude (0.05: 5 %), so flat stretches do not turn
	// noise into huge scores.
	RelativeStdDevFloor float64 `json:"relativeStdDevFloor"`
	// AbsoluteStdDevFloor is the smallest spread assumed, in the value's
	// unit (seconds for latency).
	AbsoluteStdDevFloor float64 `json:"absoluteStdDevFloor"`
	// SLOExitRatio resolves an SLO alert when the fast value falls to this
	// fraction of the SLO.
	SLOExitRatio float64 `json:"sloExitRatio"`
}

// StoreConfig bounds the Tracker's memory.
type StoreConfig struct {
	// MaxKeys is the key cap: samples for new keys beyond it are dropped and
	// counted as overflow.
	MaxKeys int `json:"maxKeys"`
	// IdleTimeout evicts a key whose last sample is older than this,
	// measured in sample time (the newest sample seen), never wall time.
	IdleTimeout Duration `json:"idleTimeout"`
	// Shards is the number of independently locked partitions of the keys
	// (rounded up to a power of two).
	Shards int `json:"shards"`
}

// DefaultConfig returns the defaults, chosen to work unchanged on series of
// any unit and sampling rate (see the package doc and BENCHMARKS.md).
func DefaultConfig() Config {
	return Config{
		EWMA: EWMAConfig{
			Transform:           TransformAuto,
			HalfLife:            Duration(time.Hour),
			HalfLifeSamples:     24,
			FastHalfLife:        Duration(time.Second),
			FastHalfLifeSamples: 4,
			MaxGapSamples:       4,
			LongHalfLife:        Duration(24 * time.Hour),
			DailyHalfLife:       Duration(72 * time.Hour),
		},
		Window: WindowConfig{
			Length:           Duration(time.Hour),
			Buckets:          6,
			Bins:             64,
			RelativeAccuracy: 0.02,
		},
		Detector: DetectorConfig{
			MinSamples:          30,
			EnterZ:              4.5,
			ExitZ:               1.5,
			EnterSamples:        3,
			ExitSamples:         3,
			RearmSamples:        90,
			CUSUMAllowance:      1,
			CUSUMThreshold:      5.5,
			ExceedanceThreshold: 12,
			LongZ:               4,
			SpikeZ:              12,
			MinRatio:            1.1,
			AcceptAfter:         Duration(time.Hour),
			AcceptAfterSamples:  24,
			RelativeStdDevFloor: 0.05,
			AbsoluteStdDevFloor: 1e-6,
			SLOExitRatio:        0.8,
		},
		Store: StoreConfig{
			MaxKeys:     10000,
			IdleTimeout: Duration(24 * time.Hour),
			Shards:      64,
		},
	}
}

// Validate reports every invalid field, each named by its path, e.g.
// "baseline.ewma.halfLife: want > 0, got 0s".
func (c Config) Validate() error {
	var errs []error
	bad := func(field, want string, got any) {
		errs = append(errs, fmt.Errorf("baseline.%s: want %s, got %v", field, want, got))
	}
	positive := func(field string, d Duration) {
		if d <= 0 {
			bad(field, "> 0", d)
		}
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	atLeast := func(field string, v, lo float64) {
		if !finite(v) || v < lo {
			bad(field, "≥ "+strconv.FormatFloat(lo, 'g', -1, 64), v)
		}
	}

	switch c.EWMA.Transform {
	case TransformAuto, TransformLog, TransformLinear:
	default:
		bad("ewma.transform", "one of auto, log, linear", strconv.Quote(string(c.EWMA.Transform)))
	}
	positive("ewma.halfLife", c.EWMA.HalfLife)
	atLeast("ewma.halfLifeSamples", c.EWMA.HalfLifeSamples, 1)
	positive("ewma.fastHalfLife", c.EWMA.FastHalfLife)
	atLeast("ewma.fastHalfLifeSamples", c.EWMA.FastHalfLifeSamples, 0)
	if c.EWMA.FastHalfLife > c.EWMA.HalfLife {
		bad("ewma.fastHalfLife", "≤ ewma.halfLife ("+c.EWMA.HalfLife.String()+")", c.EWMA.FastHalfLife)
	}
	atLeast("ewma.maxGapSamples", c.EWMA.MaxGapSamples, 1)
	if c.EWMA.LongHalfLife < c.EWMA.HalfLife {
		bad("ewma.longHalfLife", "≥ ewma.halfLife ("+c.EWMA.HalfLife.String()+")", c.EWMA.LongHalfLife)
	}
	if c.EWMA.DailyHalfLife < 0 {
		bad("ewma.dailyHalfLife", "≥ 0 (0 disables the daily profile)", c.EWMA.DailyHalfLife)
	}

	positive("window.length", c.Window.Length)
	if c.Window.Buckets < 1 || c.Window.Buckets > 1024 {
		bad("window.buckets", "1..1024", c.Window.Buckets)
	} else if time.Duration(c.Window.Length)/time.Duration(c.Window.Buckets) < time.Millisecond && c.Window.Length > 0 {
		bad("window.length", fmt.Sprintf("≥ 1ms per bucket (%d buckets)", c.Window.Buckets), c.Window.Length)
	}
	if c.Window.Bins < 4 || c.Window.Bins > 4096 || c.Window.Bins%2 != 0 {
		bad("window.bins", "an even number in 4..4096", c.Window.Bins)
	}
	if !finite(c.Window.RelativeAccuracy) || c.Window.RelativeAccuracy <= 0 || c.Window.RelativeAccuracy >= 0.5 {
		bad("window.relativeAccuracy", "in (0, 0.5)", c.Window.RelativeAccuracy)
	}

	d := c.Detector
	if d.MinSamples < 2 {
		bad("detector.minSamples", "≥ 2", d.MinSamples)
	}
	if !finite(d.EnterZ) || d.EnterZ <= 0 {
		bad("detector.enterZ", "> 0", d.EnterZ)
	}
	if !finite(d.ExitZ) || d.ExitZ >= d.EnterZ {
		bad("detector.exitZ", fmt.Sprintf("< detector.enterZ (%v)", d.EnterZ), d.ExitZ)
	}
	if d.EnterSamples < 1 {
		bad("detector.enterSamples", "≥ 1", d.EnterSamples)
	}
	if d.ExitSamples < 1 {
		bad("detector.exitSamples", "≥ 1", d.ExitSamples)
	}
	if d.RearmSamples < 0 {
		bad("detector.rearmSamples", "≥ 0", d.RearmSamples)
	}
	atLeast("detector.cusumAllowance", d.CUSUMAllowance, 0)
	atLeast("detector.cusumThreshold", d.CUSUMThreshold, 0)
	atLeast("detector.exceedanceThreshold", d.ExceedanceThreshold, 0)
	if !finite(d.LongZ) || d.LongZ != 0 && d.LongZ <= d.ExitZ {
		bad("detector.longZ", fmt.Sprintf("0 (off) or > detector.exitZ (%v)", d.ExitZ), d.LongZ)
	}
	atLeast("detector.spikeZ", d.SpikeZ, 0)
	atLeast("detector.minRatio", d.MinRatio, 1)
	positive("detector.acceptAfter", d.AcceptAfter)
	atLeast("detector.acceptAfterSamples", d.AcceptAfterSamples, 1)
	atLeast("detector.relativeStdDevFloor", d.RelativeStdDevFloor, 0)
	atLeast("detector.absoluteStdDevFloor", d.AbsoluteStdDevFloor, 0)
	if d.RelativeStdDevFloor == 0 && d.AbsoluteStdDevFloor == 0 {
		bad("detector.absoluteStdDevFloor", "> 0 when detector.relativeStdDevFloor is 0", 0)
	}
	if !finite(d.SLOExitRatio) || d.SLOExitRatio <= 0 || d.SLOExitRatio > 1 {
		bad("detector.sloExitRatio", "in (0, 1]", d.SLOExitRatio)
	}

	if c.Store.MaxKeys < 1 {
		bad("store.maxKeys", "≥ 1", c.Store.MaxKeys)
	}
	positive("store.idleTimeout", c.Store.IdleTimeout)
	if c.Store.Shards < 1 || c.Store.Shards > 4096 {
		bad("store.shards", "1..4096", c.Store.Shards)
	}
	return errors.Join(errs...)
}
