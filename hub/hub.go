// Package hub assembles the hub process: it opens the store (Redis when
// REDIS_ADDRESS is set, the embedded store otherwise), serves the
// falcosidekick-compatible ingestion API on :2801 (optionally TLS / mutual
// TLS plus a plain-HTTP port for probe paths), and on
// Stop drains in-flight requests before closing the store, so an alert
// answered 200 is never lost.
//
// The dashboard (web/) and the forwarders plug in through Store, Health
// and Metrics.
package hub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/valyala/fasthttp"

	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/ingest"
	"github.com/saker-sec/saker/hub/k8saudit"
	"github.com/saker-sec/saker/hub/listen"
	"github.com/saker-sec/saker/hub/metrics"
	"github.com/saker-sec/saker/hub/store"
)

// ShutdownTimeout bounds how long Run waits for in-flight requests.
const ShutdownTimeout = 30 * time.Second

// Hub is a running (or ready to run) hub.
type Hub struct {
	cfg     *config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	store   store.Store
	metrics *metrics.Metrics
	handler http.Handler
	fast    api.FastRoutes // the ingestion port's handler (fasthttp)

	mu        sync.Mutex
	srv       *fasthttp.Server
	srvLn     net.Listener // srv's listener, closed by Stop even if Serve has not taken it yet
	plainSrv  *http.Server
	auditSrv  *http.Server // K8SAUDIT_LISTENPORT: /k8s-audit alone
	auditAddr string
	pprofSrv  *http.Server // PPROF_ADDRESS: net/http/pprof
	pprofAddr string
	addr      string
	bg        sync.WaitGroup
	inflight  sync.WaitGroup // handlers running, so Stop never closes the store under one
	started   bool
	stopped   bool
	stopErr   error
}

// New opens the configured store and builds the hub. registry receives the
// hub's metrics and is served on /metrics; nil creates one (with Go and
// process collectors).
func New(cfg *config.Config, logger *slog.Logger, registry *prometheus.Registry) (*Hub, error) {
	if logger == nil {
		logger = slog.Default()
	}
	st, err := openStore(cfg, logger)
	if err != nil {
		return nil, err
	}
	h, err := NewWithStore(cfg, logger, registry, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	return h, nil
}

// OpenStore opens the store cfg selects: Redis when addresses are set,
// otherwise the embedded store in cfg.DataDir (default ./.saker-data).
func OpenStore(cfg *config.Config) (store.Store, error) {
	return openStore(cfg, slog.Default())
}

func openStore(cfg *config.Config, logger *slog.Logger) (store.Store, error) {
	if len(cfg.Redis.Addresses) > 0 {
		return openRedis(cfg)
	}
	return openEmbedded(cfg, logger)
}

// corruptionReporter is a store that detects damaged records on open.
type corruptionReporter interface {
	Corruption() (spans, bytes int64)
}

// DefaultDataDir is the embedded store's directory when none is configured.
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		if fi, err := os.Stat("/var/lib"); err == nil && fi.IsDir() {
			return "/var/lib/saker"
		}
	}
	return filepath.Join(".", ".saker-data")
}

