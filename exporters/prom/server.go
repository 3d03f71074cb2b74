package prom

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults of ServerOptions.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	// DefaultWriteTimeout leaves room for a 30 s CPU profile or trace
	// (/debug/pprof/profile's default) and a slow scrape.
	DefaultWriteTimeout    = 90 * time.Second
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultShutdownTimeout = 5 * time.Second
	// DefaultMaxRequestsInFlight bounds concurrent scrapes of /metrics;
	// more are answered 503 at once instead of piling up.
	DefaultMaxRequestsInFlight = 4
)

// Mount is a handler served beside /metrics, e.g. the agent's status page at
// "GET /{$}" and its JSON at "GET /api/v1/status".
type Mount struct {
	// Pattern is an http.ServeMux pattern ("[METHOD ][HOST]/[PATH]").
	Pattern string
	Handler http.Handler
	// Public keeps the handler open when ServerOptions.Auth is set (the
	// default is to protect it like /metrics).
	Public bool
}

// ServerOptions configure the agent's HTTP port. Gatherer is required; the
// zero value of every other field is a sensible default.
type ServerOptions struct {
	// Addr is the address to listen on, e.g. ":9477". Ignored when Listener
	// is set.
	Addr string
	// Listener, if set, is served instead of listening on Addr (tests, socket
	// activation). Run closes it.
	Listener net.Listener
	// Gatherer is what /metrics serves: a registry of NewRegistry.
	Gatherer prometheus.Gatherer
	// Registerer, if set, receives the server's own metrics:
	// promhttp_metric_handler_requests_total, _requests_in_flight,
	// _errors_total, and with Auth kubepulse_http_auth_decisions_total.
	Registerer prometheus.Registerer
	// Live backs /healthz (liveness): nil error while the process and its
	// loops make progress. An error is answered 503 with its text, and the
	// kubelet restarts the container; so it must fail only for what a
	// restart fixes (a stuck loop), never for an unreachable API server.
	// nil: always live.
	Live func() error
	// Ready backs /readyz (readiness): nil when the agent can do its job
	// (e.g. the API server answered recently); an error says why not, in the
	// 503 body. nil: always ready.
	Ready func() error
	// Pprof serves net/http/pprof under /debug/pprof/ (off by default: a
	// profile costs CPU and shows internals).
	Pprof bool
	// Mounts are further handlers, e.g. the status page.
	Mounts []Mount
	// TLS, if set, serves HTTPS.
	TLS *TLSOptions
	// Auth, if set, lets only authorized ServiceAccounts read /metrics,
	// /debug/pprof and the non-public mounts (see AuthOptions). /healthz
	// and /readyz stay open: the kubelet probes them without credentials.
	// Use it with TLS, or tokens travel in clear text.
	Auth *AuthOptions
	// Logger receives start, shutdown and certificate reload messages,
	// and scrape errors; nil discards them. Nothing is logged per request.
	Logger *slog.Logger

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// http.Server's (defaults above); MaxRequestsInFlight bounds concurrent
	// /metrics requests; ScrapeTimeout, if set, answers 503 to a /metrics
	// request that takes longer (Prometheus' scrape_timeout gives up anyway).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxRequestsInFlight                                       int
	ScrapeTimeout                                             time.Duration
	// ShutdownTimeout is how long Run waits, once ctx ends, for requests in
	// flight to finish before closing their connections (default 5 s).
	ShutdownTimeout time.Duration
}

// Server serves /metrics, /healthz, /readyz, optionally /debug/pprof/, and
// mounted handlers on one port.
type Server struct {
	o       ServerOptions
	log     *slog.Logger
	handler http.Handler
	certs   *certSource
	tlsConf *tls.Config
}

