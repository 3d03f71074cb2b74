// Package agent wires kubepulse's parts into the program that runs on every
// node: an instrumented client-go client, the probes and the Lease watch that
// use it, baselines and drift detection for every call and phase, alerts to
// Alertmanager, Prometheus metrics, OTLP traces, checkpoints and the status
// page. Run is the whole lifecycle; `kubepulse run` and `kubepulse demo` call
// it.
//
// Data flows one way: request → instrument.Observation → pipeline (metrics,
// findings, error rates, baselines) → baseline events and rules → alerts →
// Alertmanager, log, status page.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	"github.com/kubepulse/kubepulse/agent/alerts"
	"github.com/kubepulse/kubepulse/agent/config"
	"github.com/kubepulse/kubepulse/agent/findings"
	"github.com/kubepulse/kubepulse/agent/instrument"
	"github.com/kubepulse/kubepulse/agent/instrument/classify"
	"github.com/kubepulse/kubepulse/agent/leasewatch"
	"github.com/kubepulse/kubepulse/agent/logging"
	"github.com/kubepulse/kubepulse/agent/probe"
	"github.com/kubepulse/kubepulse/agent/status"
	"github.com/kubepulse/kubepulse/baseline"
	"github.com/kubepulse/kubepulse/exporters/alertmanager"
	"github.com/kubepulse/kubepulse/exporters/alertmanager/k8sdiscovery"
	"github.com/kubepulse/kubepulse/exporters/otlp"
	"github.com/kubepulse/kubepulse/exporters/prom"
)

// Options configure Run. Config is required; the rest have defaults.
type Options struct {
	Config config.Config
	// Sources, if set, is re-read when the configuration file changes.
	Sources *config.Sources
	Version string
	Logger  *slog.Logger
	// LogLevel is the logger's level, changed by a configuration reload.
	LogLevel *slog.LevelVar
	// RestConfig, if set, replaces the kubeconfig / in-cluster configuration
	// (the demo's simulated API server, tests).
	RestConfig *rest.Config
	// Demo marks the status page as the demo's.
	Demo bool
	// Console receives one line per alert change (the demo prints them).
	Console io.Writer
	// KnownNodes seeds the probe budget's node count when no checkpoint has
	// one (the demo knows its cluster has one node).
	KnownNodes int
	// Listener, if set, is served instead of listening on ListenAddress.
	Listener net.Listener
	// OnServing is called with the HTTP address once it listens.
	OnServing func(addr string)
	// Clock is the real clock unless a test sets one.
	Clock clock.WithTicker
	// ReloadInterval is how often the configuration file is checked for
	// changes (default 10s).
	ReloadInterval time.Duration
	// Workload, if set, runs beside the probes until the agent stops, with
	// the agent's instrumented client configuration: its calls feed the same
	// metrics and baselines (`kubepulse demo --load-classes` measures the
	// agent with many keys this way).
	Workload func(ctx context.Context, rc *rest.Config)
}

// agent is one running agent.
type agent struct {
	opts    Options
	cfg     config.Config
	log     *slog.Logger
	clock   clock.WithTicker
	started time.Time

	trk      *trackerRef
	current  atomic.Pointer[config.Config] // the configuration in force (reloads replace it)
	probes   probeControl
	prodCtx  context.Context
	keys     *registry
	alerts   *alerts.Manager
	analyzer *findings.Analyzer
	errRates *errorRates
	splits   *splits
	rules    ruleState
	live     liveState
	metrics  *prom.AgentMetrics
	am       *alertmanager.Client
	traces   *otlp.Provider
	client   kubernetes.Interface

	checkpointErrors uint64
	mu               sync.Mutex // guards checkpointErrors
	reloads          *prometheus.CounterVec
	lastEval         atomic.Int64 // Unix nanoseconds of the last rules evaluation (liveness)
	authClient       kubernetes.Interface
}

// Run runs the agent until ctx ends, then stops it gracefully within
// ShutdownTimeout: probes and watches stop first, then a checkpoint is
// written, alerts and spans are flushed, and the HTTP server stops last.
func Run(ctx context.Context, o Options) error {
	if err := o.Config.Validate(); err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	a := &agent{opts: o, cfg: o.Config, log: o.Logger, clock: o.Clock, started: o.Clock.Now(),
		keys: newRegistry(), errRates: newErrorRates(), splits: newSplits(), trk: &trackerRef{}}
	return a.run(ctx)
}