// NewWithStore builds a hub over an already open store, which the hub then
// owns (Stop closes it).
func NewWithStore(cfg *config.Config, logger *slog.Logger, registry *prometheus.Registry, st store.Store) (*Hub, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if registry == nil {
		registry = prometheus.NewRegistry()
		registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	enr, err := ingest.NewEnricher(ingest.Options{
		CustomFields:      cfg.CustomFields,
		TemplatedFields:   cfg.TemplatedFields,
		CustomTags:        cfg.CustomTags,
		BracketReplacer:   cfg.BracketReplacer,
		OutputFieldFormat: cfg.OutputFieldFormat,
	})
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	var audit api.AuditEvaluator
	if cfg.K8sAudit.Enabled {
		ev, err := k8saudit.New(k8saudit.Options{RulesFiles: cfg.K8sAudit.RulesFiles, All: cfg.K8sAudit.RuleMatching == "all"})
		if err != nil {
			return nil, fmt.Errorf("hub: %w", err)
		}
		logger.Info("k8s audit input", "path", api.K8sAuditPath, "rules", ev.Rules(), "files", cfg.K8sAudit.RulesFiles)
		audit = ev
	}
	m := metrics.NewWith(registry, metrics.Options{EventFields: cfg.EventFields()})
	if cr, ok := st.(corruptionReporter); ok {
		registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "saker_hub_store_damaged_records_total",
				Help: "Damaged store records (spans of the embedded log) skipped and quarantined when the store opened.",
			}, func() float64 { n, _ := cr.Corruption(); return float64(n) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "saker_hub_store_damaged_bytes_total",
				Help: "Bytes of damaged store records skipped and quarantined when the store opened.",
			}, func() float64 { _, n := cr.Corruption(); return float64(n) }),
		)
	}
	h := &Hub{cfg: cfg, log: logger, reg: registry, store: st, metrics: m}
	srv := &api.Server{
		Store:          st,
		Enricher:       enr,
		Metrics:        m,
		Gatherer:       registry,
		Log:            logger,
		Debug:          cfg.Debug,
		BodyLimit:      cfg.BodyLimit,
		BatchBodyLimit: cfg.BatchBodyLimit,
		BatchMaxEvents: cfg.BatchMaxEvents,

		K8sAudit:          audit,
		K8sAuditBodyLimit: cfg.K8sAudit.BodyLimit,
	}
	inner := srv.Handler()
	h.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.inflight.Add(1)
		defer h.inflight.Done()
		inner.ServeHTTP(w, r)
	})
	h.fast = srv.Fast(inner)
	fast := h.fast.Handler
	h.fast.Handler = func(ctx *fasthttp.RequestCtx) {
		h.inflight.Add(1)
		defer h.inflight.Done()
		fast(ctx)
	}
	return h, nil
}

// Start binds the listeners and serves in the background; it returns once
// the hub accepts connections (Addr is then valid). ctx bounds the
// background work, as Stop does.
func (h *Hub) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		return errors.New("hub: already started")
	}
	h.started = true

	caps := listen.DefaultCaps()
	ln, err := listen.TCP(h.cfg.Addr(), caps.Ingest)
	if err != nil {
		return fmt.Errorf("hub: listen %s: %w", h.cfg.Addr(), err)
	}
	h.addr = ln.Addr().String()
	h.srv = listen.FastServer(nil, h.log)
	h.fast.Apply(h.srv)
	tc := h.cfg.TLSServer
	if tc.Deploy {
		tlsCfg, err := serverTLS(tc)
		if err != nil {
			ln.Close()
			return err
		}
		ln = tls.NewListener(ln, tlsCfg)
		if len(tc.NoTLSPaths) > 0 {
			pln, err := listen.TCP(net.JoinHostPort(h.cfg.ListenAddress, fmt.Sprint(tc.NoTLSPort)), caps.Aux)
			if err != nil {
				ln.Close()
				return fmt.Errorf("hub: listen plain-HTTP port %d: %w", tc.NoTLSPort, err)
			}
			h.plainSrv = h.newServer(onlyPaths(tc.NoTLSPaths, h.handler))
			h.serve(h.plainSrv, pln, "http (no TLS paths)")
		}
	}
	h.srvLn = ln
	h.serveFast(h.srv, ln, map[bool]string{true: "https", false: "http"}[tc.Deploy])
	if h.cfg.PprofAddress != "" {
		pln, err := listen.TCP(h.cfg.PprofAddress, caps.Aux)
		if err != nil {
			return fmt.Errorf("hub: listen pprof %s: %w", h.cfg.PprofAddress, err)
		}
		h.pprofAddr = pln.Addr().String()
		h.pprofSrv = h.newServer(pprofHandler())
		h.pprofSrv.WriteTimeout = 0 // profiles stream for their ?seconds=
		h.serve(h.pprofSrv, pln, "pprof")
		h.log.Warn("hub: pprof listener on (PPROF_ADDRESS); keep it private", "addr", h.pprofAddr)
	}
	if p := h.cfg.K8sAudit.ListenPort; p > 0 && h.cfg.K8sAudit.Enabled {
		// Falco's k8saudit plugin listens on :9765/k8s-audit; API
		// servers configured for it keep their webhook URL.
		aln, err := listen.TCP(net.JoinHostPort(h.cfg.ListenAddress, fmt.Sprint(p)), caps.Aux)
		if err != nil {
			_ = h.srv.Shutdown() // nothing served yet: no connection to wait for
			return fmt.Errorf("hub: listen k8s audit port %d: %w", p, err)
		}
		h.auditAddr = aln.Addr().String()
		h.auditSrv = h.newServer(onlyPath(api.K8sAuditPath, h.handler))
		h.serve(h.auditSrv, aln, "http (k8s audit)")
	}

	h.log.Info("hub listening", "addr", h.addr, "tls", tc.Deploy, "mutual_tls", tc.Deploy && tc.MutualTLS, "store", h.store.Health(ctx).Detail)
	return nil
}

