package baseline

import (
	"fmt"
	"time"
)

// State is where a key is in its life: learning, then normal, pending or
// firing. It is what status pages and the anomaly gauges show.
type State uint8

// States.
const (
	// StateLearning: fewer than detector.minSamples samples; no drift alert
	// can fire (an SLO prior still can).
	StateLearning State = iota
	// StateNormal: the key is within its baseline.
	StateNormal
	// StatePending: the key is above its baseline, not yet for
	// detector.enterSamples samples in a row.
	StatePending
	// StateFiring: an alert is firing for the key.
	StateFiring
)

var stateNames = [...]string{"learning", "normal", "pending", "firing"}

// String returns the state's name: learning, normal, pending or firing.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Kind says whether an event starts or ends an alert.
type Kind uint8

// Kinds.
const (
	KindFiring Kind = iota + 1
	KindResolved
)

// String returns firing or resolved.
func (k Kind) String() string {
	switch k {
	case KindFiring:
		return "firing"
	case KindResolved:
		return "resolved"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Reason says why an alert fires.
type Reason uint8

// Reasons.
const (
	// ReasonDrift: the key drifted above its learned baseline.
	ReasonDrift Reason = iota + 1
	// ReasonSLO: while the key was still learning, its current value
	// exceeded the SLO prior given for it.
	ReasonSLO
)

// String returns drift or slo.
func (r Reason) String() string {
	switch r {
	case ReasonDrift:
		return "drift"
	case ReasonSLO:
		return "slo"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Event is an alert starting or ending, with the numbers that explain it.
// All values are in the series' unit (seconds for latency).
type Event struct {
	// Key is the series' key (empty from a lone Detector).
	Key    string
	Kind   Kind
	Reason Reason
	// At is the time of the sample that caused the event (data time).
	At time.Time
	// Value is that sample.
	Value float64
	// Current is the fast EWMA: the level the detector judged.
	Current float64
	// BaselineMean is the learned typical value at this time of day (the
	// slow baseline plus the daily profile; for log-learned series the
	// geometric mean, close to the median), BaselineStdDev its spread.
	BaselineMean   float64
	BaselineStdDev float64
	// BaselineP99 is the 99th percentile of the sliding window (NaN when
	// the window is empty).
	BaselineP99 float64
	// Z is how far Current is above the baseline in standard deviations of
	// the fast EWMA (above the long-horizon level in its own, if that is
	// further); Ratio is Current / BaselineMean (0 when the baseline is not
	// positive). An alert started by a single huge sample (the spike rule)
	// reports that sample as Current, its ratio, and its Z in noise
	// standard deviations. An alert started by the CUSUM or the exceedance
	// chart may show a Z below detector.enterZ: its Score says how far that
	// chart was.
	Z     float64
	Ratio float64
	// SLO is the prior the key was judged against (0 when it has none).
	SLO float64
	// Samples is the number of samples the key has seen.
	Samples uint64
	// Score is the severity in [0, 1] (see Detector.Score).
	Score float64
	// FiringSince is when the alert started (set on resolved events).
	FiringSince time.Time
	// Accepted is set on a resolved event that ended because the drifted
	// level had lasted detector.acceptAfter and became the new normal.
	Accepted bool
}

// String is a one-line summary for logs.
func (e Event) String() string {
	s := fmt.Sprintf("%s %s %s key=%q current=%.6g baseline=%.6g p99=%.6g z=%.2f ratio=%.3g samples=%d",
		e.At.Format(time.RFC3339Nano), e.Kind, e.Reason, e.Key, e.Current, e.BaselineMean, e.BaselineP99, e.Z, e.Ratio, e.Samples)
	if e.Accepted {
		s += " accepted"
	}
	return s
}
