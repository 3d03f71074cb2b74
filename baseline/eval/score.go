package eval

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/kubepulse/kubepulse/baseline"
)

// Run replays s through a fresh detector with cfg, the way `kubepulse
// backtest` does, and returns the row indices where an alert started and every
// event.
func Run(cfg baseline.Config, s *Series) (alerts []int, events []baseline.Event, err error) {
	d, err := baseline.NewDetector(cfg, 0)
	if err != nil {
		return nil, nil, err
	}
	for i, t := range s.Times {
		if ev, ok := d.ObserveUnixNano(s.Values[i], t); ok {
			events = append(events, ev)
			if ev.Kind == baseline.KindFiring {
				alerts = append(alerts, i)
			}
		}
	}
	return alerts, events, nil
}

// Result scores one series.
type Result struct {
	Scenario string
	Seed     uint64
	Samples  int
	Days     float64
	// Windows is the number of labelled anomalies, Detected how many had an
	// alert inside them.
	Windows, Detected int
	// Alerts counts every alert; False those outside every window;
	// Redundant the second and later alerts inside one window.
	Alerts, False, Redundant int
	// Delays holds, per detected window, the time from its start to its
	// first alert.
	Delays []time.Duration
	// Shifts counts permanent level changes; ShiftsAccepted those whose alert
	// resolved by acceptance within three hours.
	Shifts, ShiftsAccepted int
}

// Score compares the alerts (row indices) and events of a run with the
// labels of s.
func Score(s *Series, alerts []int, events []baseline.Event) Result {
	r := Result{Scenario: s.Scenario, Seed: s.Seed, Samples: s.Len(), Windows: len(s.Anomalies), Alerts: len(alerts)}
	if n := s.Len(); n > 1 {
		r.Days = float64(s.Times[n-1]-s.Times[0]) / float64(day)
	}
	hit := make([]bool, len(s.Anomalies))
	for _, i := range alerts {
		t := s.Times[i]
		w := -1
		for j, a := range s.Anomalies {
			if t >= a.Start && t <= a.End {
				w = j
				break
			}
		}
		switch {
		case w < 0:
			r.False++
		case hit[w]:
			r.Redundant++
		default:
			hit[w] = true
			r.Detected++
			r.Delays = append(r.Delays, time.Duration(t-s.Anomalies[w].Start))
		}
	}
	for _, sh := range s.Shifts {
		r.Shifts++
		// The shift's alert must end by acceptance within three hours
		// (acceptAfter is one hour by default).
		for _, ev := range events {
			at := ev.At.UnixNano()
			if at >= sh.Start && at <= sh.Start+3*hour && ev.Kind == baseline.KindResolved && ev.Accepted {
				r.ShiftsAccepted++
				break
			}
		}
	}
	return r
}

// Summary aggregates the results of one scenario.
type Summary struct {
	Scenario                 string
	Series, Samples          int
	Days                     float64
	Windows, Detected        int
	Alerts, False, Redundant int
	Shifts, ShiftsAccepted   int
	Delays                   []time.Duration
}

// Precision is detected windows / (detected windows + false alerts): the
// share of useful alerts (redundant alerts in a window are not counted).
func (s Summary) Precision() float64 {
	if s.Detected+s.False == 0 {
		return 1
	}
	return float64(s.Detected) / float64(s.Detected+s.False)
}

// Recall is detected windows / windows.
func (s Summary) Recall() float64 {
	if s.Windows == 0 {
		return 1
	}
	return float64(s.Detected) / float64(s.Windows)
}

// FalsePerWeek is false alerts per series per 7 days of data.
func (s Summary) FalsePerWeek() float64 {
	if s.Days == 0 {
		return 0
	}
	return float64(s.False) / s.Days * 7
}

// Delay returns the q-quantile of the detection delays (0 without any).
func (s Summary) Delay(q float64) time.Duration {
	if len(s.Delays) == 0 {
		return 0
	}
	d := slices.Clone(s.Delays)
	slices.Sort(d)
	return d[min(len(d)-1, int(q*float64(len(d)-1)+0.5))]
}

// Summarize groups results by scenario, in first-seen order.
func Summarize(rs []Result) []Summary {
	var out []Summary
	idx := map[string]int{}
	for _, r := range rs {
		i, ok := idx[r.Scenario]
		if !ok {
			i = len(out)
			idx[r.Scenario] = i
			out = append(out, Summary{Scenario: r.Scenario})
		}
		s := &out[i]
		s.Series++
		s.Samples += r.Samples
		s.Days += r.Days
		s.Windows += r.Windows
		s.Detected += r.Detected
		s.Alerts += r.Alerts
		s.False += r.False
		s.Redundant += r.Redundant
		s.Shifts += r.Shifts
		s.ShiftsAccepted += r.ShiftsAccepted
		s.Delays = append(s.Delays, r.Delays...)
	}
	return out
}

// Total adds up summaries into one row named "all".
func Total(ss []Summary) Summary {
	t := Summary{Scenario: "all"}
	for _, s := range ss {
		t.Series += s.Series
		t.Samples += s.Samples
		t.Days += s.Days
		t.Windows += s.Windows
		t.Detected += s.Detected
		t.Alerts += s.Alerts
		t.False += s.False
		t.Redundant += s.Redundant
		t.Shifts += s.Shifts
		t.ShiftsAccepted += s.ShiftsAccepted
	}
	return t
}

// WriteTable writes summaries as a Markdown table.
func WriteTable(w io.Writer, ss []Summary) error {
	if _, err := fmt.Fprintln(w, "| scenario | series | windows | detected | recall | false alerts | false/week/series | precision | redundant | delay p50 | delay p90 | delay max | shifts accepted |"); err != nil {
		return err
	}
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	rows := append(slices.Clone(ss), Total(ss))
	for _, s := range rows {
		delay := func(q float64) string {
			if len(s.Delays) == 0 {
				return "–"
			}
			return s.Delay(q).Round(time.Second).String()
		}
		sh := "–"
		if s.Shifts > 0 {
			sh = fmt.Sprintf("%d/%d", s.ShiftsAccepted, s.Shifts)
		}
		fpw := s.FalsePerWeek()
		_, err := fmt.Fprintf(w, "| %s | %d | %d | %d | %.2f | %d | %.2f | %.2f | %d | %s | %s | %s | %s |\n",
			s.Scenario, s.Series, s.Windows, s.Detected, s.Recall(), s.False, fpw, s.Precision(), s.Redundant,
			delay(0.5), delay(0.9), delay(1), sh)
		if err != nil {
			return err
		}
	}
	return nil
}

// Evaluate runs every scenario for seeds 1..n with cfg.
func Evaluate(cfg baseline.Config, n int) ([]Result, error) {
	var rs []Result
	for _, sc := range Scenarios {
		for seed := uint64(1); seed <= uint64(n); seed++ {
			s := sc.Generate(seed)
			alerts, events, err := Run(cfg, &s)
			if err != nil {
				return nil, err
			}
			rs = append(rs, Score(&s, alerts, events))
		}
	}
	return rs, nil
}