func (a *agent) run(ctx context.Context) error {
	cfg := a.cfg
	reg := prom.NewRegistry()
	recorder := prom.NewRecorder(reg)
	a.metrics = prom.NewAgentMetrics(reg)
	a.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kubepulse_config_reloads_total",
		Help: "Reloads of the configuration file after it changed, by result (success, failure: the running configuration was kept).",
	}, []string{"result"})
	a.reloads.WithLabelValues("success")
	a.reloads.WithLabelValues("failure")
	reg.MustRegister(a.reloads)

	tracker, err := baseline.NewTracker(baseline.Options{
		Config: cfg.Baseline, Prior: a.prior, Logger: a.log.With("component", "baseline"),
		CheckpointPath: cfg.Checkpoint.Path,
	})
	if err != nil {
		return fmt.Errorf("baselines: %w", err)
	}
	a.trk.set(tracker)
	a.current.Store(&cfg)
	knownNodes := max(a.opts.KnownNodes, readNodeCount(cfg.Checkpoint.Path))

	a.traces, err = otlp.New(ctx, otlp.Options{
		Disabled: !cfg.OTLP.Enabled, Endpoint: cfg.OTLP.Endpoint, Protocol: cfg.OTLP.Protocol,
		Sampler: cfg.OTLP.Sampler, SampleRatio: cfg.OTLP.SampleRatio,
		ServiceVersion: a.opts.Version, NodeName: cfg.NodeName, PodName: cfg.PodName, Namespace: cfg.PodNamespace,
		Logger: a.log.With("component", "otlp"),
	})
	if err != nil {
		return fmt.Errorf("traces: %w", err)
	}

	serveAddr := make(chan string, 1)
	if a.amNeeded() {
		if a.am, err = alertmanager.New(a.alertmanagerOptions(cfg)); err != nil {
			return fmt.Errorf("alertmanager: %w", err)
		}
	}
	var sink alerts.Sink
	if a.am != nil {
		sink = a.am
	}
	a.alerts = alerts.New(alerts.Options{Node: cfg.NodeName, Sink: sink, Console: a.opts.Console,
		Logger: a.log.With("component", "alerts")})
	a.analyzer = findings.New(findings.Options{Clock: a.clock})

	pipe := &pipeline{reporters: []instrument.Reporter{recorder, a.analyzer}, trk: a.trk,
		keys: a.keys, alerts: a.alerts, errors: a.errRates, splits: a.splits}
	instrument.RegisterClientGoMetrics(clientGoFanout{recorder, a.analyzer})
	rc, err := a.restConfig()
	if err != nil {
		return err
	}
	// Scrapers' TokenReviews and SubjectAccessReviews are not the agent's
	// measurements: they go through a client of their own.
	if a.authClient, err = kubernetes.NewForConfig(rc); err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	rc = instrument.Wrap(rc, instrument.WithReporter(pipe), instrument.WithTracerProvider(a.traces.TracerProvider()))
	a.client, err = kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}

	reg.MustRegister(
		prom.NewBaselineCollector(prom.BaselineSourceFunc(a.eachBaseline)),
		prom.NewStoreCollector(prom.StoreSourceFunc(a.storeStats)),
		prom.NewAlertsCollector(prom.AlertSourceFunc(a.alertCounts), prom.FindingSourceFunc(a.activeFindings), alertmanager.Names()...),
		prom.NewOTLPCollector(prom.OTLPSourceFunc(a.otlpStats)),
	)
	if a.am != nil {
		reg.MustRegister(prom.NewAlertmanagerCollector(prom.AlertmanagerSourceFunc(a.amStats)))
	}
	server, err := a.newServer(reg, serveAddr)
	if err != nil {
		return err
	}

	// Producers and sinks run under separate contexts so that shutdown can
	// stop the producers first and still deliver what they produced.
	prodCtx, stopProducers := context.WithCancel(ctx)
	defer stopProducers()
	sinkCtx, stopSinks := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSinks()
	serverCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()

	var producers, sinks sync.WaitGroup
	serverErr := make(chan error, 1)
	go func() { serverErr <- server.Run(serverCtx) }()
	go func() {
		select {
		case addr := <-serveAddr:
			if a.opts.OnServing != nil {
				a.opts.OnServing(addr)
			}
		case <-ctx.Done():
		}
	}()
	if a.am != nil {
		sinks.Add(1)
		go func() { defer sinks.Done(); _ = a.am.Run(sinkCtx) }()
		if s := cfg.Alertmanager.Service; s != nil {
			d, err := k8sdiscovery.New(a.client, k8sdiscovery.Options{Namespace: s.Namespace, Service: s.Name,
				PortName: s.Port, Scheme: s.Scheme, PathPrefix: s.Path, Logger: a.log.With("component", "alertmanager-discovery")}, a.am)
			if err != nil {
				return err
			}
			producers.Add(1)
			go func() { defer producers.Done(); _ = d.Run(prodCtx) }()
		}
	}
	a.prodCtx = prodCtx
	if err := a.startProbes(prodCtx, cfg, knownNodes); err != nil {
		return err
	}
	if cfg.Watch.Lease {
		w, err := leasewatch.New(leasewatch.Options{
			Client: a.client, Node: cfg.NodeName, Clock: a.clock, Logger: a.log.With("component", "leasewatch"),
			OnDelay:   a.leaseDelay,
			OnRestart: func(reason string) { a.metrics.WatchRestart(reason); a.live.watchRestart(reason) },
		})
		if err != nil {
			return err
		}
		producers.Add(1)
		go func() { defer producers.Done(); _ = w.Run(prodCtx) }()
	}
	if a.opts.Workload != nil {
		producers.Add(1)
		go func() { defer producers.Done(); a.opts.Workload(prodCtx, rest.CopyConfig(rc)) }()
	}
	producers.Add(1)
	go func() { defer producers.Done(); a.evaluateLoop(prodCtx) }()
	checkpointDone := make(chan struct{})
	go func() { defer close(checkpointDone); a.checkpointLoop(prodCtx) }()
	if a.opts.Sources != nil {
		producers.Add(1)
		go func() {
			defer producers.Done()
			(&config.Reloader{Sources: a.opts.Sources, Interval: a.opts.ReloadInterval, Clock: a.clock,
				Logger: a.log.With("component", "config"), Apply: a.reload,
				Rejected: func(error) { a.reloads.WithLabelValues("failure").Inc() }}).Run(prodCtx)
		}()
	}
	a.log.Info("kubepulse agent started", "node", cfg.NodeName, "version", a.opts.Version,
		"probes", cfg.Probe.Enabled, "leaseWatch", cfg.Watch.Lease, "alertmanager", a.am != nil, "traces", a.traces.Enabled())

	select {
	case <-ctx.Done():
	case err := <-serverErr:
		stopProducers()
		a.stopProbes()
		producers.Wait()
		return err
	}

	// Graceful stop, within the shutdown timeout.
	deadline := time.Duration(cfg.ShutdownTimeout)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deadline)
	defer cancel()
	a.log.Info("stopping", "timeout", deadline)
	stopProducers()
	a.stopProbes()
	waitOrDeadline(stopCtx, &producers)
	<-checkpointDone // the last checkpoint is written once producers stop
	stopSinks()
	waitOrDeadline(stopCtx, &sinks)
	if err := a.traces.Shutdown(stopCtx); err != nil {
		a.log.Warn("traces not flushed", "err", err)
	}
	stopServer()
	if err := <-serverErr; err != nil {
		return err
	}
	a.log.Info("stopped")
	return nil
}

