package prom

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace"

	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
)

var (
	limiter = classify.NewLimiter(0)
	t0      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

// obs builds an Observation the way the transport would.
func obs(method, path, query string, status int, total time.Duration) instrument.Observation {
	c := classify.Parse(method, path, query)
	o := instrument.Observation{Class: c, Labels: limiter.Labels(c), LongRunning: c.LongRunning,
		Start: t0, Total: total, StatusCode: status, GotConn: true, Protocol: instrument.ProtoHTTP2}
	if status != 0 {
		o.FirstByte = total * 3 / 4
		o.Phases[instrument.PhaseConnWait] = total / 4
		o.Phases[instrument.PhaseServer] = total / 2
		o.Phases[instrument.PhaseTransfer] = total / 4
	}
	return o
}

func TestRecorderExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := NewRecorder(reg)

	get := obs("GET", "/api/v1/namespaces/a/pods/p", "", 200, 4*time.Millisecond)
	get.ConnReused = true
	r.Report(get)
	r.Report(get)
	fail := obs("GET", "/api/v1/namespaces/a/pods/p", "", 503, 2*time.Millisecond)
	fail.Error = instrument.ErrServer
	r.Report(fail)
	refused := obs("LIST", "/apis/apps/v1/deployments", "", 0, time.Millisecond)
	refused.Class.Verb, refused.Labels = classify.VerbList, limiter.Labels(classify.Parse("GET", "/apis/apps/v1/deployments", ""))
	refused.GotConn, refused.Error = false, instrument.ErrConnRefused
	r.Report(refused)
	watch := obs("GET", "/api/v1/pods", "watch=true", 200, 5*time.Minute)
	r.Report(watch)
	r.ReportRateLimiterWait(get.Labels, 250*time.Millisecond)
	r.ReportRetry("GET", "429")

	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP kubepulse_requests_total Kubernetes API requests by status code (<error> when no response arrived), long-running ones included.
# TYPE kubepulse_requests_total counter
kubepulse_requests_total{code="200",resource="pods",verb="get"} 2
kubepulse_requests_total{code="200",resource="pods",verb="watch"} 1
kubepulse_requests_total{code="503",resource="pods",verb="get"} 1
kubepulse_requests_total{code="<error>",resource="deployments.apps",verb="list"} 1
# HELP kubepulse_request_errors_total Kubernetes API requests that failed, by reason: canceled, timeout, dns, connection_refused, reset, eof, tls, network, http_auth, http_429, http_5xx, other.
# TYPE kubepulse_request_errors_total counter
kubepulse_request_errors_total{reason="connection_refused",resource="deployments.apps",verb="list"} 1
kubepulse_request_errors_total{reason="http_5xx",resource="pods",verb="get"} 1
# HELP kubepulse_connections_total Requests by whether their connection was reused from the pool (false: a new connection was made).
# TYPE kubepulse_connections_total counter
kubepulse_connections_total{reused="false"} 2
kubepulse_connections_total{reused="true"} 2
# HELP kubepulse_client_retries_total Requests client-go sent again, by HTTP method and the status of the retried attempt.
# TYPE kubepulse_client_retries_total counter
kubepulse_client_retries_total{code="429",method="GET"} 1
`), "kubepulse_requests_total", "kubepulse_request_errors_total", "kubepulse_connections_total", "kubepulse_client_retries_total")
	if err != nil {
		t.Error(err)
	}

	mfs := gather(t, reg)
	dur := series(mfs, "kubepulse_request_duration_seconds")
	if len(dur) != 3 { // get 200, get 503, list <error>; never the watch
		t.Fatalf("%d duration series, want 3: %v", len(dur), dur)
	}
	h := find(dur, "code", "200").GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 0.008 {
		t.Errorf("get 200: count %d sum %v", h.GetSampleCount(), h.GetSampleSum())
	}
	if h.GetSchema() == 0 && h.GetZeroThreshold() == 0 {
		t.Error("native histogram not enabled")
	}
	if le := h.GetBucket()[0].GetUpperBound(); le != 0.0001 {
		t.Errorf("first classic bucket %v, want 100µs", le)
	}
	phases := series(mfs, "kubepulse_request_phase_seconds")
	var names []string
	for _, m := range phases {
		names = append(names, label(m, "phase")+"="+itoa(m.GetHistogram().GetSampleCount()))
	}
	// 3 responses of get pods; dns/connect/tls did not happen and are left
	// out; the refused list got no response and has no phases.
	if got := strings.Join(names, ","); got != "conn_wait=3,server=3,transfer=3" {
		t.Errorf("phase series %s", got)
	}
	lr := series(mfs, "kubepulse_longrunning_duration_seconds")
	if len(lr) != 1 || label(lr[0], "verb") != "watch" || lr[0].GetHistogram().GetSampleSum() != 300 {
		t.Errorf("long-running duration %v", lr)
	}
	if f := series(mfs, "kubepulse_longrunning_first_byte_seconds"); len(f) != 1 || f[0].GetHistogram().GetSampleSum() != 225 {
		t.Errorf("long-running first byte %v", f)
	}
	if rl := series(mfs, "kubepulse_client_ratelimiter_wait_seconds"); len(rl) != 1 || rl[0].GetHistogram().GetSampleSum() != 0.25 || label(rl[0], "resource") != "pods" {
		t.Errorf("rate limiter wait %v", rl)
	}
}

func TestRecorderExemplars(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := NewRecorder(reg)
	o := obs("GET", "/api/v1/namespaces/a/pods/p", "", 200, 3*time.Millisecond)
	o.Sampled, o.TraceID = true, trace.TraceID{0xab, 1}
	r.Report(o)
	first := o.TraceID.String()
	o.TraceID = trace.TraceID{0xcd, 2}
	o.Start = o.Start.Add(100 * time.Millisecond) // within DefaultExemplarInterval: no new exemplar
	r.Report(o)
	o.TraceID, o.Sampled = trace.TraceID{0xef, 3}, false // not sampled: never an exemplar
	o.Start = o.Start.Add(time.Hour)
	r.Report(o)

	h := find(series(gather(t, reg), "kubepulse_request_duration_seconds"), "code", "200").GetHistogram()
	var ids []string
	for _, b := range h.GetBucket() {
		if e := b.GetExemplar(); e != nil {
			ids = append(ids, e.GetLabel()[0].GetName()+"="+e.GetLabel()[0].GetValue())
		}
	}
	if len(ids) != 1 || ids[0] != "trace_id="+first {
		t.Errorf("exemplars %v, want one with trace_id=%s", ids, first)
	}
	if h.GetSampleCount() != 3 {
		t.Errorf("count %d", h.GetSampleCount())
	}
}

func TestRecordersShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewRecorder(reg), NewRecorder(reg)
	o := obs("GET", "/api/v1/nodes", "", 200, time.Millisecond)
	a.Report(o)
	b.Report(o)
	if got := testutil.ToFloat64(b.requests.WithLabelValues("list", "nodes", "200")); got != 2 {
		t.Errorf("shared counter = %v, want 2", got)
	}
}

func TestReportDoesNotAllocate(t *testing.T) {
	r := NewRecorder(prometheus.NewRegistry())
	o := obs("GET", "/apis/apps/v1/namespaces/a/deployments", "", 200, time.Millisecond)
	r.Report(o)
	if n := testing.AllocsPerRun(100, func() { r.Report(o) }); n != 0 {
		t.Errorf("Report allocates %v times, want 0", n)
	}
}

func BenchmarkRecorderReport(b *testing.B) {
	r := NewRecorder(prometheus.NewRegistry())
	o := obs("GET", "/apis/apps/v1/namespaces/a/deployments", "", 200, time.Millisecond)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.Report(o)
		}
	})
}

func gather(t *testing.T, reg *prometheus.Registry) []*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

func series(mfs []*dto.MetricFamily, name string) []*dto.Metric {
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func find(ms []*dto.Metric, name, value string) *dto.Metric {
	for _, m := range ms {
		if label(m, name) == value {
			return m
		}
	}
	return &dto.Metric{}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
