package backtest

import (
	"bytes"

	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kubepulse/kubepulse/baseline"
)

// The agent's end-to-end test on a busy machine recorded these series (1 s
// apart; testdata/repro): 34 samples of a probe through a proxy, 1.2–105 ms
// (median 5 ms, p99 58 ms), then latency injected by the proxy. The
// detector used to learn the injection instead of alerting on it: the
// warm-up's spread is huge and poorly known, and a young baseline is a
// running mean that takes in a shift before any σ-based chart is sure of
// it. Every injected sample is above the warm-up's ~p85 (+40 ms) or above
// its maximum (+174 ms, +500 ms): in rank terms, obvious.
const reproShift = 34 // the first injected row

// agentConfig is the detector configuration the agent runs with.
func agentConfig() baseline.Config {
	cfg := baseline.DefaultConfig()
	cfg.Detector.AbsoluteStdDevFloor = 0.001
	return cfg
}

// TestReproNoisyWarmUpShiftsAlert replays the recorded series exactly as
// `kubepulse backtest` does, with the agent's configuration and with the
// defaults: each alerts once, after the injection starts and within the
// samples the fix promises (+40 ms: 15, +174 ms and +500 ms: 5 after the
// first injected one).
func TestReproNoisyWarmUpShiftsAlert(t *testing.T) {
	step, err := os.ReadFile("testdata/repro/noisy_step.csv")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		in     []byte
		within int // alert at most this many rows after the first injected one
	}{
		{"+40ms", mustRead(t, "testdata/repro/node_get_cached_server.csv"), 15},
		{"+174ms", step, 5},
		// The same series with 500 ms injected instead of 174 ms, which the
		// detector already caught.
		{"+500ms", addFrom(t, step, reproShift, 0.5-0.174), 5},
	}
	for _, tc := range cases {
		for _, cfg := range []struct {
			name string
			c    baseline.Config
		}{{"agent", agentConfig()}, {"default", baseline.DefaultConfig()}} {
			t.Run(tc.name+"/"+cfg.name, func(t *testing.T) {
				var out bytes.Buffer
				res, err := Replay(bytes.NewReader(tc.in), &out, cfg.c)
				if err != nil {
					t.Fatal(err)
				}
				checkOutput(t, tc.in, out.Bytes())
				rows := alertRows(out.String())
				if res.Alerts != 1 || len(rows) != 1 {
					t.Fatalf("%d alerts on rows %v, want one", res.Alerts, rows)
				}
				if d := rows[0] - reproShift; d < 0 || d > tc.within {
					t.Errorf("alert on row %d: %d rows after the injection started, want 0–%d", rows[0], d, tc.within)
				}
				t.Logf("alert %d samples after the first injected one", rows[0]-reproShift)
			})
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// addFrom adds delta to the value of every row from data row from on.
func addFrom(t *testing.T, csv []byte, from int, delta float64) []byte {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(csv), "\n"), "\n")
	for i := from + 1; i < len(lines); i++ {
		ts, v, ok := strings.Cut(lines[i], ",")
		x, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			t.Fatalf("row %d: %q", i, lines[i])
		}
		lines[i] = ts + "," + strconv.FormatFloat(x+delta, 'g', -1, 64)
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// alertRows returns the data rows (0-based) whose alert column is 1.
func alertRows(out string) []int {
	var rows []int
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n")[1:] {
		if strings.HasSuffix(l, ",1") {
			rows = append(rows, i)
		}
	}
	return rows
}
