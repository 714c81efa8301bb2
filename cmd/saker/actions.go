package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub"
	"github.com/saker-sec/saker/hub/actions"
	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/sensor/response"
	"github.com/saker-sec/saker/sensor/response/k8spod"
)

// buildActions loads the hub's actions file (SAKER_ACTIONS_FILE) and opens
// the runner's consumer group over the hub's store, before the hub accepts
// its first alert; nil without a file. A bad file stops the hub at start.
func buildActions(ctx context.Context, h *hub.Hub, cfg config.Actions, log *slog.Logger) (*actions.Runner, error) {
	if cfg.File == "" {
		return nil, nil
	}
	acts, err := actions.LoadFile(cfg.File)
	if err != nil {
		return nil, err
	}
	opts := actions.Options{Consumer: forwarders.DefaultConsumer(), Logger: log, Registerer: h.Registry()}
	if slices.ContainsFunc(acts.Actions, func(a response.Action) bool { return response.IsPodAction(a.Action) }) {
		if opts.Pods, err = k8spod.New(k8spod.Config{Kubeconfig: cfg.Kubeconfig, APIServer: cfg.APIServer, UserAgent: "saker/" + version}); err != nil {
			return nil, fmt.Errorf("actions %s: %w", cfg.File, err)
		}
	}
	r, err := actions.New(acts, h.Store(), opts)
	if err != nil {
		return nil, fmt.Errorf("actions %s: %w", cfg.File, err)
	}
	if err := r.Prepare(ctx); err != nil {
		return nil, err
	}
	log.Info("response actions enabled", "file", cfg.File, "actions", len(acts.Actions), "dry_run", acts.DryRun)
	return r, nil
}
