package baseline

import (
	"math"
	"time"

	"github.com/kubepulse/kubepulse/baseline/ewma"
	"github.com/kubepulse/kubepulse/baseline/window"
)

// params are the configuration in the units the detector computes in
// (seconds as float64), derived once and shared by every key.
type params struct {
	transform Transform
	daily     bool // the daily profile is on
	// Inverse half-lives (1/s) and inverse least half-lives in spacings:
	// the weights need no division but one.
	invHalfLife, invHlN      float64
	invFastHalfLife, invFhlN float64
	invLongHalfLife          float64
	invDailyHalfLife         float64 // of one profile bin, in the time the bin is visited
	maxGap                   float64
	minSamples               uint32
	enterZ, exitZ            float64
	cusumK, cusumH           float64
	exH, exOn                float64 // the exceedance chart's threshold; exOn is +Inf when off
	longZ, spikeZ            float64
	spikeZ2                  float64 // spikeZ²
	longOn, cusumOn          float64 // longZ and cusumH, +Inf when off
	enterN, exitN            uint16
	rearmN                   uint16
	minRatio, logRatio       float64
	accept, acceptN          float64
	relFloor, logFloor       float64
	absFloor, absCut         float64
	sloExit                  float64
	minFastV                 float64
	layout                   window.Layout
	logWidth                 float64
}

func newParams(c Config) *params {
	sec := func(d Duration) float64 { return time.Duration(d).Seconds() }
	return &params{
		transform:        c.EWMA.Transform,
		daily:            c.EWMA.DailyHalfLife > 0,
		invHalfLife:      1 / sec(c.EWMA.HalfLife),
		invHlN:           1 / c.EWMA.HalfLifeSamples,
		invFastHalfLife:  1 / sec(c.EWMA.FastHalfLife),
		invFhlN:          inv(c.EWMA.FastHalfLifeSamples),
		invLongHalfLife:  1 / sec(c.EWMA.LongHalfLife),
		invDailyHalfLife: inv(sec(c.EWMA.DailyHalfLife) / seasonBins),
		maxGap:           c.EWMA.MaxGapSamples,
		minSamples:       uint32(c.Detector.MinSamples),
		enterZ:           c.Detector.EnterZ,
		exitZ:            c.Detector.ExitZ,
		cusumK:           c.Detector.CUSUMAllowance,
		cusumH:           c.Detector.CUSUMThreshold,
		longZ:            c.Detector.LongZ,
		spikeZ:           c.Detector.SpikeZ,
		spikeZ2:          c.Detector.SpikeZ * c.Detector.SpikeZ,
		longOn:           orInf(c.Detector.LongZ),
		cusumOn:          orInf(c.Detector.CUSUMThreshold),
		exH:              c.Detector.ExceedanceThreshold,
		exOn:             orInf(c.Detector.ExceedanceThreshold),
		enterN:           uint16(min(c.Detector.EnterSamples, math.MaxUint16)),
		exitN:            uint16(min(c.Detector.ExitSamples, math.MaxUint16)),
		rearmN:           uint16(min(c.Detector.RearmSamples, math.MaxUint16)),
		minRatio:         c.Detector.MinRatio,
		logRatio:         math.Log(c.Detector.MinRatio),
		accept:           sec(c.Detector.AcceptAfter),
		acceptN:          c.Detector.AcceptAfterSamples,
		relFloor:         c.Detector.RelativeStdDevFloor,
		logFloor:         math.Log1p(c.Detector.RelativeStdDevFloor),
		absFloor:         c.Detector.AbsoluteStdDevFloor,
		absCut:           absCut(c.Detector.AbsoluteStdDevFloor, math.Log1p(c.Detector.RelativeStdDevFloor)),
		sloExit:          c.Detector.SLOExitRatio,
		minFastV:         minFastV(c.EWMA.FastHalfLifeSamples),
		layout: window.Layout{
			Length:  time.Duration(c.Window.Length),
			Buckets: c.Window.Buckets,
			Bins:    c.Window.Bins,
			Width:   math.Log1p(2 * c.Window.RelativeAccuracy),
		},
		logWidth: math.Log1p(2 * c.Window.RelativeAccuracy),
	}
}

// orInf is x, or +Inf for 0 (a threshold that is off).
func orInf(x float64) float64 {
	if x == 0 {
		return math.Inf(1)
	}
	return x
}

// inv is 1/x, +Inf for 0 (a least half-life of 0 spacings never binds).
func inv(x float64) float64 {
	if x == 0 {
		return math.Inf(1)
	}
	return 1 / x
}

// absCut is the log-space mean below which the absolute floor exceeds the
// relative one.
func absCut(abs, logFloor float64) float64 {
	switch {
	case abs <= 0:
		return math.Inf(-1)
	case logFloor <= 0:
		return math.Inf(1)
	}
	return math.Log(abs / logFloor)
}

// minFastV is the variance factor λ/(2−λ) of an EWMA with a half-life of n
// regular samples.
func minFastV(n float64) float64 {
	if n <= 0 {
		return 0
	}
	l := ewma.Alpha(1, n)
	return l / (2 - l)
}
