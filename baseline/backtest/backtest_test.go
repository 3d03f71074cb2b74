package backtest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubepulse/kubepulse/baseline"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestReplayGolden(t *testing.T) {
	in, err := os.ReadFile("testdata/series.csv")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := Replay(bytes.NewReader(in), &out, baseline.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Rows: 400, Alerts: 1, Duplicates: 1, Backward: 1, Missing: 1}
	if res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
	golden := "testdata/series.out.csv"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), g) {
		t.Fatalf("output differs from %s (run with -update after checking the change)", golden)
	}
	checkOutput(t, in, out.Bytes())
	// The alert comes within a few rows of the step at row 300.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i, l := range lines[1:] {
		if strings.HasSuffix(l, ",1") && (i < 300 || i > 305) {
			t.Errorf("alert on row %d, want just after 300", i)
		}
	}
}

// checkOutput asserts the output contract: header, one row per input row,
// timestamps and values verbatim, scores in [0, 1], alert 0 or 1.
func checkOutput(t *testing.T, in, out []byte) {
	t.Helper()
	ls := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if ls[0] != "timestamp,value,anomaly_score,alert" {
		t.Fatalf("header %q", ls[0])
	}
	r := newReader(bytes.NewReader(in))
	if err := r.record(); err != nil {
		t.Fatal(err)
	}
	tsCol, valCol, _ := columns(r.fields)
	n := 0
	for r.record() == nil {
		n++
		if n >= len(ls) {
			t.Fatalf("output has %d rows, input more", len(ls)-1)
		}
		o := newReader(strings.NewReader(ls[n]))
		if err := o.record(); err != nil || len(o.fields) != 4 {
			t.Fatalf("output row %d: %q", n, ls[n])
		}
		if got, want := string(o.fields[0]), string(bytes.TrimSpace(r.fields[tsCol])); got != want {
			t.Errorf("row %d timestamp %q, want %q", n, got, want)
		}
		if got, want := string(o.fields[1]), string(bytes.TrimSpace(r.fields[valCol])); got != want {
			t.Errorf("row %d value %q, want %q", n, got, want)
		}
		s, err := strconv.ParseFloat(string(o.fields[2]), 64)
		if err != nil || s < 0 || s > 1 || math.IsNaN(s) {
			t.Errorf("row %d score %q", n, o.fields[2])
		}
		if a := string(o.fields[3]); a != "0" && a != "1" {
			t.Errorf("row %d alert %q", n, a)
		}
	}
	if n != len(ls)-1 {
		t.Errorf("input has %d rows, output %d", n, len(ls)-1)
	}
}

