package prom

import (
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// AlertCount is how many of the agent's alerts of one name are in one state.
type AlertCount struct {
	// Name is the alert name, e.g. KubeAPILatencyDrift; State is pending or
	// firing.
	Name, State string
	Count       int
}

// AlertSource counts the agent's alerts at scrape time.
type AlertSource interface {
	AlertCounts() []AlertCount
}

// AlertSourceFunc adapts a function to AlertSource.
type AlertSourceFunc func() []AlertCount

// AlertCounts implements AlertSource.
func (f AlertSourceFunc) AlertCounts() []AlertCount { return f() }

// Finding is an active finding: advice derived from what the agent measured.
type Finding struct {
	// ID is stable and bounded, e.g. client_throttling; Severity is info,
	// warning or critical.
	ID, Severity string
}

// FindingSource lists the active findings at scrape time.
type FindingSource interface {
	ActiveFindings() []Finding
}

// FindingSourceFunc adapts a function to FindingSource.
type FindingSourceFunc func() []Finding

// ActiveFindings implements FindingSource.
func (f FindingSourceFunc) ActiveFindings() []Finding { return f() }

// AlertsCollector exports kubepulse_alerts{alertname,state} (the agent's own
// alerts, counted like Prometheus' ALERTS series) and
// kubepulse_findings{finding,severity} (1 while a finding holds).
type AlertsCollector struct {
	alerts   AlertSource
	findings FindingSource
	known    []string
	count    *prometheus.Desc
	finding  *prometheus.Desc
}

// NewAlertsCollector returns a collector of alerts and findings; either
// source may be nil. Every name in known is exported with a count of 0 in
// states pending and firing when the source has none, so that
// `kubepulse_alerts{state="firing"} > 0` and rate-like functions see a
// series from the start.
func NewAlertsCollector(alerts AlertSource, findings FindingSource, known ...string) *AlertsCollector {
	return &AlertsCollector{
		alerts:   alerts,
		findings: findings,
		known:    known,
		count: prometheus.NewDesc("kubepulse_alerts",
			"Alerts this agent holds, by alert name and state (pending: above its baseline, not yet for long enough; firing: sent to Alertmanager).",
			[]string{"alertname", "state"}, nil),
		finding: prometheus.NewDesc("kubepulse_findings",
			"1 while a finding (advice such as client_throttling or low_connection_reuse) holds; the status page says why, with the numbers.",
			[]string{"finding", "severity"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *AlertsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.finding
}

// Collect implements prometheus.Collector.
func (c *AlertsCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ name, state string }
	counts := map[key]int{}
	for _, n := range c.known {
		counts[key{n, StatePending}] = 0
		counts[key{n, StateFiring}] = 0
	}
	if c.alerts != nil {
		for _, a := range c.alerts.AlertCounts() {
			counts[key{a.Name, a.State}] += a.Count
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n), k.name, k.state)
	}
	if c.findings == nil {
		return
	}
	seen := map[Finding]bool{}
	for _, f := range c.findings.ActiveFindings() {
		if !seen[f] {
			seen[f] = true
			ch <- prometheus.MustNewConstMetric(c.finding, prometheus.GaugeValue, 1, f.ID, f.Severity)
		}
	}
}

// AlertmanagerStats are one Alertmanager replica's counters, the fields of
// exporters/alertmanager.ReplicaStats that are metrics.
type AlertmanagerStats struct {
	// URL is the replica's API URL. Credentials or a query in it are
	// removed before it becomes a label.
	URL           string
	QueueLength   int
	QueueCapacity int
	Sent          uint64 // alerts Alertmanager accepted
	Dropped       uint64 // alerts given up: queue full, rejected, left at shutdown
	SendErrors    uint64 // failed POSTs
	LastSuccess   time.Time
}

// AlertmanagerSource returns every replica's counters at scrape time.
type AlertmanagerSource interface {
	AlertmanagerStats() []AlertmanagerStats
}

// AlertmanagerSourceFunc adapts a function to AlertmanagerSource.
type AlertmanagerSourceFunc func() []AlertmanagerStats

// AlertmanagerStats implements AlertmanagerSource.
func (f AlertmanagerSourceFunc) AlertmanagerStats() []AlertmanagerStats { return f() }

// AlertmanagerCollector exports the Alertmanager client's per-replica
// metrics (url label), named as docs/alerts.md documents them:
//
//	kubepulse_alertmanager_queue_length, _queue_capacity, _alerts_sent_total,
//	_alerts_dropped_total, _send_errors_total, _last_success_timestamp_seconds
//
// The last success is absent until the first accepted POST.
type AlertmanagerCollector struct {
	src                                     AlertmanagerSource
	qlen, qcap, sent, dropped, errs, lastOK *prometheus.Desc
}

// NewAlertmanagerCollector returns a collector of src's counters.
func NewAlertmanagerCollector(src AlertmanagerSource) *AlertmanagerCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("kubepulse_alertmanager_"+name, help, []string{"url"}, nil)
	}
	return &AlertmanagerCollector{
		src:     src,
		qlen:    d("queue_length", "Alerts waiting to be sent to this Alertmanager replica."),
		qcap:    d("queue_capacity", "The most alerts that can wait for this Alertmanager replica; beyond it the oldest are dropped."),
		sent:    d("alerts_sent_total", "Alerts this Alertmanager replica accepted."),
		dropped: d("alerts_dropped_total", "Alerts given up for this Alertmanager replica: queue full (oldest first), rejected, or still queued at shutdown."),
		errs:    d("send_errors_total", "POSTs to this Alertmanager replica that failed (each may be retried)."),
		lastOK: d("last_success_timestamp_seconds",
			"When this Alertmanager replica last accepted alerts, in seconds since the epoch; absent until the first success."),
	}
}

