package baseline_test

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/kubepulse/kubepulse/baseline"
)

// A tracker per process; keys are opaque. The agent's prior maps each kind
// of call to its upstream SLO.
func ExampleTracker() {
	tr, err := baseline.NewTracker(baseline.Options{
		Config: baseline.DefaultConfig(),
		Prior: func(key string) (float64, bool) {
			if strings.HasPrefix(key, "list/") {
				return 30, true // cluster-wide list: 30 s
			}
			return 1, true // single object: 1 s
		},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	t0 := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	for i := range 6 * 360 { // 6 hours of a 10 s probe, 3× slower after 5 h
		v := 0.02 * math.Exp(0.2*r.NormFloat64())
		if i >= 5*360 {
			v *= 3
		}
		if ev, ok := tr.Observe("get/pods/namespace/server", v, t0.Add(time.Duration(i)*10*time.Second)); ok {
			fmt.Printf("%s %s after %s: current %.3fs vs baseline %.3fs (%.1f×)\n",
				ev.Kind, ev.Reason, ev.At.Sub(t0.Add(5*time.Hour)), ev.Current, ev.BaselineMean, ev.Ratio)
		}
	}
	s, _ := tr.Status("get/pods/namespace/server")
	fmt.Println(s.State, tr.Stats().Keys)
	// Output:
	// firing drift after 20s: current 0.028s vs baseline 0.020s (1.4×)
	// firing 1
}

// A lone detector replays one series, as `kubepulse backtest` does.
func ExampleDetector() {
	d, _ := baseline.NewDetector(baseline.DefaultConfig(), 0)
	t0 := time.Unix(0, 0)
	for i := range 100 {
		d.Observe(10+float64(i%3), t0.Add(time.Duration(i)*time.Minute))
	}
	fmt.Printf("%s %.2f\n", d.State(), d.Score())
	// Output: normal 0.00
}
