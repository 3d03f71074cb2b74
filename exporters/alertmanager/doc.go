// Package alertmanager pushes kubepulse's alerts to Prometheus Alertmanager
// through its API v2 (POST <url>/api/v2/alerts), the way Prometheus' own
// notifier does.
//
// # Delivery
//
// Alertmanager replicas do not gossip alerts to each other, so every replica
// must get every alert. The Client keeps one bounded queue and one send loop per
// replica: a dead or hanging replica only fills its own queue, never delays the
// others, and never blocks the caller. When a queue is full the oldest queued
// alert is dropped and counted (newer state wins). Alerts leave in batches of at
// most Options.BatchSize, each POST bounded by Options.Timeout. A batch that
// fails for a reason that may pass (network error, 5xx, 429) goes back to the
// front of its queue and is retried with exponential backoff capped at
// min(30s, resend interval); a batch Alertmanager rejects (other 4xx) is dropped
// and counted.
//
// # Resend schedule
//
// The caller tells the Client the state of an alert with Firing and Resolved;
// both return at once. The Client owns the schedule:
//
//   - a firing alert is sent at once, then re-sent every Options.ResendInterval
//     with endsAt = now + 4 × ResendInterval, so that Alertmanager resolves it
//     by itself if kubepulse dies;
//   - a resolved alert is sent at once with endsAt = the time it resolved, then
//     re-sent every ResendInterval for Options.ResolvedResendWindow (so a
//     replica that was down still learns it ended), then forgotten.
//
// Pending and learning alerts (a detector still warming up, or a condition not
// yet held long enough) are never sent: the caller passes only firing and
// resolved alerts. A replica that appears at runtime (SetURLs, e.g. from
// Kubernetes discovery in package k8sdiscovery) gets every firing and recently
// resolved alert immediately.
//
// The package depends on the standard library only (and k8s.io/utils/clock, so
// tests can run hours of resends in microseconds). Stats exposes per-replica
// counters for the agent to export as metrics.
package alertmanager
