package alertmanager

import (
	"math"
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		n    Numbers
		want string
	}{
		{Numbers{Stat: "p99", Current: 0.412, Reference: 0.120, Z: 5.2, Samples: 1200, Window: 10 * time.Minute},
			"p99 412ms vs baseline 120ms (3.43× baseline, z=5.20, 1200 samples over 10m0s)"},
		{Numbers{Stat: "p99", Current: 2.5, Reference: 1, RefName: "SLO", Samples: 300},
			"p99 2.5s vs SLO 1s (2.50× SLO, 300 samples)"},
		{Numbers{Stat: "ewma_mean", Current: 0.00085, Reference: 0.0004, Ratio: 2.1, Z: math.NaN()},
			"ewma_mean 850µs vs baseline 400µs (2.10× baseline)"},
		{Numbers{Stat: "error rate", Unit: Fraction, Current: 0.042, Reference: 0.003, Z: 7.25, Samples: 1},
			"error rate 4.2% vs baseline 0.3% (14.00× baseline, z=7.25, 1 sample)"},
		{Numbers{Stat: "failed probes", Unit: Count, Current: 4, Reference: 3, RefName: "threshold"}, "failed probes 4 vs threshold 3 (1.33× threshold)"},
		{Numbers{Stat: "limiter wait", Unit: PerSecond, Current: 3.5, Reference: 0},
			"limiter wait 3.5/s vs baseline 0/s"},
		{Numbers{Current: 1234.6, Reference: math.Inf(1)}, "1235s vs baseline n/a"},
		{Numbers{Current: math.NaN(), Reference: 0.0123}, "n/a vs baseline 12.3ms"},
		{Numbers{Current: 0, Reference: 0}, "0s vs baseline 0s"},
	} {
		if got := Describe(tc.n); got != tc.want {
			t.Errorf("Describe(%+v)\n got %s\nwant %s", tc.n, got, tc.want)
		}
	}
}

func TestSig3(t *testing.T) {
	for v, want := range map[float64]string{412: "412", 41.26: "41.3", 4.126: "4.13", 0.04125: "0.0413",
		1: "1", 100: "100", 99.99: "100", 12345: "12345", -2.5: "-2.5"} {
		if got := sig3(v); got != want {
			t.Errorf("sig3(%v) = %s, want %s", v, got, want)
		}
	}
}
