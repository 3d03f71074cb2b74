// Package backtest replays recorded series through the detector of package
// baseline, exactly as the agent would have run it, and writes what it
// decided on every row. It is the engine of `kubepulse backtest`.
//
// Input: a CSV file with a header row naming a "timestamp" and a "value"
// column (any order, any case; other columns are ignored). Timestamps are
// RFC 3339, "YYYY-MM-DD HH:MM:SS" (UTC) or Unix seconds with an optional
// fraction; rows are replayed in file order, and duplicate or backward
// timestamps are kept and counted. CRLF line ends, a UTF-8 byte order mark,
// quoted fields and blank lines are accepted. A value that is empty, NaN,
// NA, N/A, null, none or infinite is a missing measurement: its row is
// written with score 0 and nothing is learned from it.
//
// Output: a CSV with header "timestamp,value,anomaly_score,alert" and one
// row per input row in the same order: the timestamp and value text as read,
// the detector's score in [0, 1] at full precision (0 during warm-up), and
// alert 1 on the row where an alert starts firing, else 0.
//
// Every file is an independent series with fresh state; one configuration
// applies to all files.
package backtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kubepulse/kubepulse/baseline"
)

// Result counts what one replay saw.
type Result struct {
	// Rows is the number of data rows (the header and blank lines excluded).
	Rows int
	// Alerts is the number of rows with alert = 1.
	Alerts int
	// Duplicates counts rows whose timestamp equals the previous row's,
	// Backward rows whose timestamp is earlier.
	Duplicates, Backward int
	// Missing counts rows without a measurement.
	Missing int
}

// Add sums two results.
func (r Result) Add(o Result) Result {
	return Result{r.Rows + o.Rows, r.Alerts + o.Alerts, r.Duplicates + o.Duplicates, r.Backward + o.Backward, r.Missing + o.Missing}
}

var header = []byte("timestamp,value,anomaly_score,alert\n")

// Replay reads one series from in and writes the scored series to out.
// Errors about the input are *LineError (File empty).
func Replay(in io.Reader, out io.Writer, cfg baseline.Config) (Result, error) {
	var res Result
	d, err := baseline.NewDetector(cfg, 0)
	if err != nil {
		return res, err
	}
	r := newReader(in)
	if err := r.record(); err != nil {
		if err == io.EOF {
			return res, &LineError{Line: 1, Err: errors.New("empty file: want a header naming timestamp and value columns")}
		}
		return res, lineErr(r, err)
	}
	tsCol, valCol, err := columns(r.fields)
	if err != nil {
		return res, &LineError{Line: r.line, Err: err}
	}
	need := max(tsCol, valCol) + 1

	w := bufio.NewWriterSize(out, 256<<10)
	if _, err := w.Write(header); err != nil {
		return res, err
	}
	var (
		buf  []byte
		prev int64
	)
	for {
		err := r.record()
		if err == io.EOF {
			break
		}
		if err != nil {
			return res, lineErr(r, err)
		}
		if len(r.fields) < need {
			return res, &LineError{Line: r.line, Err: fmt.Errorf("want at least %d fields, got %d", need, len(r.fields))}
		}
		tsText := bytes.TrimSpace(r.fields[tsCol])
		valText := bytes.TrimSpace(r.fields[valCol])
		ts, err := parseTime(tsText)
		if err != nil {
			return res, &LineError{Line: r.line, Err: err}
		}
		if res.Rows > 0 {
			if ts == prev {
				res.Duplicates++
			} else if ts < prev {
				res.Backward++
			}
		}
		prev = ts
		res.Rows++

		score, alert := 0.0, false
		if missing(valText) {
			res.Missing++
		} else {
			v, err := parseValue(valText)
			if err != nil {
				return res, &LineError{Line: r.line, Err: err}
			}
			ev, ok := d.ObserveUnixNano(v, ts)
			alert = ok && ev.Kind == baseline.KindFiring
			score = d.Score()
		}
		buf = appendField(buf[:0], tsText)
		buf = append(buf, ',')
		buf = appendField(buf, valText)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, score, 'g', -1, 64)
		if alert {
			res.Alerts++
			buf = append(buf, ",1\n"...)
		} else {
			buf = append(buf, ",0\n"...)
		}
		if _, err := w.Write(buf); err != nil {
			return res, err
		}
	}
	return res, w.Flush()
}

