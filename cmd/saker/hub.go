package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub"
	"github.com/saker-sec/saker/hub/api"
	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/web"
)

// part is a component that runs next to the hub in one process: the
// dashboard, the forwarders, and (in `saker up` only) the sensor. run must
// return soon after ctx ends, having released what it holds; parts stop
// before the hub does, so a part may still post to the hub or read its store
// while stopping.
type part struct {
	order int // start order, ascending; stop order is the reverse
	run   func(ctx context.Context, h *hub.Hub, log *slog.Logger) error
	// setup, when set instead of run, runs before the hub accepts its
	// first connection and returns the part's run function (nil: nothing
	// to run). The forwarders create their consumer groups here, so every
	// alert answered 200 comes after them. An error stops start-up.
	setup func(ctx context.Context, h *hub.Hub, log *slog.Logger) (func(ctx context.Context) error, error)
}

// hubParts run with `saker hub` and `saker up`, upParts only with `saker up`.
// Register from init() in your own file, keyed by name:
//
//	func init() { hubParts["forwarders"] = part{order: 20, run: runForwarders} }
//	func init() { upParts["sensor"] = part{order: 30, run: runSensor} }   // sensor engineer
//
// The sensor part finds the hub's ingestion address with h.Addr() and its
// store with h.Store(); it is skipped by its own run func when not root.
var (
	hubParts = map[string]part{}
	upParts  = map[string]part{}
)

func init() {
	commands["hub"] = command{"run the hub (:2801) and the dashboard (:2802)", func(ctx context.Context, args []string) error {
		return runHub(ctx, "hub", args, hubParts)
	}}
	hubParts["dashboard"] = part{order: 10, run: runDashboard}
}

func runHub(ctx context.Context, name string, args []string, parts map[string]part) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfgPath := fs.String("c", os.Getenv("SAKER_CONFIG"), "YAML configuration file (falcosidekick's format); env vars override it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	h, err := hub.New(cfg, log, nil)
	if err != nil {
		return err
	}

	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := parts[names[i]], parts[names[j]]
		if a.order != b.order {
			return a.order < b.order
		}
		return names[i] < names[j]
	})
	partCtx, stopParts := context.WithCancel(context.WithoutCancel(ctx))
	defer stopParts()
	runs := make(map[string]func(context.Context) error, len(names))
	for _, n := range names {
		p := parts[n]
		if p.setup == nil {
			runs[n] = func(ctx context.Context) error { return p.run(ctx, h, log.With("part", n)) }
			continue
		}
		run, err := p.setup(ctx, h, log.With("part", n))
		if err != nil {
			h.Stop(context.Background())
			return fmt.Errorf("%s: %w", n, err)
		}
		if run != nil {
			runs[n] = run
		}
	}
	if err := h.Start(ctx); err != nil {
		h.Stop(context.Background())
		return err
	}

	var wg sync.WaitGroup
	failed := make(chan error, len(names))
	for _, n := range names {
		run := runs[n]
		if run == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(partCtx); err != nil && partCtx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", n, err)
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

// runDashboard serves web/ on UI_LISTENPORT (2802), with the hub's query
// API mounted behind its login.
func runDashboard(ctx context.Context, h *hub.Hub, log *slog.Logger) error {
	cfg := h.Config()
	sessions, closeSessions, err := openSessions(cfg)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	defer closeSessions()
	tlsSet := web.TLSFromEnv()
	tlsCfg, err := tlsSet.ServerConfig()
	if err != nil {
		return err
	}
	dash, err := web.New(web.Options{
		Store:      h.Store(),
		API:        api.QueryRoutes(h.Store()),
		Version:    version,
		Auth:       web.AuthFromEnv(),
		Sessions:   sessions,
		TLS:        tlsSet,
		Logger:     log,
		Forwarders: forwardersStatus,
		Info: map[string]string{
			"ingest_address":    h.Addr(),
			"dashboard_address": cfg.UIAddr(),
			"store":             h.Health(ctx).Detail,
		},
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.UIAddr())
	if err != nil {
		dash.Close()
		return fmt.Errorf("dashboard: listen %s: %w", cfg.UIAddr(), err)
	}
	srv := &http.Server{Handler: dash, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, TLSConfig: tlsCfg}
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
