package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubepulse/kubepulse/agent/config"
	"github.com/kubepulse/kubepulse/agent/demo"
)

// DemoOptions configure RunDemo.
type DemoOptions struct {
	// Config is the agent configuration to run with; DemoConfig gives the
	// demo's (flags may have changed it, e.g. Alertmanager URLs).
	Config  config.Config
	Version string
	Logger  *slog.Logger
	// Out receives the banner, the timeline and one line per alert change.
	Out io.Writer
	// Duration stops the demo after this long (0: until ctx ends).
	Duration time.Duration
	// Scenario is the drift to inject; zero: DefaultScenario.
	Scenario Scenario
	// Seed makes the simulated latencies repeatable.
	Seed uint64
	// OnServing is called with the HTTP address once it listens.
	OnServing func(addr string)
	// LoadClasses, if > 0, also sends calls of that many distinct kinds
	// (made-up resources, see demo.RunLoad) through the agent's client, each
	// every 5 s: a measurement aid for the agent with many baseline keys.
	LoadClasses int
}

// Scenario is a drift the demo injects into the simulated API server.
type Scenario struct {
	Endpoint demo.Endpoint
	Factor   float64       // server time multiplier
	Start    time.Duration // after the agent starts
	Length   time.Duration
	// Describe is what the console says when it starts.
	Describe string
}

// DefaultScenario: after a minute of learning, the server time of the pod
// LIST slows 4× for a minute, then recovers.
var DefaultScenario = Scenario{
	Endpoint: demo.PodsList, Factor: 4, Start: time.Minute, Length: time.Minute,
	Describe: "the server time of LIST pods (probe pods_list_node) slows 4×",
}

// DemoConfig is the agent configuration of the demo: one node on a
// simulated API server, a probe round every second, no checkpoint.
func DemoConfig() config.Config {
	c := config.Default()
	c.NodeName, c.PodName, c.PodNamespace = "demo-node", "kubepulse-demo", "kubepulse"
	c.ListenAddress = "127.0.0.1:9477"
	c.ShutdownTimeout = config.Duration(5 * time.Second)
	c.Probe.Interval = config.Duration(time.Second)
	c.Probe.MaxBackoff = config.Duration(10 * time.Second)
	c.Probe.Timeout = config.Duration(5 * time.Second)
	c.Checkpoint.Path = ""
	return c
}

// RunDemo runs the whole agent against an in-process simulated API server
// (HTTPS, per-endpoint latency with noise) and injects a drift: the alert
// fires on the console, the status page and /metrics, then resolves.
func RunDemo(ctx context.Context, o DemoOptions) error {
	if o.Scenario.Endpoint == "" {
		o.Scenario = DefaultScenario
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	cfg := o.Config
	sim := demo.NewSimServer(demo.SimOptions{NodeName: cfg.NodeName, Namespace: cfg.PodNamespace, Seed: o.Seed})
	defer sim.Close()

	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	started := time.Now()
	served := make(chan string, 1)
	go o.timeline(ctx, sim, served, started)
	var workload func(context.Context, *rest.Config)
	if o.LoadClasses > 0 {
		workload = func(ctx context.Context, rc *rest.Config) {
			err := demo.RunLoad(ctx, rc, demo.LoadOptions{Classes: o.LoadClasses, Namespace: cfg.PodNamespace})
			if err != nil {
				o.Logger.Error("load not sent", "err", err)
			}
		}
	}
	err := Run(ctx, Options{
		Config: cfg, Version: o.Version, Logger: o.Logger, RestConfig: sim.RestConfig(), Demo: true,
		Console: o.Out, KnownNodes: 1, Workload: workload,
		OnServing: func(addr string) {
			served <- addr
			if o.OnServing != nil {
				o.OnServing(addr)
			}
		},
	})
	if err == nil {
		fmt.Fprintf(o.Out, "%s  demo stopped after %s\n", clockOf(started), time.Since(started).Round(time.Second))
	}
	return err
}

// timeline prints the banner and injects the scenario's drift.
func (o DemoOptions) timeline(ctx context.Context, sim *demo.SimServer, served <-chan string, started time.Time) {
	var addr string
	select {
	case addr = <-served:
	case <-ctx.Done():
		return
	}
	s := o.Scenario
	fmt.Fprintf(o.Out, `kubepulse demo: the real agent (probes, instrumentation, baselines, alerts,
exporters, status page) against a simulated API server at %s.

  status page   http://%s/
  metrics       http://%s/metrics
  JSON          http://%s/api/v1/status

Timeline: the agent learns each call's normal latency (about 30 samples per
key, ~30 s); at %s %s; at %s it recovers.
Alerts appear below as they fire and resolve. Ctrl-C stops the demo.

`, sim.URL(), addr, addr, addr, s.Start, s.Describe, s.Start+s.Length)
	at := func(d time.Duration) bool {
		t := time.NewTimer(time.Until(started.Add(d)))
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !at(s.Start) {
		return
	}
	sim.SetSlowdown(s.Endpoint, s.Factor)
	fmt.Fprintf(o.Out, "%s  INJECT   %s\n", clockOf(started), s.Describe)
	if !at(s.Start + s.Length) {
		return
	}
	sim.SetSlowdown(s.Endpoint, 1)
	fmt.Fprintf(o.Out, "%s  RECOVER  %s is back to normal\n", clockOf(started), s.Endpoint)
}

// clockOf is the time since the demo started, as mm:ss.
func clockOf(started time.Time) string {
	d := time.Since(started).Round(time.Second)
	return fmt.Sprintf("+%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
