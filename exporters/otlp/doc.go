// Package otlp builds kubepulse's OpenTelemetry TracerProvider: spans go to an
// OTLP receiver over gRPC or HTTP (http/protobuf), configured by Options and
// the standard OTEL_* environment variables, through a bounded batch
// processor whose drops are counted, and are flushed on Shutdown within a
// deadline.
//
// # Configuration
//
// Options win over the environment wherever both are given; per-signal
// variables (OTEL_EXPORTER_OTLP_TRACES_*) win over generic ones
// (OTEL_EXPORTER_OTLP_*). Read:
//
//   - OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none (or otlp): tracing off/on.
//     With neither an endpoint nor OTEL_TRACES_EXPORTER=otlp, tracing is off.
//   - OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT, _PROTOCOL (grpc | http/protobuf,
//     default http/protobuf), _HEADERS, _CERTIFICATE, _CLIENT_CERTIFICATE,
//     _CLIENT_KEY, _INSECURE, _TIMEOUT, _COMPRESSION: applied by the OTel
//     exporters themselves; this package validates them first, so that a
//     malformed value is an error at New naming the variable instead of a
//     setting the exporter silently skips.
//   - OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG: default
//     parentbased_traceidratio with ratio 1 (OTEL_TRACES_SAMPLER_ARG alone
//     lowers it).
//   - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES: over the defaults
//     service.name=kubepulse and service.version; k8s.node.name,
//     k8s.pod.name and k8s.namespace.name come from Options.
//   - OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
//     OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT: the batch processor.
//
// # Never blocking, never silent
//
// Ending a span never waits: when MaxQueueSize spans are held (queued,
// batched or being exported) — for example while the receiver is down — new
// spans are dropped and counted (Stats). Failed exports are counted and logged
// once per outage, not per batch. gRPC reconnects at least every 5 s, so spans
// flow again soon after the receiver returns.
//
// This package does not import client_golang: the agent exports Stats as
// metrics.
package otlp
