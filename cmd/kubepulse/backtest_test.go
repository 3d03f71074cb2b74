package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestBacktestDirProcessesEveryFileAndFailsOnMalformed(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCmd(t, "backtest", "--in-dir", "testdata/backtest/in", "--out-dir", out)
	if code != exitError {
		t.Fatalf("exit %d, want %d (one malformed file); stderr %s", code, exitError, stderr)
	}
	if !strings.Contains(stderr, filepath.Join("sub", "broken.csv")+":4: value \"oops\" is not a number") {
		t.Errorf("stderr %q does not name the file and line", stderr)
	}
	if !strings.Contains(stdout, "files=2 failed=1 rows=400 alerts=1 duplicate_timestamps=1 backward_timestamps=1 missing_values=1") {
		t.Errorf("summary %q", stdout)
	}
	got, err := os.ReadFile(filepath.Join(out, "latency.csv"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile("../../baseline/backtest/testdata/series.out.csv")
	if !bytes.Equal(got, want) {
		t.Error("output differs from the backtest golden file")
	}
}

func TestBacktestSingleFileWithConfig(t *testing.T) {
	out := filepath.Join(t.TempDir(), "deep", "o.csv")
	code, stdout, stderr := runCmd(t, "backtest", "--in", "testdata/backtest/in/latency.csv", "--out", out, "--config", "testdata/backtest/config.yaml")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "files=1 failed=0 rows=400") {
		t.Errorf("summary %q", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.HasPrefix(string(b), "timestamp,value,anomaly_score,alert\n") {
		t.Fatalf("output %q, %v", b, err)
	}
	if stderr != "" {
		t.Errorf("stderr %q: progress must only go to a terminal", stderr)
	}
}

func TestBacktestUsageErrors(t *testing.T) {
	in := "testdata/backtest/in/latency.csv"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "want --in-dir DIR --out-dir OUT, or --in FILE --out FILE"},
		{"both modes", []string{"--in", in, "--out", "x", "--in-dir", "d", "--out-dir", "o"}, "not both"},
		{"half a pair", []string{"--in", in}, "--in and --out go together"},
		{"half a dir pair", []string{"--out-dir", "o"}, "--in-dir and --out-dir go together"},
		{"same dir", []string{"--in-dir", "testdata", "--out-dir", "./testdata/"}, "must differ"},
		{"unknown flag", []string{"--inn", in}, "flag provided but not defined: -inn"},
		{"stray argument", []string{"--in", in, "--out", "x", "extra"}, "unexpected arguments"},
		{"unknown config field", []string{"--in", in, "--out", "x", "--config", "testdata/backtest/unknown-field.yaml"}, `unknown field "halfLifeSamplez"`},
		{"invalid config", []string{"--in", in, "--out", "x", "--config", "testdata/backtest/invalid.yaml"}, "baseline.detector.exitZ: want < detector.enterZ"},
		{"missing config", []string{"--in", in, "--out", "x", "--config", "nope.yaml"}, "nope.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, append([]string{"backtest"}, c.args...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not contain %q", stderr, c.want)
			}
		})
	}
}

func TestBacktestMissingInputFile(t *testing.T) {
	code, _, stderr := runCmd(t, "backtest", "--in", "testdata/nope.csv", "--out", filepath.Join(t.TempDir(), "o.csv"))
	if code != exitError || !strings.Contains(stderr, "nope.csv") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestBacktestHelp(t *testing.T) {
	code, _, stderr := runCmd(t, "backtest", "-h")
	if code != exitOK || !strings.Contains(stderr, "kubepulse backtest --in-dir DIR --out-dir OUT [--config FILE]") {
		t.Errorf("exit %d, help %q", code, stderr)
	}
}
