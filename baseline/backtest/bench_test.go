package backtest

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/baseline"
)

// BenchmarkReplay replays a 100,000-row series held in memory (parse, detect,
// format) on one core and reports rows per second.
func BenchmarkReplay(b *testing.B) {
	for _, format := range []string{"datetime", "unix"} {
		var in bytes.Buffer
		in.WriteString("timestamp,value\n")
		r := rand.New(rand.NewPCG(1, 1))
		t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		const rows = 100_000
		for i := range rows {
			at := t0.Add(time.Duration(i) * 10 * time.Second)
			if format == "unix" {
				fmt.Fprintf(&in, "%d,%.6g\n", at.Unix(), 0.05*math.Exp(0.25*r.NormFloat64()))
			} else {
				fmt.Fprintf(&in, "%s,%.6g\n", at.Format("2006-01-02 15:04:05"), 0.05*math.Exp(0.25*r.NormFloat64()))
			}
		}
		data := in.Bytes()
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for range b.N {
				if _, err := Replay(bytes.NewReader(data), io.Discard, baseline.DefaultConfig()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