func (h *Hub) newServer(handler http.Handler) *http.Server {
	return listen.Server(handler, h.log)
}

func (h *Hub) serve(srv *http.Server, ln net.Listener, kind string) {
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("hub: serve", "kind", kind, "err", err)
		}
	}()
}

func (h *Hub) serveFast(srv *fasthttp.Server, ln net.Listener, kind string) {
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		if err := srv.Serve(ln); err != nil {
			h.log.Error("hub: serve", "kind", kind, "err", err)
		}
	}()
}

// pprofHandler serves net/http/pprof's pages on their usual /debug/pprof/
// paths, on a listener of its own (never on the ingestion port).
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// PprofAddr is the profiling listener's address, "" when it is off.
func (h *Hub) PprofAddr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pprofAddr
}

func onlyPaths(paths []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(paths, r.URL.Path) {
			http.Error(w, `{"error":"this path is only served over TLS"}`, http.StatusNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// onlyPath serves path alone (the k8s audit port).
func onlyPath(path string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.Error(w, `{"error":"this port serves only `+path+`"}`, http.StatusNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func serverTLS(tc config.TLSServer) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(tc.CertFile, tc.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("hub: load TLS certificate %s: %w", tc.CertFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if tc.MutualTLS {
		pem, err := os.ReadFile(tc.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("hub: read client CA %s: %w", tc.CACertFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("hub: no certificate in client CA %s", tc.CACertFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Run starts the hub, serves until ctx ends, then stops it gracefully.
func (h *Hub) Run(ctx context.Context) error {
	if err := h.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	return h.Stop(sctx)
}

// Stop stops accepting connections, waits for in-flight requests to finish
// (each one that answered 200 has its alert durable), and
// closes the store. ctx bounds the wait; requests still running then are
// cut off without an answer, so their senders retry. Stop is idempotent.
func (h *Hub) Stop(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return h.stopErr
	}
	h.stopped = true
	var errs []error
	if h.srv != nil {
		// Requests still running when ctx ends keep their connection
		// until they finish (fasthttp cannot cut one off); the inflight
		// wait below bounds that.
		if err := h.srv.ShutdownWithContext(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain requests: %w", err))
		}
		// Shutdown closes only the listeners Serve has registered: a
		// Stop right after Start may come first, and Serve would then
		// never return.
		_ = h.srvLn.Close()
	}
	for _, srv := range []*http.Server{h.plainSrv, h.auditSrv, h.pprofSrv} {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain requests: %w", err))
			srv.Close()
		}
	}
	// Shutdown returns early when ctx expires; handlers cut off then may
	// still be inside Store.Append. Their clients get no answer (so they
	// retry), but the store must outlive them.
	waitInflight := make(chan struct{})
	go func() { h.inflight.Wait(); close(waitInflight) }()
	select {
	case <-waitInflight:
	case <-time.After(10 * time.Second):
		errs = append(errs, errors.New("handlers still running 10s after shutdown"))
	}
	h.bg.Wait()
	if err := h.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close store: %w", err))
	}
	h.stopErr = errors.Join(errs...)
	if h.stopErr == nil {
		h.log.Info("hub stopped")
	}
	return h.stopErr
}

// Addr is the ingestion listener's address ("127.0.0.1:2801") once started.
func (h *Hub) Addr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addr
}

// K8sAuditAddr is the k8s audit listener's address once started, "" when
// K8SAUDIT_LISTENPORT is not set.
func (h *Hub) K8sAuditAddr() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.auditAddr
}

// Handler is the :2801 HTTP handler (for embedding and tests).
func (h *Hub) Handler() http.Handler { return h.handler }

// Store is the hub's store, for the dashboard and the forwarders.
func (h *Hub) Store() store.Store { return h.store }

// Metrics are the hub's collectors; forwarders count outputs here.
func (h *Hub) Metrics() *metrics.Metrics { return h.metrics }

// Registry is the Prometheus registry served on /metrics.
func (h *Hub) Registry() *prometheus.Registry { return h.reg }

// Config is the hub's configuration.
func (h *Hub) Config() *config.Config { return h.cfg }

// Health reports the store's health.
func (h *Hub) Health(ctx context.Context) store.Health { return h.store.Health(ctx) }
