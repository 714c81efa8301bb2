package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub"
)

func init() { hubParts["forwarders"] = part{order: 20, setup: setupForwarders} }

// activeDispatcher is the running dispatcher, for the dashboard's info view.
var activeDispatcher atomic.Pointer[forwarders.Dispatcher]

// forwardersAPI serves the forwarders' status and dead letters (list,
// inspect, replay, drop: forwarders.Dispatcher.Handler) for the dashboard
// to mount under /api/v1/forwarders behind its login; 503 before the
// forwarders start or when none is configured.
var forwardersAPI http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if h := activeAPI.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, `{"error":"no forwarder running"}`+"\n")
})

var activeAPI atomic.Pointer[http.Handler]

// forwardersStatus reports the forwarders for web.Options.Forwarders; nil
// before they start or when none is configured.
func forwardersStatus(ctx context.Context) []forwarders.Status {
	if d := activeDispatcher.Load(); d != nil {
		return d.Status(ctx)
	}
	return nil
}

// setupForwarders builds the targets enabled in the hub's configuration
// (falcosidekick's SLACK_*, ELASTICSEARCH_*, LOKI_*, WEBHOOK_* settings)
// and opens their consumer groups before the hub accepts alerts; the
// returned run delivers stored alerts to them until ctx ends. A bad
// configuration stops the process at start-up.
func setupForwarders(ctx context.Context, h *hub.Hub, log *slog.Logger) (func(context.Context) error, error) {
	cfg := h.Config()
	setup, err := forwarders.FromEnv(cfg.LookupEnv(), cfg.YAML(), log)
	if err != nil {
		return nil, err
	}
	if len(setup.Targets) == 0 {
		log.Info("no forwarder configured")
		return nil, nil
	}
	setup.Options.Outputs = h.Metrics().Outputs
	d, err := forwarders.NewDispatcher(h.Store(), setup.Targets, log, h.Registry(), setup.Options)
	if err != nil {
		return nil, fmt.Errorf("forwarders: %w", err)
	}
	if err := d.Prepare(ctx); err != nil {
		return nil, err
	}
	activeDispatcher.Store(d)
	api := d.Handler()
	activeAPI.Store(&api)
	log.Info("forwarding alerts", "targets", d.Targets())
	return d.Run, nil
}
