package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/kubepulse/kubepulse/agent"
	"github.com/kubepulse/kubepulse/agent/config"
	"github.com/kubepulse/kubepulse/agent/demo"
	"github.com/kubepulse/kubepulse/agent/logging"
)

const runUsage = `Usage: kubepulse run [--config FILE] [flags]

Runs the node agent: probes the API server from this node within a
cluster-wide budget, watches this node's Lease, learns every call's normal
latency per phase, alerts Alertmanager when it drifts, and serves /metrics,
/healthz, /readyz and a status page (default :9477).

Configuration comes from the YAML file (hot-reloaded), then the environment,
then flags (flags win). In a DaemonSet, NODE_NAME, POD_NAME and
POD_NAMESPACE come from the downward API; outside a cluster give
--kubeconfig and --node-name. OTEL_* variables configure trace export.
See docs/deploy.md.

Flags:
`

const demoUsage = `Usage: kubepulse demo [--duration D] [--listen-address ADDR] [flags]

Runs the whole agent against an in-process simulated API server: no cluster
needed. After about a minute of learning it slows one call 4×: the drift
alert fires on the console, the status page and /metrics, then resolves.
--alertmanager-url sends the alerts to a real Alertmanager; OTEL_* variables
export traces.

--load-classes N is a measurement aid: it also sends calls of N distinct
kinds (GET, LIST, create, update, patch, delete of made-up resources in the
load.kubepulse.io group, namespaced and cluster-wide) through the agent's
instrumented client, each every 5 s, so that the agent holds about 4×N
baseline keys; e.g. --load-classes 260 for the 1,000 keys of BENCHMARKS.md.

Flags:
`

// runAgent implements `kubepulse run`.
func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), runUsage); fs.PrintDefaults() }
	sources := config.BindFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := sources.Load()
	if err != nil {
		return usageError{err}
	}
	log, level, err := newLogger(cfg, stderr)
	if err != nil {
		return usageError{err}
	}
	return agent.Run(ctx, agent.Options{Config: cfg, Sources: sources, Version: version, Logger: log, LogLevel: level})
}

// runDemo implements `kubepulse demo`.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), demoUsage); fs.PrintDefaults() }
	duration := fs.Duration("duration", 0, "stop after this long, e.g. 3m (default: until Ctrl-C)")
	seed := fs.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the simulated latencies")
	loadClasses := fs.Int("load-classes", 0, fmt.Sprintf("measurement aid: also send calls of this many distinct kinds through the agent (0 to %d)", demo.MaxLoadClasses))
	sources := config.BindFlags(fs)
	base := agent.DemoConfig()
	base.Log = config.Log{Level: "warn", Format: "text"}
	sources.Base = &base
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := sources.Load()
	if err != nil {
		return usageError{err}
	}
	if *duration < 0 {
		return usageError{fmt.Errorf("--duration: want ≥ 0, got %v", *duration)}
	}
	if *loadClasses < 0 || *loadClasses > demo.MaxLoadClasses {
		return usageError{fmt.Errorf("--load-classes: want 0 to %d, got %d", demo.MaxLoadClasses, *loadClasses)}
	}
	log, _, err := newLogger(cfg, stderr)
	if err != nil {
		return usageError{err}
	}
	return agent.RunDemo(ctx, agent.DemoOptions{Config: cfg, Version: version, Logger: log, Out: stdout,
		Duration: *duration, Seed: *seed, LoadClasses: *loadClasses})
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return nil
}

// errHelp: -h was asked for; the usage is printed, the exit code is 0.
var errHelp = errors.New("help requested")

// newLogger builds the process's one logger and routes klog into it.
func newLogger(cfg config.Config, w io.Writer) (*slog.Logger, *slog.LevelVar, error) {
	lvl, err := logging.ParseLevel(cfg.Log.Level)
	if err != nil {
		return nil, nil, fmt.Errorf("log.level: %w", err)
	}
	format, err := logging.ParseFormat(cfg.Log.Format)
	if err != nil {
		return nil, nil, fmt.Errorf("log.format: %w", err)
	}
	var level slog.LevelVar
	level.Set(lvl)
	log := logging.New(w, format, &level)
	logging.RouteKlog(log)
	return log, &level, nil
}