func waitOrDeadline(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// tracker is the baseline store in force (a reload may replace it).
func (a *agent) tracker() *baseline.Tracker { return a.trk.get() }

// trackerRef lets a configuration reload swap the tracker under the
// request path without a lock.
type trackerRef struct {
	p atomic.Pointer[baseline.Tracker]
}

func (r *trackerRef) get() *baseline.Tracker  { return r.p.Load() }
func (r *trackerRef) set(t *baseline.Tracker) { r.p.Store(t) }

// prior gives keys their upstream SLO while they learn.
func (a *agent) prior(key string) (float64, bool) {
	ki, ok := a.keys.get(key)
	if !ok || ki.SLO == 0 {
		return 0, false
	}
	return ki.SLO, true
}

// restConfig is the API client configuration: the override, a kubeconfig
// file, or the in-cluster ServiceAccount.
func (a *agent) restConfig() (*rest.Config, error) {
	var rc *rest.Config
	var err error
	switch {
	case a.opts.RestConfig != nil:
		rc = rest.CopyConfig(a.opts.RestConfig)
	case a.cfg.Kubeconfig != "":
		if rc, err = clientcmd.BuildConfigFromFlags("", a.cfg.Kubeconfig); err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", a.cfg.Kubeconfig, err)
		}
	default:
		if rc, err = rest.InClusterConfig(); err != nil {
			return nil, fmt.Errorf("in-cluster configuration (set kubeconfig outside a cluster): %w", err)
		}
	}
	// The agent's own calls are few and budgeted: client-go's limiter must
	// never be what the probes measure.
	rc.QPS, rc.Burst = 50, 100
	rc.UserAgent = "kubepulse/" + a.opts.Version
	return rc, nil
}

