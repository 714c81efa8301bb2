package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/forwarders/status"
	"github.com/saker-sec/saker/hub"
	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/listen"
	"github.com/saker-sec/saker/web"
)

// settings is every part's configuration, decoded once from one Source.
type settings struct {
	hub        *config.Config
	auth       web.Auth
	uiTLS      web.TLS
	forwarders *forwarders.Config
	effective  config.Effective
}

// decodeSettings reads each part's section from src. On error the
// effective configuration read so far is still returned, for --print-config.
func decodeSettings(src *config.Source) (*settings, error) {
	s := &settings{}
	var g forwarders.Globals
	if hub, err := config.Decode(src); err == nil {
		s.hub, g.Fields = hub, hub.GlobalFields()
	}
	s.auth = web.LoadAuth(src)
	s.uiTLS = web.LoadTLS(src)
	// Every part is decoded even after an error, so that start-up reports
	// all problems at once and --print-config shows everything.
	var err error
	s.forwarders, err = forwarders.LoadConfig(src, g)
	s.effective = src.Effective()
	if err == nil {
		err = src.Err()
	}
	return s, err
}

// logWarnings logs, loudly and one line each, every configuration value
// that was ignored or replaced by a default.
func logWarnings(log *slog.Logger, e config.Effective) {
	for _, w := range e.Warnings {
		log.Warn("configuration: "+w, "hint", "saker hub --print-config shows the effective configuration")
	}
}

// part runs next to the hub in one process until ctx ends, then returns
// soon, having released what it holds. Parts stop before the hub does, so a
// part may still post to the hub or read its store while stopping.
type part struct {
	name string
	run  func(ctx context.Context) error
}

// runHub is the composition root of `saker hub` and `saker up`: it decodes
// every part's configuration from one Source (the -c file under the
// environment), then builds the parts in order, passing each its section
// and its dependencies as values: the hub (store, ingestion), the
// forwarders (reading the hub's store), the response actions
// (SAKER_ACTIONS_FILE, reading it too), the dashboard (given the
// forwarders' status and the effective configuration) and, in `up`, the
// sensor (posting to the hub).
func runHub(ctx context.Context, name string, args []string, withSensor bool, stdout io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfgPath := fs.String("c", os.Getenv("SAKER_CONFIG"), "YAML configuration file (falcosidekick's format); non-empty env vars override it")
	printConfig := fs.Bool("print-config", false, "print the effective configuration (secrets masked) and its warnings, then exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var doc map[string]any
	if *cfgPath != "" {
		var err error
		if doc, err = config.ReadFile(*cfgPath); err != nil {
			return err
		}
	}
	conf, err := decodeSettings(config.NewSource(doc, os.LookupEnv, os.Environ))
	if *printConfig {
		if ferr := conf.effective.Format(stdout); ferr != nil {
			return ferr
		}
		return err
	}
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if conf.hub.Debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	logWarnings(log, conf.effective)
	gc := hubGC(os.LookupEnv, memoryBytes())
	gc.apply()
	log.Debug("garbage collector", "gogc", gc.percent, "memory_limit", gc.limit)

	h, err := hub.New(conf.hub, log, nil)
	if err != nil {
		return err
	}
	fwd, err := buildForwarders(ctx, h, conf.forwarders, log.With("part", "forwarders"))
	if err != nil {
		h.Stop(context.Background())
		return err
	}
	runner, err := buildActions(ctx, h, conf.hub.Actions, log.With("part", "actions"))
	if err != nil {
		h.Stop(context.Background())
		return err
	}
	parts := []part{
		{"forwarders", fwd.run},
		{"dashboard", func(ctx context.Context) error {
			return runDashboard(ctx, h, conf, fwd.status(), fwd.api(), log.With("part", "dashboard"))
		}},
	}
	if runner != nil {
		parts = append(parts, part{"actions", runner.Run})
	}
	if withSensor {
		parts = append(parts, part{"sensor", func(ctx context.Context) error {
			return runSensorPart(ctx, h, os.Getenv("SAKER_SENSOR_CONFIG"), log.With("part", "sensor"))
		}})
	}
	if err := h.Start(ctx); err != nil {
		h.Stop(context.Background())
		return err
	}
	return runParts(ctx, h, parts, log)
}

// runParts runs parts until ctx ends or one fails, then stops them all and
// then the hub.
func runParts(ctx context.Context, h *hub.Hub, parts []part, log *slog.Logger) error {
	partCtx, stopParts := context.WithCancel(context.WithoutCancel(ctx))
	defer stopParts()
	var wg sync.WaitGroup
	failed := make(chan error, len(parts))
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.run(partCtx); err != nil && partCtx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", p.name, err)
			}
		}()
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-failed:
		log.Error("part failed; shutting down", "err", runErr)
	}
	// Parts first (the sensor flushes into the hub, the dashboard drops
	// its websockets), then the hub drains its requests and closes the
	// store.
	stopParts()
	wg.Wait()
	sctx, cancel := context.WithTimeout(context.Background(), hub.ShutdownTimeout)
	defer cancel()
	return errors.Join(runErr, h.Stop(sctx))
}