func TestReplayMalformedInputNamesTheLine(t *testing.T) {
	cases := []struct {
		name, in, want string
		line           int
	}{
		{"empty", "", "empty file", 1},
		{"no value column", "timestamp,latency\n1,2\n", `header has no "value" column`, 1},
		{"no timestamp column", "time,value\n1,2\n", `header has no "timestamp" column`, 1},
		{"twice", "timestamp,value,value\n", `"value" twice`, 1},
		{"bad timestamp", "timestamp,value\n1,2\n\nyesterday,3\n", `timestamp "yesterday"`, 4},
		{"bad date", "timestamp,value\n2024-02-30 00:00:00,1\n", `timestamp "2024-02-30 00:00:00"`, 2},
		{"bad value", "timestamp,value\n1,2\n2,fast\n", `value "fast" is not a number`, 3},
		{"short row", "timestamp,value\n1,2\n3\n", "want at least 2 fields, got 1", 3},
		{"unclosed quote", "timestamp,value\n1,\"2\n", "quoted field not closed", 2},
		{"stray quote", "timestamp,value\n1,2\"3\n", `bare "`, 2},
		{"junk after quote", "timestamp,value\n1,\"2\"x\n", "after a closing quote", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Replay(strings.NewReader(c.in), &bytes.Buffer{}, baseline.DefaultConfig())
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("error %v, want a *LineError", err)
			}
			if le.Line != c.line || !strings.Contains(le.Error(), c.want) {
				t.Errorf("error %q at line %d, want %q at line %d", le.Error(), le.Line, c.want, c.line)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	ref := time.Date(2024, 3, 1, 12, 30, 15, 0, time.UTC).UnixNano()
	cases := []struct {
		in   string
		want int64
	}{
		{"2024-03-01 12:30:15", ref},
		{"2024-03-01T12:30:15Z", ref},
		{"2024-03-01T14:30:15+02:00", ref},
		{"2024-03-01T12:30:15.25Z", ref + 250e6},
		{"2024-03-01 12:30:15.000000001", ref + 1},
		{"2024-03-01T12:30:15", ref},
		{"2024-03-01 12:30", ref - 15e9},
		{"2024-03-01", time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()},
		{"2024-02-29 00:00:00", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).UnixNano()},
		{"1709296215", ref},
		{"1709296215.5", ref + 5e8},
		{"-1.5", -15e8},
		{"1", 1e9},
		{"1.709296215e9", ref},
		{"1709296215000", ref},       // milliseconds
		{"1709296215000000", ref},    // microseconds
		{"1709296215000000000", ref}, // nanoseconds
		{"1969-12-31 23:59:59", -1e9},
	}
	for _, c := range cases {
		got, err := parseTime([]byte(c.in))
		if err != nil || got != c.want {
			t.Errorf("parseTime(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "-", ".", "abc", "2024-13-01 00:00:00", "2024-03-01 25:00:00", "1e400", "NaN", "2024-03-01 12:30:15 UTC+1"} {
		if _, err := parseTime([]byte(bad)); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
}

func TestDirReplaysEveryFileAndReportsFailures(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	good, _ := os.ReadFile("testdata/series.csv")
	write := func(rel string, b []byte) {
		p := filepath.Join(in, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.csv", good)
	write("nested/deeper/b.CSV", good)
	write("nested/bad.csv", []byte("timestamp,value\n1,2\n2,x\n"))
	write("notes.txt", []byte("not a series"))
	var calls int
	rs, err := Dir(context.Background(), in, out, DirOptions{Config: baseline.DefaultConfig(), Workers: 2, Progress: func(done, total int, rows int64) {
		calls++
		if total != 3 || done > total {
			t.Errorf("progress %d/%d", done, total)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 || calls != 3 {
		t.Fatalf("%d results, %d progress calls", len(rs), calls)
	}
	for _, r := range rs {
		switch r.Path {
		case "a.csv", filepath.Join("nested", "deeper", "b.CSV"):
			if r.Err != nil || r.Rows != 400 {
				t.Errorf("%s: %+v", r.Path, r)
			}
			got, err := os.ReadFile(filepath.Join(out, r.Path))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := os.ReadFile("testdata/series.out.csv")
			if !bytes.Equal(got, want) {
				t.Errorf("%s: output differs from the golden file", r.Path)
			}
		case filepath.Join("nested", "bad.csv"):
			if r.Err == nil || !strings.Contains(r.Err.Error(), "bad.csv:3:") {
				t.Errorf("bad file error %v, want file:line", r.Err)
			}
			if _, err := os.Stat(filepath.Join(out, r.Path)); err == nil {
				t.Error("partial output left for a malformed file")
			}
		default:
			t.Errorf("unexpected file %s", r.Path)
		}
	}
}

func TestDirSkipsItsOwnOutputInsideTheInput(t *testing.T) {
	in := t.TempDir()
	good, _ := os.ReadFile("testdata/series.csv")
	os.WriteFile(filepath.Join(in, "a.csv"), good, 0o644)
	out := filepath.Join(in, "out")
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(out, "old.csv"), good, 0o644)
	rs, err := Dir(context.Background(), in, out, DirOptions{Config: baseline.DefaultConfig()})
	if err != nil || len(rs) != 1 || rs[0].Path != "a.csv" {
		t.Fatalf("results %+v, err %v", rs, err)
	}
}

// FuzzReplay: any input either fails with a *LineError or produces one
// well-formed output row per input row; it never panics.
func FuzzReplay(f *testing.F) {
	good, _ := os.ReadFile("testdata/series.csv")
	f.Add(good[:2000])
	f.Add([]byte("timestamp,value\n1,2\n"))
	f.Add([]byte("value,timestamp\r\n\"1\",\"2024-01-01 00:00:00\"\r\n"))
	f.Add([]byte("\"timestamp\",\"value\",x\n\"1\",\"2\",\"a\"\"b\nc\"\n"))
	f.Add([]byte("timestamp,value\n2024-01-01T00:00:00.5+01:00,nan\n1e3,-0\n"))
	cfg := baseline.DefaultConfig()
	cfg.Detector.MinSamples = 2
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		res, err := Replay(bytes.NewReader(in), &out, cfg)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 {
				t.Fatalf("error %v is not a *LineError with a line", err)
			}
			return
		}
		if n := strings.Count(out.String(), "\n"); n < res.Rows+1 {
			t.Fatalf("%d output lines for %d rows", n, res.Rows)
		}
		if res.Alerts > res.Rows || res.Missing > res.Rows {
			t.Fatalf("result %+v", res)
		}
		checkOutput(t, in, out.Bytes())
	})
}

func TestFileRejectsMissingInput(t *testing.T) {
	_, err := File(filepath.Join(t.TempDir(), "nope.csv"), filepath.Join(t.TempDir(), "o.csv"), baseline.DefaultConfig())
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v", err)
	}
}

func ExampleReplay() {
	in := "timestamp,value\n" +
		"2024-03-01 00:00:00,0.050\n" +
		"2024-03-01 00:00:10,0.052\n"
	var out strings.Builder
	res, err := Replay(strings.NewReader(in), &out, baseline.DefaultConfig())
	fmt.Print(out.String(), res.Rows, err)
	// Output:
	// timestamp,value,anomaly_score,alert
	// 2024-03-01 00:00:00,0.050,0,0
	// 2024-03-01 00:00:10,0.052,0,0
	// 2 <nil>
}