func (a *agent) amNeeded() bool {
	return len(a.cfg.Alertmanager.URLs) > 0 || a.cfg.Alertmanager.Service != nil
}

func (a *agent) alertmanagerOptions(c config.Config) alertmanager.Options {
	am := c.Alertmanager
	o := alertmanager.Options{
		URLs: am.URLs, ExternalLabels: am.ExternalLabels, GeneratorURL: am.GeneratorURL,
		Timeout: time.Duration(am.Timeout), ResendInterval: time.Duration(am.ResendInterval),
		ResolvedResendWindow: time.Duration(am.ResolvedResendWindow), QueueCapacity: am.QueueCapacity,
		TLS: alertmanager.TLSOptions{CAFile: am.TLS.CAFile, CertFile: am.TLS.CertFile, KeyFile: am.TLS.KeyFile,
			ServerName: am.TLS.ServerName, InsecureSkipVerify: am.TLS.InsecureSkipVerify},
		BearerTokenFile: am.BearerTokenFile,
		BasicAuth:       alertmanager.BasicAuth{Username: am.BasicAuth.Username, PasswordFile: am.BasicAuth.PasswordFile},
		UserAgent:       "kubepulse/" + a.opts.Version,
		Logger:          a.log.With("component", "alertmanager"),
	}
	return o
}

// newServer builds the HTTP server: /metrics, health, the status page.
func (a *agent) newServer(reg *prometheus.Registry, serving chan<- string) (*prom.Server, error) {
	page, err := status.NewHandler(status.Options{Source: status.SourceFunc(a.snapshot), Logger: a.log.With("component", "status")})
	if err != nil {
		return nil, err
	}
	l := a.opts.Listener
	if l == nil {
		if l, err = net.Listen("tcp", a.cfg.ListenAddress); err != nil {
			return nil, fmt.Errorf("listenAddress: %w", err)
		}
	}
	serving <- l.Addr().String()
	o := prom.ServerOptions{
		Listener: l, Gatherer: reg, Registerer: reg,
		Ready: func() error {
			if ok, reason := a.readiness(a.clock.Now()); !ok {
				return errors.New(reason)
			}
			return nil
		},
		Live:  a.liveness,
		Pprof: a.cfg.Metrics.Pprof,
		Mounts: []prom.Mount{
			{Pattern: "GET /{$}", Handler: page},
			{Pattern: "GET /api/v1/status", Handler: page},
		},
		Logger: a.log.With("component", "http"),
	}
	if a.cfg.Metrics.Secure {
		o.TLS = &prom.TLSOptions{CertFile: a.cfg.Metrics.CertFile, KeyFile: a.cfg.Metrics.KeyFile}
		o.Auth = &prom.AuthOptions{Client: a.authClient}
	}
	return prom.NewServer(o)
}

// probeControl runs the probe runner and can replace it on a reload.
type probeControl struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	handle *probeHandle
}

