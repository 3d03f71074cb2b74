// Package prom is kubepulse's Prometheus side: the Recorder that turns
// request Observations into histograms, collectors that read the agent's
// state at scrape time, and the HTTP server of the agent's port.
//
// # Registry
//
// NewRegistry returns a registry of our own — never the global default —
// with the Go runtime and process collectors. Register on it:
//
//   - NewRecorder: kubepulse_request_duration_seconds and the other request
//     metrics (classic and native histograms, exemplars with the trace ID);
//   - NewBaselineCollector: kubepulse_baseline_seconds{verb,resource,scope,phase,probe,stat},
//     kubepulse_anomaly_score, kubepulse_baseline_samples, kubepulse_baseline_state;
//   - NewStoreCollector: kubepulse_baseline_keys, _keys_max, _overflow_total,
//     _evictions_total, kubepulse_checkpoint_last_success_timestamp_seconds,
//     kubepulse_checkpoint_errors_total;
//   - NewAlertsCollector: kubepulse_alerts{alertname,state}, kubepulse_findings{finding,severity};
//   - NewAlertmanagerCollector: kubepulse_alertmanager_*{url};
//   - NewOTLPCollector: kubepulse_otlp_*;
//   - NewAgentMetrics: kubepulse_probes_total, kubepulse_probe_*, kubepulse_watch_*.
//
// The collectors take small source interfaces (BaselineSource, StoreSource,
// ...), each with a Func adapter, so this package depends on neither the
// baseline package nor the other exporters: the agent adapts its parts.
// Sources are called on every scrape and must be cheap and safe for
// concurrent use. Label values are bounded by construction: no object
// names, no URLs but Alertmanager's (stripped of credentials and query).
//
// Ages are PromQL's job, not the exporter's: a timestamp stays right
// between scrapes and while the agent hangs.
//
//	time() - kubepulse_checkpoint_last_success_timestamp_seconds > 3 * 300
//	time() - kubepulse_alertmanager_last_success_timestamp_seconds > 300
//	count by (state) (kubepulse_baseline_state)
//	kubepulse_probe_budget_qps / kubepulse_probe_cluster_nodes   # this agent's share
//
// # Serving
//
// NewServer serves, on one port:
//
//	/metrics         negotiated: text 0.0.4, OpenMetrics 1.0 (exemplars) or
//	                 protobuf (native histograms, exemplars); bounded in-flight
//	/healthz         liveness: ServerOptions.Live (a stuck loop), 200 or 503 + reason
//	/readyz          readiness: ServerOptions.Ready (e.g. the API server unreachable)
//	/debug/pprof/    with ServerOptions.Pprof only
//	Mounts           e.g. the status page at "GET /{$}" and "GET /api/v1/status"
//
// Run shuts the server down gracefully when its context ends, within
// ServerOptions.ShutdownTimeout. The http.Server has read-header, read,
// write and idle timeouts.
//
// # Secure serving
//
// With ServerOptions.TLS the port speaks HTTPS: the certificate files are
// reread every TLSOptions.ReloadInterval and a changed pair is served from the
// next handshake on (a half-written pair keeps the old one); without files a
// self-signed certificate is generated at start.
//
// With ServerOptions.Auth, /metrics, /debug/pprof and every mount not marked
// Public answer only requests whose bearer token the API server accepts
// (TokenReview) for a user allowed to get the request's path as a
// non-resource URL (SubjectAccessReview) — as controller-runtime's metrics
// filter does, written here on client-go alone. 401 without a valid token,
// 403 without the permission, 503 if the API server cannot be asked.
// /healthz and /readyz stay open: the kubelet probes without credentials.
// AuthOptions lists the RBAC both sides need. Decisions are cached for a
// minute (denials for 10 s) in bounded LRU caches keyed by a salted SHA-256
// of the token; tokens are never logged, stored or passed to the handlers.
package prom