// NewServer checks o, loads or generates the TLS certificate and builds the
// handlers. It does not listen yet: Run does.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Gatherer == nil {
		return nil, errors.New("prom: ServerOptions.Gatherer is required")
	}
	if o.Listener == nil && o.Addr == "" {
		return nil, errors.New("prom: ServerOptions.Addr is empty (want host:port such as :9477)")
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ReadHeaderTimeout", &o.ReadHeaderTimeout, DefaultReadHeaderTimeout},
		{"ReadTimeout", &o.ReadTimeout, DefaultReadTimeout},
		{"WriteTimeout", &o.WriteTimeout, DefaultWriteTimeout},
		{"IdleTimeout", &o.IdleTimeout, DefaultIdleTimeout},
		{"ShutdownTimeout", &o.ShutdownTimeout, DefaultShutdownTimeout},
		{"ScrapeTimeout", &o.ScrapeTimeout, 0},
	} {
		switch {
		case *d.v < 0:
			return nil, fmt.Errorf("prom: ServerOptions.%s: want ≥ 0, got %v", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case o.MaxRequestsInFlight < 0:
		return nil, fmt.Errorf("prom: ServerOptions.MaxRequestsInFlight: want ≥ 0, got %d", o.MaxRequestsInFlight)
	case o.MaxRequestsInFlight == 0:
		o.MaxRequestsInFlight = DefaultMaxRequestsInFlight
	}
	s := &Server{o: o, log: o.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.TLS != nil {
		if o.TLS.ReloadInterval < 0 {
			return nil, fmt.Errorf("prom: tls.reloadInterval: want ≥ 0, got %v", o.TLS.ReloadInterval)
		}
		certs, err := newCertSource(*o.TLS, s.log)
		if err != nil {
			return nil, fmt.Errorf("prom: %w", err)
		}
		s.certs = certs
		s.tlsConf = &tls.Config{MinVersion: o.TLS.MinVersion, GetCertificate: certs.getCertificate}
		if s.tlsConf.MinVersion == 0 {
			s.tlsConf.MinVersion = tls.VersionTLS12
		}
	}
	protect := func(h http.Handler) http.Handler { return h }
	if o.Auth != nil {
		az, err := newAuthorizer(*o.Auth, o.Registerer, s.log)
		if err != nil {
			return nil, fmt.Errorf("prom: %w", err)
		}
		protect = az.wrap
		if o.TLS == nil {
			s.log.Warn("metrics authorization without TLS: scrapers' tokens travel in clear text")
		}
	}
	h, err := s.routes(protect)
	if err != nil {
		return nil, err
	}
	s.handler = h
	return s, nil
}

// routes builds the mux.
func (s *Server) routes(protect func(http.Handler) http.Handler) (http.Handler, error) {
	o := s.o
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
		ErrorLog:            scrapeErrorLog{log: s.log, limit: &everyMinute{}},
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            o.Registerer,
		MaxRequestsInFlight: o.MaxRequestsInFlight,
		Timeout:             o.ScrapeTimeout,
		// Negotiated from Accept: the classic text format, OpenMetrics
		// (exemplars), or protobuf (native histograms, exemplars).
		EnableOpenMetrics: true,
	})
	if o.Registerer != nil {
		metrics = promhttp.InstrumentMetricHandler(o.Registerer, metrics)
	}
	routes := []Mount{
		{Pattern: "GET /metrics", Handler: metrics},
		{Pattern: "GET /healthz", Handler: checkHandler("ok", o.Live), Public: true},
		{Pattern: "GET /readyz", Handler: checkHandler("ready", o.Ready), Public: true},
	}
	if o.Pprof {
		routes = append(routes,
			Mount{Pattern: "/debug/pprof/", Handler: http.HandlerFunc(pprof.Index)},
			Mount{Pattern: "/debug/pprof/cmdline", Handler: http.HandlerFunc(pprof.Cmdline)},
			Mount{Pattern: "/debug/pprof/profile", Handler: http.HandlerFunc(pprof.Profile)},
			Mount{Pattern: "/debug/pprof/symbol", Handler: http.HandlerFunc(pprof.Symbol)},
			Mount{Pattern: "/debug/pprof/trace", Handler: http.HandlerFunc(pprof.Trace)},
		)
	}
	for i, m := range o.Mounts {
		if m.Handler == nil {
			return nil, fmt.Errorf("prom: ServerOptions.Mounts[%d] (%q): no handler", i, m.Pattern)
		}
		routes = append(routes, m)
	}
	for _, m := range routes {
		h := m.Handler
		if !m.Public {
			h = protect(h)
		}
		if err := handle(mux, m.Pattern, h); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

// handle registers a pattern, turning ServeMux's panic on a bad or
// conflicting pattern into an error.
func handle(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("prom: mount %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// checkHandler answers 200 with ok, or 503 with check's error.
func checkHandler(ok string, check func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if check != nil {
			if err := check(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "not %s: %v\n", ok, err)
				return
			}
		}
		fmt.Fprintln(w, ok)
	})
}

// Handler returns the server's handler (all routes, with authorization), for
// tests and for embedding in another server.
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens and serves until ctx ends, then shuts down gracefully: it
// stops accepting connections and waits up to ShutdownTimeout for requests
// in flight, then closes the rest. It returns nil after a shutdown, or the
// error that stopped serving (e.g. the address in use).
func (s *Server) Run(ctx context.Context) error {
	l := s.o.Listener
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", s.o.Addr); err != nil {
			return fmt.Errorf("prom: listen on %s: %w", s.o.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         s.tlsConf,
		ReadHeaderTimeout: s.o.ReadHeaderTimeout,
		ReadTimeout:       s.o.ReadTimeout,
		WriteTimeout:      s.o.WriteTimeout,
		IdleTimeout:       s.o.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	scheme := "http"
	if s.tlsConf != nil {
		scheme = "https"
		interval := s.o.TLS.ReloadInterval
		if interval == 0 {
			interval = DefaultCertReloadInterval
		}
		rctx, stop := context.WithCancel(ctx)
		defer stop()
		go s.certs.run(rctx, interval)
	}
	served := make(chan error, 1)
	go func() {
		if s.tlsConf != nil {
			served <- srv.ServeTLS(l, "", "")
		} else {
			served <- srv.Serve(l)
		}
	}()
	s.log.Info("serving metrics", "addr", l.Addr().String(), "scheme", scheme,
		"auth", s.o.Auth != nil, "pprof", s.o.Pprof)

	select {
	case err := <-served:
		return fmt.Errorf("prom: serve on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Requests still running past the deadline: cut them off.
		_ = srv.Close()
		err = fmt.Errorf("prom: shutdown: %w", err)
	}
	<-served // http.ErrServerClosed
	return err
}

// scrapeErrorLog adapts a slog.Logger to promhttp.Logger. A collector that
// fails keeps failing on every scrape: its error is logged once a minute at
// most, and counted in promhttp_metric_handler_errors_total.
type scrapeErrorLog struct {
	log   *slog.Logger
	limit *everyMinute
}

// Println implements promhttp.Logger.
func (l scrapeErrorLog) Println(v ...any) {
	if l.limit.allow(time.Now()) {
		l.log.Warn("metrics scrape had errors; serving what could be gathered", "err", fmt.Sprint(v...))
	}
}

// everyMinute lets one event through per minute.
type everyMinute struct{ last atomic.Int64 }

func (e *everyMinute) allow(now time.Time) bool {
	n, last := now.UnixNano(), e.last.Load()
	return (last == 0 || n-last >= int64(time.Minute)) && e.last.CompareAndSwap(last, n)
}
