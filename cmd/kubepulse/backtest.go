package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubepulse/kubepulse/baseline"
	"github.com/kubepulse/kubepulse/baseline/backtest"
)

const backtestUsage = `Usage:
  kubepulse backtest --in-dir DIR --out-dir OUT [--config FILE]
  kubepulse backtest --in FILE.csv --out OUT.csv [--config FILE]

Replays recorded series through the detector with one configuration and
writes, for every input row, the detector's anomaly score and whether an
alert started on that row.

Input: every *.csv under DIR (recursively), or one file. A header row names
a "timestamp" and a "value" column (other columns are ignored); timestamps
are RFC 3339, "YYYY-MM-DD HH:MM:SS" (UTC) or Unix seconds. Each file is an
independent series with fresh state.

Output: OUT/<same relative path> (or OUT.csv) with the header
timestamp,value,anomaly_score,alert — one row per input row, in order.

--config FILE is YAML of the baseline configuration (unknown fields are
errors); omitted fields keep their defaults. A malformed input file is
reported with its line and the command exits 1 after processing the others.

Flags:
`

// runBacktest implements `kubepulse backtest`.
func runBacktest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		inDir   = fs.String("in-dir", "", "directory of input CSV files (recursive)")
		outDir  = fs.String("out-dir", "", "directory for the output CSV files")
		in      = fs.String("in", "", "one input CSV file")
		out     = fs.String("out", "", "the output CSV file")
		cfgPath = fs.String("config", "", "YAML file with the baseline configuration")
	)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), backtestUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	dirMode := *inDir != "" || *outDir != ""
	fileMode := *in != "" || *out != ""
	switch {
	case dirMode && fileMode:
		return usageError{errors.New("use either --in-dir/--out-dir or --in/--out, not both")}
	case dirMode && (*inDir == "" || *outDir == ""):
		return usageError{errors.New("--in-dir and --out-dir go together")}
	case fileMode && (*in == "" || *out == ""):
		return usageError{errors.New("--in and --out go together")}
	case !dirMode && !fileMode:
		return usageError{errors.New("want --in-dir DIR --out-dir OUT, or --in FILE --out FILE")}
	}
	cfg, err := loadBaselineConfig(*cfgPath)
	if err != nil {
		return usageError{err}
	}

	start := time.Now()
	var results []backtest.FileResult
	if fileMode {
		res, err := backtest.File(*in, *out, cfg)
		results = []backtest.FileResult{{Path: *in, Result: res, Err: err}}
	} else {
		if same, err := sameDir(*inDir, *outDir); err != nil {
			return err
		} else if same {
			return usageError{errors.New("--out-dir must differ from --in-dir (inputs would be overwritten)")}
		}
		if st, err := os.Stat(*inDir); err != nil {
			return err
		} else if !st.IsDir() {
			return usageError{fmt.Errorf("--in-dir %s is not a directory", *inDir)}
		}
		prog := newProgress(stderr)
		results, err = backtest.Dir(ctx, *inDir, *outDir, backtest.DirOptions{Config: cfg, Progress: prog.update})
		prog.finish()
		if err != nil {
			return err
		}
		if len(results) == 0 {
			return fmt.Errorf("no *.csv files under %s", *inDir)
		}
	}

	var total backtest.Result
	var failed []string
	for _, r := range results {
		if r.Err != nil {
			failed = append(failed, r.Err.Error())
			continue
		}
		total = total.Add(r.Result) // counts of files written in full
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "files=%d failed=%d rows=%d alerts=%d duplicate_timestamps=%d backward_timestamps=%d missing_values=%d seconds=%.3f rows_per_second=%.0f\n",
		len(results), len(failed), total.Rows, total.Alerts, total.Duplicates, total.Backward, total.Missing, secs, float64(total.Rows)/max(secs, 1e-9))
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintln(stderr, f)
		}
		return fmt.Errorf("%d of %d files failed", len(failed), len(results))
	}
	return nil
}

// loadBaselineConfig reads YAML over the defaults, strictly, and validates.
func loadBaselineConfig(path string) (baseline.Config, error) {
	cfg := baseline.DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

func sameDir(a, b string) (bool, error) {
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	bb, err := filepath.Abs(b)
	if err != nil {
		return false, err
	}
	return aa == bb, nil
}

// progress draws a one-line progress report on stderr, only when stderr is
// a terminal (never into logs or pipes).
type progress struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.on = true
		}
	}
	return p
}

func (p *progress) update(done, total int, rows int64) {
	if !p.on {
		return
	}
	now := time.Now()
	if done != total && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(rows) / max(now.Sub(p.start).Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r%s", strings.TrimSpace(fmt.Sprintf("backtest: %d/%d files, %d rows, %.1fM rows/s", done, total, rows, rate/1e6)))
}

func (p *progress) finish() {
	if p.on && !p.last.IsZero() {
		fmt.Fprintln(p.w)
	}
}