// forwarderPart is the forwarders built over the hub's store.
type forwarderPart struct {
	d   *forwarders.Dispatcher // nil when no output is configured
	log *slog.Logger
}

// buildForwarders builds the enabled outputs (falcosidekick's SLACK_*,
// ELASTICSEARCH_*, LOKI_*, WEBHOOK_*, … settings) and their dispatcher over
// the hub's store, and opens their consumer groups: it runs before the hub
// accepts its first connection, so every alert answered 200 comes after
// them. A bad configuration stops the process at start-up.
func buildForwarders(ctx context.Context, h *hub.Hub, cfg *forwarders.Config, log *slog.Logger) (*forwarderPart, error) {
	setup, err := cfg.Build(log)
	if err != nil {
		return nil, err
	}
	p := &forwarderPart{log: log}
	if len(setup.Targets) == 0 {
		return p, nil
	}
	setup.Options.Outputs = h.Metrics().Outputs
	if p.d, err = forwarders.NewDispatcher(h.Store(), setup.Targets, log, h.Registry(), setup.Options); err != nil {
		return nil, fmt.Errorf("forwarders: %w", err)
	}
	if err := p.d.Prepare(ctx); err != nil {
		return nil, fmt.Errorf("forwarders: %w", err)
	}
	return p, nil
}

// run delivers stored alerts until ctx ends.
func (p *forwarderPart) run(ctx context.Context) error {
	if p.d == nil {
		p.log.Info("no forwarder configured")
		<-ctx.Done()
		return nil
	}
	p.log.Info("forwarding alerts", "targets", p.d.Targets())
	return p.d.Run(ctx)
}

// api serves the forwarders' status and dead letters (list, inspect,
// replay, drop: forwarders.Dispatcher.Handler) for the dashboard to mount
// under /api/v1/forwarders behind its login; 503 when no output is
// configured.
func (p *forwarderPart) api() http.Handler {
	if p.d != nil {
		return p.d.Handler()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"no forwarder configured"}`+"\n")
	})
}

// status is the dashboard's view of the forwarders; nil without any.
func (p *forwarderPart) status() status.Func {
	if p.d == nil {
		return nil
	}
	return p.d.Status
}

// runDashboard serves web/ on UI_LISTENPORT (2802), with the hub's query
// API mounted behind its login.
func runDashboard(ctx context.Context, h *hub.Hub, conf *settings, fwd status.Func, fwdAPI http.Handler, log *slog.Logger) error {
	cfg := conf.hub
	sessions, loginLimits, closeSessions, err := openSessions(cfg)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	defer closeSessions()
	tlsCfg, err := conf.uiTLS.ServerConfig()
	if err != nil {
		return err
	}
	dash, err := web.New(web.Options{
		Store:         h.Store(),
		API:           api.QueryRoutes(h.Store()),
		Version:       version,
		Auth:          conf.auth,
		Sessions:      sessions,
		LoginLimiter:  loginLimits,
		TLS:           conf.uiTLS,
		Config:        &conf.effective,
		Logger:        log,
		Forwarders:    fwd,
		ForwardersAPI: fwdAPI,
		Info: map[string]string{
			"ingest_address":    h.Addr(),
			"dashboard_address": cfg.UIAddr(),
			"store":             h.Health(ctx).Detail,
		},
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	ln, err := listen.TCP(cfg.UIAddr(), listen.DefaultCaps().Dashboard)
	if err != nil {
		dash.Close()
		return fmt.Errorf("dashboard: listen %s: %w", cfg.UIAddr(), err)
	}
	srv := listen.Server(dash, log)
	srv.TLSConfig = tlsCfg
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	log.Info("dashboard listening", "addr", ln.Addr().String(), "tls", tlsCfg != nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		dash.Close()
		return fmt.Errorf("dashboard: %w", err)
	}
	dash.Close() // websockets are long-lived: close them before draining
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
