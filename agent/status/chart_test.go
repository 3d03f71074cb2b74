package status

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pathPoints returns the subpaths of path data written by appendCmd (M, L,
// Z) as lists of points; the arguments of arcs (a) are skipped.
func pathPoints(t testing.TB, d string) [][][2]float64 {
	t.Helper()
	var (
		subs [][][2]float64
		nums []float64
		cmd  byte
	)
	flush := func() {
		if cmd == 'M' || cmd == 'L' {
			if len(nums) != 2 {
				t.Fatalf("path data %q: %c with %d numbers", d, cmd, len(nums))
			}
			if cmd == 'M' {
				subs = append(subs, nil)
			}
			if len(subs) == 0 {
				t.Fatalf("path data %q starts without M", d)
			}
			subs[len(subs)-1] = append(subs[len(subs)-1], [2]float64{nums[0], nums[1]})
		}
		nums = nums[:0]
	}
	for i := 0; i < len(d); {
		switch c := d[i]; {
		case c == ' ':
			i++
		case c == 'M' || c == 'L' || c == 'Z' || c == 'a':
			flush()
			cmd = c
			i++
		default:
			j := i
			for j < len(d) && strings.IndexByte("0123456789.-+e", d[j]) >= 0 {
				j++
			}
			n, err := strconv.ParseFloat(d[i:j], 64)
			if err != nil {
				t.Fatalf("path data %q at %d: %v", d, i, err)
			}
			nums = append(nums, n)
			i = j
		}
	}
	flush()
	return subs
}

// checkGeometry asserts what every chart must satisfy, whatever its data.
func checkGeometry(t *testing.T, c *chart) {
	t.Helper()
	inPlot := func(what string, p [2]float64) {
		if p[0] < c.L-0.05 || p[0] > c.R+0.05 || p[1] < c.T-0.05 || p[1] > c.B+0.05 {
			t.Errorf("%s point %v outside the plot area [%v,%v]×[%v,%v]", what, p, c.L, c.R, c.T, c.B)
		}
	}
	for _, sub := range pathPoints(t, c.Value) {
		for _, p := range sub {
			inPlot("value", p)
		}
	}
	for _, sub := range pathPoints(t, c.Band) {
		if len(sub)%2 != 0 || len(sub) < 4 {
			t.Fatalf("band subpath has %d points, want an even number ≥ 4: %v", len(sub), sub)
		}
		n := len(sub) / 2
		for i := range n {
			up, lo := sub[i], sub[len(sub)-1-i]
			inPlot("band", up)
			inPlot("band", lo)
			if up[0] != lo[0] {
				t.Errorf("band point %d: upper at x=%v, lower at x=%v", i, up[0], lo[0])
			}
			if up[1] > lo[1] { // SVG y grows downwards: upper must not be below lower
				t.Errorf("band inverted at x=%v: upper y=%v below lower y=%v", up[0], up[1], lo[1])
			}
		}
	}
	for _, s := range c.Firing {
		if s.X < c.L-0.05 || s.X+s.W > c.R+2.05 || s.W <= 0 {
			t.Errorf("firing span %+v outside [%v,%v]", s, c.L, c.R)
		}
	}
	for _, tk := range c.YTicks {
		if tk.Pos < c.T-0.05 || tk.Pos > c.B+0.05 {
			t.Errorf("y tick %+v outside [%v,%v]", tk, c.T, c.B)
		}
	}
	for _, tk := range c.XTicks {
		if tk.Pos < c.L-0.05 || tk.Pos > c.R+0.05 {
			t.Errorf("x tick %+v outside [%v,%v]", tk, c.L, c.R)
		}
	}
	if c.SLO != nil && (c.SLO.Y < c.T-0.05 || c.SLO.Y > c.B+0.05) {
		t.Errorf("SLO line at y=%v outside the plot", c.SLO.Y)
	}
	if c.Last != nil {
		inPlot("last", [2]float64{c.Last.X, c.Last.Y})
	}
	for _, s := range []string{c.Band, c.Value, c.Over, c.Title} {
		if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") {
			t.Errorf("chart text contains NaN or Inf: %q", s)
		}
	}
}

func pts(vals ...float64) []Point {
	out := make([]Point, 0, len(vals)/3)
	for i := 0; i+2 < len(vals); i += 3 {
		out = append(out, Point{T: t0.Add(time.Duration(i/3) * 10 * time.Second), Value: vals[i], Lower: vals[i+1], Upper: vals[i+2]})
	}
	return out
}