// Describe implements prometheus.Collector.
func (c *AlertmanagerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.qlen, c.qcap, c.sent, c.dropped, c.errs, c.lastOK} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *AlertmanagerCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, s := range c.src.AlertmanagerStats() {
		u := safeURL(s.URL)
		if seen[u] {
			continue // the same replica twice, e.g. with and without credentials
		}
		seen[u] = true
		ch <- prometheus.MustNewConstMetric(c.qlen, prometheus.GaugeValue, float64(s.QueueLength), u)
		ch <- prometheus.MustNewConstMetric(c.qcap, prometheus.GaugeValue, float64(s.QueueCapacity), u)
		ch <- prometheus.MustNewConstMetric(c.sent, prometheus.CounterValue, float64(s.Sent), u)
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.Dropped), u)
		ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.SendErrors), u)
		if !s.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lastOK, prometheus.GaugeValue, unixSeconds(s.LastSuccess), u)
		}
	}
}

// safeURL is raw without user info, query or fragment: a label value must
// never carry a credential, even if a caller forgot to redact it.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// OTLPStats are the trace exporter's counters, the fields of
// exporters/otlp.Stats.
type OTLPStats struct {
	SpansExported uint64 // accepted by the receiver
	SpansFailed   uint64 // in an export that failed
	SpansDropped  uint64 // never sent: queue full, or shutting down
	ExportErrors  uint64 // failed export calls
	QueueLength   int    // spans held now
	QueueCapacity int    // the bound on QueueLength
}

// OTLPSource returns the trace exporter's counters at scrape time.
type OTLPSource interface {
	OTLPStats() OTLPStats
}

// OTLPSourceFunc adapts a function to OTLPSource.
type OTLPSourceFunc func() OTLPStats

// OTLPStats implements OTLPSource.
func (f OTLPSourceFunc) OTLPStats() OTLPStats { return f() }

// OTLPCollector exports the trace exporter's counters:
//
//	kubepulse_otlp_spans_exported_total, _spans_failed_total, _spans_dropped_total,
//	_export_errors_total, _queue_length, _queue_capacity
type OTLPCollector struct {
	src                                         OTLPSource
	exported, failed, dropped, errs, qlen, qcap *prometheus.Desc
}

// NewOTLPCollector returns a collector of src's counters.
func NewOTLPCollector(src OTLPSource) *OTLPCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("kubepulse_otlp_"+name, help, nil, nil)
	}
	return &OTLPCollector{
		src:      src,
		exported: d("spans_exported_total", "Spans the OTLP receiver accepted."),
		failed:   d("spans_failed_total", "Spans in OTLP exports that failed (receiver down, timeout, rejected)."),
		dropped:  d("spans_dropped_total", "Spans never sent: the export queue was full, or shutdown had begun."),
		errs:     d("export_errors_total", "OTLP export calls that failed."),
		qlen:     d("queue_length", "Spans held for export now: queued, being batched or exported."),
		qcap:     d("queue_capacity", "The most spans held for export; beyond it new spans are dropped."),
	}
}

// Describe implements prometheus.Collector.
func (c *OTLPCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.exported, c.failed, c.dropped, c.errs, c.qlen, c.qcap} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *OTLPCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.OTLPStats()
	ch <- prometheus.MustNewConstMetric(c.exported, prometheus.CounterValue, float64(s.SpansExported))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(s.SpansFailed))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.SpansDropped))
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.ExportErrors))
	ch <- prometheus.MustNewConstMetric(c.qlen, prometheus.GaugeValue, float64(s.QueueLength))
	ch <- prometheus.MustNewConstMetric(c.qcap, prometheus.GaugeValue, float64(s.QueueCapacity))
}
