package prom

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry of kubepulse's own, never the global
// default one (so a library user's process and tests stay separate), holding
// the Go runtime collector (go_*) and the process collector (process_*: CPU,
// memory, open files, start time). Register the Recorder, AgentMetrics and
// the collectors of this package with it, and serve it with NewServer.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
