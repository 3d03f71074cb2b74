package eval

import (
	"flag"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/baseline"
)

var (
	traceScenario = flag.String("trace.scenario", "", "scenario to trace")
	traceSeed     = flag.Uint64("trace.seed", 1, "seed to trace")
	traceEvery    = flag.Int("trace.every", 1, "print every n-th row")
	traceFrom     = flag.Int("trace.from", 0, "first row")
	traceTo       = flag.Int("trace.to", math.MaxInt, "last row")
)

func TestDevTrace(t *testing.T) {
	if *traceScenario == "" {
		t.Skip("no -trace.scenario")
	}
	sc, err := Lookup(*traceScenario)
	if err != nil {
		t.Fatal(err)
	}
	s := sc.Generate(*traceSeed)
	for _, a := range s.Anomalies {
		fmt.Println("anomaly", time.Unix(0, a.Start).UTC(), time.Unix(0, a.End).UTC())
	}
	d, _ := baseline.NewDetector(devConfig(t), 0)
	for i, tm := range s.Times {
		ev, ok := d.ObserveUnixNano(s.Values[i], tm)
		st := d.Status()
		if ok {
			fmt.Println("EVENT", ev)
		}
		if i >= *traceFrom && i <= *traceTo && (i%*traceEvery == 0 || ok) {
			fmt.Printf("%d %s v=%.4g cur=%.4g mean=%.4g sd=%.3g z=%.2f %s\n", i, time.Unix(0, tm).UTC().Format("01-02T15:04:05"), s.Values[i], st.Current, st.Mean, st.StdDev, st.Z, st.State)
		}
	}
}