// startProbes starts the probe runner for c if probes are enabled, after
// stopping the one running, if any; the node count carries over.
func (a *agent) startProbes(ctx context.Context, c config.Config, knownNodes int) error {
	pc := &a.probes
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.cancel != nil {
		pc.cancel()
		<-pc.done
		pc.cancel = nil
		knownNodes = max(knownNodes, pc.handle.Nodes())
	}
	if pc.handle == nil {
		pc.handle = &probeHandle{}
	}
	if !c.Probe.Enabled {
		return nil
	}
	h := pc.handle
	p := c.Probe
	seed := uint64(a.clock.Now().UnixNano())
	r, err := probe.NewRunner(probe.RunnerOptions{
		Client: a.client.CoreV1().RESTClient(),
		Target: probe.Target{Node: c.NodeName, Namespace: c.PodNamespace},
		Budget: probe.BudgetOptions{ClusterQPS: p.ClusterQPS, Interval: time.Duration(p.Interval),
			StartupSpread: time.Duration(p.StartupSpread), MaxBackoff: time.Duration(p.MaxBackoff)},
		KnownNodes: knownNodes,
		Timeout:    time.Duration(p.Timeout),
		Clock:      a.clock,
		Rand:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		Logger:     a.log.With("component", "probe"),
		// Each probe names itself, and TrackCall attributes client-go's rate
		// limiter wait to it (the client/server split).
		WithProbe: func(ctx context.Context, k probe.Kind) context.Context {
			return instrument.TrackCall(instrument.WithOrigin(ctx, string(k)))
		},
		OnResult: func(res probe.Result) { a.probeResult(res, h) },
	})
	if err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	pc.cancel, pc.done = cancel, done
	go func() { defer close(done); _ = r.Run(rctx) }()
	return nil
}

// stopProbes stops the probe runner and waits for it.
func (a *agent) stopProbes() {
	pc := &a.probes
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.cancel != nil {
		pc.cancel()
		<-pc.done
		pc.cancel = nil
	}
}

// probeHandle remembers what the running probes learned.
type probeHandle struct {
	mu    sync.Mutex
	nodes int
}

func (h *probeHandle) setNodes(n int) {
	h.mu.Lock()
	h.nodes = n
	h.mu.Unlock()
}

func (h *probeHandle) Nodes() int {
	if h == nil {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nodes
}

func (a *agent) probeResult(r probe.Result, h *probeHandle) {
	a.metrics.ObserveProbe(string(r.Kind), r.Err == nil)
	a.live.probeDone(r, true, a.conf().Probe.ClusterQPS)
	if r.ClusterNodes > 0 {
		h.setNodes(r.ClusterNodes)
	}
	a.live.mu.Lock()
	nodes := a.live.budget.Nodes
	a.live.mu.Unlock()
	a.metrics.SetBudget(a.conf().Probe.ClusterQPS, nodes, r.Interval)
	failures, since, lastErr := a.rules.probeResult(r.At, r.Code, r.Err)
	evaluateUnreachable(a.alerts, failures, since, lastErr, r.At.Add(r.Duration))
}

// leaseDelay records one Lease renewal's delivery delay as a baseline
// sample of the watch's own key.
func (a *agent) leaseDelay(d time.Duration, renewed time.Time) {
	a.metrics.ObserveWatchDelay(d)
	a.live.watchDelay(d)
	a.live.apiAnswered(renewed.Add(d))
	const key = leaseWatchProbe + "/" + PhaseDelivery
	ki, _ := a.keys.get(key)
	(&pipeline{trk: a.trk, keys: a.keys, alerts: a.alerts}).sample(key, ki, max(d, time.Microsecond).Seconds(), renewed.Add(d))
}

// liveness fails when the rules loop has not run for a minute: a stuck
// agent, which a restart fixes. It never depends on the API server (an
// unreachable API server is what the agent must stay alive to report).
func (a *agent) liveness() error {
	last := a.lastEval.Load()
	since := a.clock.Since(a.started)
	if last != 0 {
		since = a.clock.Since(time.Unix(0, last))
	}
	if since > time.Minute {
		return fmt.Errorf("the rules loop has not run for %v", since.Round(time.Second))
	}
	return nil
}

// evaluateLoop runs the agent's rules every few seconds: findings, SLO
// breaches, error rates and throttling.
func (a *agent) evaluateLoop(ctx context.Context) {
	t := a.clock.NewTicker(5 * time.Second)
	defer t.Stop()
	logged := map[string]bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		now := a.clock.Now()
		a.lastEval.Store(now.UnixNano())
		active := a.analyzer.Findings()
		for _, f := range active {
			if !logged[f.ID] {
				logged[f.ID] = true
				a.log.Warn("finding: "+f.Title, "finding", f.ID, "advice", f.Advice, "evidence", f.Evidence)
			}
		}
		for id := range logged {
			if !containsFinding(active, id) {
				delete(logged, id)
			}
		}
		a.live.mu.Lock()
		a.live.findings = active
		a.live.mu.Unlock()
		evaluateThrottling(a.alerts, active, now)
		evaluateErrors(a.alerts, a.errRates.stats(now), now)
		a.tracker().Snapshot(func(st baseline.KeyStatus) { evaluateSLO(a.alerts, a.keys, st) })
	}
}