func TestChartGeometry(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name  string
		in    chartInput
		check func(t *testing.T, c *chart)
	}{
		{"empty", chartInput{}, func(t *testing.T, c *chart) {
			if c.Empty == "" || c.Value != "" || c.Band != "" {
				t.Errorf("empty chart: %+v", c)
			}
		}},
		{"one point", chartInput{History: pts(0.01, 0.005, 0.02)}, func(t *testing.T, c *chart) {
			if c.Last == nil || c.Band != "" || !strings.HasPrefix(c.Value, "M") {
				t.Errorf("one point: last %v band %q value %q", c.Last, c.Band, c.Value)
			}
		}},
		{"all unknown", chartInput{History: pts(nan, nan, nan, inf, -inf, inf, -1, 0, 0)}, func(t *testing.T, c *chart) {
			if c.Empty == "" {
				t.Errorf("no known value, want the empty message; got value %q band %q", c.Value, c.Band)
			}
		}},
		{"all zero", chartInput{History: pts(0, 0, 0, 0, 0, 0, 0, 0, 0)}, func(t *testing.T, c *chart) {
			if c.Empty != "" || c.Band != "" || strings.Count(c.Value, "L") != 2 {
				t.Errorf("zeros: value %q band %q", c.Value, c.Band)
			}
			if c.YTicks[len(c.YTicks)-1].Label != "1 ms" {
				t.Errorf("zeros: top tick %q, want 1 ms", c.YTicks[len(c.YTicks)-1].Label)
			}
		}},
		{"inverted band", chartInput{History: pts(0.01, 0.02, 0.005, 0.012, 0.021, 0.004)}, func(t *testing.T, c *chart) {
			if c.Band == "" {
				t.Error("an inverted band is swapped, not dropped")
			}
		}},
		{"gaps in values", chartInput{History: pts(0.01, 0.005, 0.02, nan, 0.005, 0.02, 0.011, 0.005, 0.02, 0.012, 0.005, 0.02)}, func(t *testing.T, c *chart) {
			if strings.Count(c.Value, "M") != 2 {
				t.Errorf("value %q: want the line broken once", c.Value)
			}
		}},
		{"gap in time", chartInput{History: append(pts(0.01, 0.005, 0.02, 0.01, 0.005, 0.02, 0.01, 0.005, 0.02, 0.01, 0.005, 0.02),
			Point{T: t0.Add(time.Hour), Value: 0.01, Lower: 0.005, Upper: 0.02}, Point{T: t0.Add(time.Hour + 10*time.Second), Value: 0.01, Lower: 0.005, Upper: 0.02})},
			func(t *testing.T, c *chart) {
				if strings.Count(c.Value, "M") != 2 || strings.Count(c.Band, "M") != 2 {
					t.Errorf("an hour without samples must break line and band: value %q band %q", c.Value, c.Band)
				}
			}},
		{"same time", chartInput{History: []Point{{T: t0, Value: 0.01}, {T: t0, Value: 0.02}}}, func(t *testing.T, c *chart) {
			if c.Value == "" {
				t.Error("no line")
			}
		}},
		{"unsorted", chartInput{History: []Point{{T: t0.Add(20 * time.Second), Value: 0.03}, {T: t0, Value: 0.01}, {T: t0.Add(10 * time.Second), Value: 0.02}}}, func(t *testing.T, c *chart) {
			sub := pathPoints(t, c.Value)[0]
			if !(sub[0][0] < sub[1][0] && sub[1][0] < sub[2][0]) || !(sub[0][1] > sub[2][1]) {
				t.Errorf("points not drawn in time order: %v", sub)
			}
		}},
		{"SLO in range", chartInput{History: pts(0.4, 0.2, 0.6, 0.5, 0.2, 0.6), SLO: 1}, func(t *testing.T, c *chart) {
			if c.SLO == nil || c.SLONote != "" || c.SLO.Label != "SLO 1 s" {
				t.Errorf("SLO line %+v note %q", c.SLO, c.SLONote)
			}
		}},
		{"SLO far above", chartInput{History: pts(0.004, 0.002, 0.006, 0.005, 0.002, 0.006), SLO: 1}, func(t *testing.T, c *chart) {
			if c.SLO != nil || c.SLONote != "SLO 1 s ↑" {
				t.Errorf("SLO line %+v note %q", c.SLO, c.SLONote)
			}
			if top := c.YTicks[len(c.YTicks)-1].Label; top != "6 ms" {
				t.Errorf("top tick %q: the data, not the SLO, sets the scale", top)
			}
		}},
		{"huge and tiny", chartInput{History: pts(math.MaxFloat64, 0, math.MaxFloat64, 1e-300, 0, 1e-300, 3e5, 1e5, 5e5)}, func(t *testing.T, c *chart) {
			if len(c.YTicks) > 10 {
				t.Errorf("%d y ticks", len(c.YTicks))
			}
		}},
		{"firing stretches", chartInput{History: pts(0.01, 0.005, 0.02, 0.05, 0.005, 0.02, 0.05, 0.005, 0.02, 0.01, 0.005, 0.02),
			Firing: []interval{{From: t0.Add(10 * time.Second), To: t0.Add(25 * time.Second)}, {From: t0.Add(-time.Hour)}, {From: t0.Add(time.Hour)}}},
			func(t *testing.T, c *chart) {
				if len(c.Firing) != 2 {
					t.Fatalf("%d firing spans, want 2 (one after the chart is dropped): %+v", len(c.Firing), c.Firing)
				}
				if c.Firing[1].X != c.L || c.Firing[1].X+c.Firing[1].W != c.R {
					t.Errorf("an open stretch from before the chart spans it all: %+v", c.Firing[1])
				}
				if n := strings.Count(c.Over, "M"); n != 2 {
					t.Errorf("%d markers above the band, want 2", n)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Name = "get nodes · tls"
			c := newChart(tt.in)
			checkGeometry(t, c)
			tt.check(t, c)
		})
	}
}

