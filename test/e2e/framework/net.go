package framework

import (
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// FreeAddr returns a loopback address (127.0.0.1:port) that was free a moment
// ago, for a process that must be told its listen address up front.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("free port: %v", err)
	}
	return addr
}

// WaitListening waits until something accepts TCP connections at addr.
func WaitListening(t testing.TB, addr string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		_ = c.Close()
		return true, ""
	})
}

// Metrics is one scrape of a Prometheus text endpoint, by family name.
type Metrics map[string]*dto.MetricFamily

// Scrape GETs a /metrics URL and parses the text exposition.
func Scrape(url string) (Metrics, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	return fams, nil
}

// Sum adds up the values of a family's series whose labels include every
// pair of match (counters, gauges, untyped; for histograms and summaries,
// their sample counts). ok is false when no series matched.
func (m Metrics) Sum(name string, match map[string]string) (sum float64, ok bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
next:
	for _, s := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range match {
			if labels[k] != v {
				continue next
			}
		}
		ok = true
		switch {
		case s.Counter != nil:
			sum += s.GetCounter().GetValue()
		case s.Gauge != nil:
			sum += s.GetGauge().GetValue()
		case s.Histogram != nil:
			sum += float64(s.GetHistogram().GetSampleCount())
		case s.Summary != nil:
			sum += float64(s.GetSummary().GetSampleCount())
		case s.Untyped != nil:
			sum += s.GetUntyped().GetValue()
		}
	}
	return sum, ok
}

// Series lists a family's series as `{a="x", b="y"} value` lines, sorted, for
// failure messages.
func (m Metrics) Series(name string) string {
	f := m[name]
	if f == nil {
		return name + ": absent"
	}
	var lines []string
	for _, s := range f.GetMetric() {
		var ls []string
		for _, l := range s.GetLabel() {
			ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
		}
		var v float64
		switch {
		case s.Counter != nil:
			v = s.GetCounter().GetValue()
		case s.Gauge != nil:
			v = s.GetGauge().GetValue()
		case s.Histogram != nil:
			v = float64(s.GetHistogram().GetSampleCount())
		}
		lines = append(lines, fmt.Sprintf("%s{%s} %g", name, strings.Join(ls, ","), v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
