package status

import (
	"math"
	"time"
)

// axisTop returns a round top for the y axis at or above v, and the step
// between gridlines: at most five steps of 1, 2 or 5 times a power of ten.
func axisTop(v float64) (top, step float64) {
	if !(v > 0) || !finite(v) {
		v = 1e-3 // nothing known: a millisecond scale
	}
	v = max(v, 1e-6) // finer than a microsecond is noise
	step = niceStep(v / 5)
	return math.Ceil(v/step-1e-9) * step, step
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f <= 1:
		return p
	case f <= 2:
		return 2 * p
	case f <= 5:
		return 5 * p
	}
	return 10 * p
}

// yTicks returns gridlines from 0 to top, each labelled in its own unit
// (0, 500 µs, 1 ms, 1.5 ms): a person reads "1 ms" faster than "1000 µs".
func yTicks(top, step float64) []tick {
	n := int(math.Round(top / step))
	ticks := make([]tick, 0, n+1)
	for i := 0; i <= n; i++ {
		v := float64(i) * step
		ticks = append(ticks, tick{Pos: r1(plotB - v/top*(plotB-plotT)), Label: fmtSeconds(v)})
	}
	return ticks
}

// timeSteps are the candidate distances between time labels.
var timeSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// xTicks returns at most five time labels (UTC) on round times.
func xTicks(t0, t1 time.Time, x func(time.Time) float64) []tick {
	span := t1.Sub(t0)
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= 4 {
			step = s
			break
		}
	}
	for span/step > 4 { // beyond a day: whole days
		step += 24 * time.Hour
	}
	layout := "15:04"
	switch {
	case step < time.Minute:
		layout = "15:04:05"
	case step >= 24*time.Hour:
		layout = "Jan 2"
	}
	var ticks []tick
	for t := t0.UTC().Truncate(step); !t.After(t1); t = t.Add(step) {
		if t.Before(t0) {
			continue
		}
		pos := r1(x(t))
		anchor := "middle"
		switch {
		case pos < plotL+20:
			anchor = "start"
		case pos > plotR-20:
			anchor = "end"
		}
		ticks = append(ticks, tick{Pos: pos, Label: t.Format(layout), Anchor: anchor})
	}
	return ticks
}