// Every fixture's charts pass the geometry checks, and every <svg> of every
// page is well-formed XML (a browser would drop a broken one).
func TestFixtureCharts(t *testing.T) {
	for _, fx := range append(fixtures, struct {
		name string
		snap func() Snapshot
	}{"many", func() Snapshot { return fixtureMany(200) }}) {
		t.Run(fx.name, func(t *testing.T) {
			s := fx.snap()
			for _, k := range s.Keys {
				checkGeometry(t, newChart(chartInput{Name: k.Key, History: k.History, SLO: k.SLO}))
			}
			var page bytes.Buffer
			if err := Render(&page, s); err != nil {
				t.Fatal(err)
			}
			checkSVGs(t, page.String())
		})
	}
}

func checkSVGs(t *testing.T, page string) {
	t.Helper()
	n := 0
	for rest := page; ; n++ {
		i := strings.Index(rest, "<svg ")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "</svg>")
		if j < 0 {
			t.Fatal("<svg> without </svg>")
		}
		svg := rest[i : i+j+len("</svg>")]
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("svg %d is not well-formed: %v\n%.500s", n, err, svg)
			}
		}
		rest = rest[i+j:]
	}
}

func TestYTicks(t *testing.T) {
	tests := []struct {
		max  float64
		want string
	}{
		{0.0169, "0 5 ms 10 ms 15 ms 20 ms"},
		{0.00087, "0 200 µs 400 µs 600 µs 800 µs 1 ms"},
		{1.3, "0 500 ms 1 s 1.5 s"},
		{0, "0 200 µs 400 µs 600 µs 800 µs 1 ms"},
		{42, "0 10 s 20 s 30 s 40 s 50 s"},
		{1e-9, "0 200 ns 400 ns 600 ns 800 ns 1 µs"},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range yTicks(axisTop(tt.max)) {
			got = append(got, tk.Label)
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("yTicks(axisTop(%v)) = %q, want %q", tt.max, s, tt.want)
		}
	}
}

func TestXTicks(t *testing.T) {
	x := func(time.Time) float64 { return (plotL + plotR) / 2 }
	tests := []struct {
		span time.Duration
		want string
	}{
		{20 * time.Minute, "03:00 03:05 03:10 03:15 03:20"},
		{19*time.Minute + 10*time.Second, "03:05 03:10 03:15 03:20"},
		{40 * time.Second, "03:19:20 03:19:30 03:19:40 03:19:50 03:20:00"},
		{3 * time.Hour, "01:00 02:00 03:00"},
		{10 * 24 * time.Hour, "Mar 5 Mar 8 Mar 11 Mar 14"},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range xTicks(t0.Add(-tt.span), t0, x) {
			got = append(got, tk.Label)
		}
		if len(got) > 6 {
			t.Errorf("span %v: %d labels", tt.span, len(got))
		}
		if s := strings.Join(got, " "); s != tt.want {
			t.Errorf("span %v: labels %q, want %q", tt.span, s, tt.want)
		}
	}
}

// FuzzChart draws charts from arbitrary numbers: the geometry holds and the
// SVG stays well-formed whatever the values.
func FuzzChart(f *testing.F) {
	f.Add(0.01, 0.005, 0.02, 0.011, 0.03, 0.004, 1.0, int64(10))
	f.Add(math.NaN(), math.Inf(1), -1.0, 0.0, 0.0, 0.0, 0.0, int64(0))
	f.Add(1e300, -1e300, 5e-324, 2.0, 1.0, 3.0, 1e-9, int64(-5))
	f.Fuzz(func(t *testing.T, v1, lo1, hi1, v2, lo2, hi2, slo float64, dt int64) {
		in := chartInput{Name: "fuzz", SLO: slo, History: []Point{
			{T: t0, Value: v1, Lower: lo1, Upper: hi1},
			{T: t0.Add(time.Duration(dt) * time.Second), Value: v2, Lower: lo2, Upper: hi2},
			{T: t0.Add(time.Duration(2*dt) * time.Second), Value: v1, Lower: lo2, Upper: hi1},
		}}
		c := newChart(in)
		checkGeometry(t, c)
		var page bytes.Buffer
		s := Snapshot{Now: t0, Keys: []Key{{Key: "k", State: "normal", History: in.History, SLO: slo, Current: v1, Lower: lo1, Upper: hi1}}}
		if err := Render(&page, s); err != nil {
			t.Fatal(err)
		}
		checkSVGs(t, page.String())
	})
}