func lineErr(r *reader, err error) error {
	var le *LineError
	if errors.As(err, &le) {
		return le
	}
	return fmt.Errorf("read: %w", err)
}

// columns finds the timestamp and value columns of a header.
func columns(fields [][]byte) (ts, val int, err error) {
	ts, val = -1, -1
	for i, f := range fields {
		name := strings.ToLower(string(bytes.TrimSpace(f)))
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		switch name {
		case "timestamp":
			if ts >= 0 {
				return 0, 0, errors.New(`header names "timestamp" twice`)
			}
			ts = i
		case "value":
			if val >= 0 {
				return 0, 0, errors.New(`header names "value" twice`)
			}
			val = i
		}
	}
	if ts < 0 || val < 0 {
		var names []string
		for _, f := range fields {
			names = append(names, strconv.Quote(string(f)))
		}
		missing := "timestamp"
		if ts >= 0 {
			missing = "value"
		}
		return 0, 0, fmt.Errorf("header has no %q column (want timestamp and value; got %s)", missing, strings.Join(names, ", "))
	}
	return ts, val, nil
}

// appendField appends a CSV field, quoted only if it has to be.
func appendField(dst, f []byte) []byte {
	if bytes.IndexAny(f, ",\"\r\n") < 0 {
		return append(dst, f...)
	}
	dst = append(dst, '"')
	for _, c := range f {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// File replays the file in into out (parent directories are created). The
// output is written to a temporary file and renamed into place only when
// the whole input was read, so a malformed input leaves no partial output.
func File(in, out string, cfg baseline.Config) (Result, error) {
	f, err := os.Open(in)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return Result{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	res, err := Replay(f, tmp, cfg)
	if err != nil {
		tmp.Close()
		var le *LineError
		if errors.As(err, &le) {
			le.File = in
			return res, le
		}
		return res, fmt.Errorf("%s: %w", in, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return res, err
	}
	if err := tmp.Close(); err != nil {
		return res, err
	}
	return res, os.Rename(tmp.Name(), out)
}

// FileResult is the outcome of one file of a directory run.
type FileResult struct {
	// Path is the input's path relative to the input directory.
	Path string
	Result
	Err error
}

// DirOptions configure Dir.
type DirOptions struct {
	Config baseline.Config
	// Workers is the number of files replayed at once (0: GOMAXPROCS).
	Workers int
	// Progress, if set, is called after each file (from any goroutine,
	// one call at a time) with files done, files in total and rows so far.
	Progress func(done, total int, rows int64)
}

// Dir replays every *.csv file under inDir (recursively) into the same
// relative path under outDir, several files at once. A file that fails
// does not stop the others: each outcome is in the returned slice (sorted
// by path), and the error is non-nil only when the run itself could not
// proceed (unreadable input directory, cancelled context).
func Dir(ctx context.Context, inDir, outDir string, opts DirOptions) ([]FileResult, error) {
	files, err := csvFiles(inDir, outDir)
	if err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([]FileResult, len(files))
	var (
		next  atomic.Int64
		rows  atomic.Int64
		done  atomic.Int64
		mu    sync.Mutex
		wg    sync.WaitGroup
		total = len(files)
	)
	for range min(workers, max(total, 1)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= total || ctx.Err() != nil {
					return
				}
				rel := files[i]
				res, err := File(filepath.Join(inDir, rel), filepath.Join(outDir, rel), opts.Config)
				results[i] = FileResult{Path: rel, Result: res, Err: err}
				r := rows.Add(int64(res.Rows))
				n := int(done.Add(1))
				if opts.Progress != nil {
					mu.Lock()
					opts.Progress(n, total, r)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return results, err
	}
	return results, nil
}

// csvFiles lists the *.csv files under dir as sorted relative paths,
// skipping anything inside outDir (which may be nested in dir).
func csvFiles(dir, outDir string) ([]string, error) {
	absOut, _ := filepath.Abs(outDir)
	var out []string
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if abs, _ := filepath.Abs(p); e.IsDir() && abs == absOut && p != dir {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.EqualFold(filepath.Ext(p), ".csv") {
			return nil
		}
		if e.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				return nil
			}
		} else if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	slices.Sort(out)
	return out, nil
}