func containsFinding(fs []findings.Finding, id string) bool {
	for _, f := range fs {
		if f.ID == id {
			return true
		}
	}
	return false
}

// checkpointLoop writes a checkpoint every checkpoint.interval and once
// more when ctx ends, evicting idle keys before each.
func (a *agent) checkpointLoop(ctx context.Context) {
	path := a.cfg.Checkpoint.Path
	if path == "" {
		<-ctx.Done()
		return
	}
	t := a.clock.NewTicker(time.Duration(a.cfg.Checkpoint.Interval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			a.saveCheckpoint(path)
			return
		case <-t.C():
			a.saveCheckpoint(path)
		}
	}
}

func (a *agent) saveCheckpoint(path string) {
	if latest := a.tracker().Latest(); !latest.IsZero() {
		a.tracker().EvictIdle(latest)
	}
	a.keys.prune(func(k string) bool { _, ok := a.tracker().Status(k); return ok })
	start := a.clock.Now()
	if err := a.tracker().SaveCheckpoint(path); err != nil {
		a.mu.Lock()
		a.checkpointErrors++
		a.mu.Unlock()
		a.log.Error("checkpoint not written", "path", path, "err", err)
		return
	}
	a.probes.mu.Lock()
	n := a.probes.handle.Nodes()
	a.probes.mu.Unlock()
	if n > 0 {
		if err := writeNodeCount(path, n); err != nil {
			a.log.Warn("node count not saved", "err", err)
		}
	}
	a.live.mu.Lock()
	a.live.lastCheckpoint = a.clock.Now()
	a.live.mu.Unlock()
	a.log.Debug("checkpoint written", "path", path, "keys", a.tracker().Stats().Keys, "took", a.clock.Since(start))
}

// reload applies a new configuration without losing what was learned:
// the log level, the probe budget and schedule (the runner restarts with the
// node count it knew), the baseline and detector settings (the baselines are
// carried over through a checkpoint into a tracker with the new settings) and
// the Alertmanager URLs. Identity, listen address, TLS, checkpoint path and
// the other Alertmanager and OTLP settings need a restart: a change to them
// is logged.
func (a *agent) reload(c config.Config) {
	old := a.conf()
	if a.opts.LogLevel != nil {
		if lvl, err := logging.ParseLevel(c.Log.Level); err == nil {
			a.opts.LogLevel.Set(lvl)
		}
	}
	if !reflect.DeepEqual(c.Baseline, old.Baseline) {
		if err := a.reloadBaselines(c); err != nil {
			a.log.Error("baseline settings not applied; keeping the running ones", "err", err)
			c.Baseline = old.Baseline
		}
	}
	if !reflect.DeepEqual(c.Probe, old.Probe) {
		if err := a.startProbes(a.prodCtx, c, 0); err != nil {
			a.log.Error("probe settings not applied", "err", err)
		}
	}
	if a.am != nil && !slices.Equal(c.Alertmanager.URLs, old.Alertmanager.URLs) && c.Alertmanager.Service == nil {
		if err := a.am.SetURLs(c.Alertmanager.URLs); err != nil {
			a.log.Error("alertmanager URLs not applied", "err", err)
		}
	}
	var restart []string
	for field, changed := range map[string]bool{
		"nodeName/podName/podNamespace":  c.NodeName != old.NodeName || c.PodName != old.PodName || c.PodNamespace != old.PodNamespace,
		"kubeconfig":                     c.Kubeconfig != old.Kubeconfig,
		"listenAddress":                  c.ListenAddress != old.ListenAddress,
		"metrics":                        c.Metrics != old.Metrics,
		"checkpoint":                     c.Checkpoint != old.Checkpoint,
		"watch":                          c.Watch != old.Watch,
		"otlp":                           c.OTLP != old.OTLP,
		"alertmanager (other than urls)": !reflect.DeepEqual(withoutURLs(c.Alertmanager), withoutURLs(old.Alertmanager)),
	} {
		if changed {
			restart = append(restart, field)
		}
	}
	sort.Strings(restart)
	a.current.Store(&c)
	a.reloads.WithLabelValues("success").Inc()
	if len(restart) > 0 {
		a.log.Warn("configuration applied; these changes take effect at the next restart", "fields", restart)
		return
	}
	a.log.Info("configuration applied")
}

func withoutURLs(am config.Alertmanager) config.Alertmanager {
	am.URLs = nil
	return am
}

// reloadBaselines moves every learned baseline into a tracker with the new
// settings, through a checkpoint in a temporary directory. Samples that
// arrive during the swap (a few milliseconds) go to the old tracker and are
// lost; nothing learned before is.
func (a *agent) reloadBaselines(c config.Config) error {
	dir, err := os.MkdirTemp("", "kubepulse-reload-")
	if err != nil {
		return fmt.Errorf("reload baselines: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "checkpoint")
	if err := a.tracker().SaveCheckpoint(path); err != nil {
		return fmt.Errorf("reload baselines: %w", err)
	}
	t, err := baseline.NewTracker(baseline.Options{Config: c.Baseline, Prior: a.prior,
		Logger: a.log.With("component", "baseline"), CheckpointPath: path})
	if err != nil {
		return fmt.Errorf("reload baselines: %w", err)
	}
	a.trk.set(t)
	a.log.Info("baseline settings applied", "keys", t.Stats().Keys)
	return nil
}

// conf is the configuration in force.
func (a *agent) conf() *config.Config { return a.current.Load() }

// clientGoFanout sends client-go's hook signals to several reporters.
type clientGoFanout []instrument.ClientGoReporter

func (f clientGoFanout) ReportRateLimiterWait(l classify.Labels, wait time.Duration) {
	for _, r := range f {
		r.ReportRateLimiterWait(l, wait)
	}
}

func (f clientGoFanout) ReportRetry(method, code string) {
	for _, r := range f {
		r.ReportRetry(method, code)
	}
}

// Collector sources.

func (a *agent) storeStats() prom.StoreStats {
	st := a.tracker().Stats()
	a.live.mu.Lock()
	last := a.live.lastCheckpoint
	a.live.mu.Unlock()
	a.mu.Lock()
	errs := a.checkpointErrors
	a.mu.Unlock()
	return prom.StoreStats{Keys: st.Keys, MaxKeys: st.Cap, Overflow: st.Overflow, Evictions: st.Evictions,
		LastCheckpoint: last, CheckpointErrors: errs}
}

func (a *agent) alertCounts() []prom.AlertCount {
	var out []prom.AlertCount
	for name, states := range a.alerts.Counts(a.clock.Now()) {
		out = append(out, prom.AlertCount{Name: name, State: "firing", Count: states["firing"]})
	}
	return out
}

func (a *agent) activeFindings() []prom.Finding {
	a.live.mu.Lock()
	defer a.live.mu.Unlock()
	var out []prom.Finding
	for _, f := range a.live.findings {
		out = append(out, prom.Finding{ID: f.ID, Severity: f.Severity})
	}
	return out
}

func (a *agent) otlpStats() prom.OTLPStats {
	s := a.traces.Stats()
	return prom.OTLPStats{SpansExported: s.SpansExported, SpansFailed: s.SpansFailed, SpansDropped: s.SpansDropped,
		ExportErrors: s.ExportErrors, QueueLength: s.QueueLength, QueueCapacity: s.QueueCapacity}
}

func (a *agent) amStats() []prom.AlertmanagerStats {
	var out []prom.AlertmanagerStats
	for _, s := range a.am.Stats() {
		out = append(out, prom.AlertmanagerStats{URL: s.URL, QueueLength: s.QueueLength, QueueCapacity: s.QueueCapacity,
			Sent: s.Sent, Dropped: s.Dropped, SendErrors: s.SendErrors, LastSuccess: s.LastSuccess})
	}
	return out
}

var _ http.Handler = (*status.Handler)(nil)
