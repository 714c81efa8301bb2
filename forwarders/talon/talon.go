// Package talon sends each alert as its Falco JSON payload to Falco Talon,
// the response engine, as falcosidekick's talon output does: Talon matches
// its rules on the payload and runs the actions.
package talon

import (
	"fmt"
	"log/slog"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the Talon output's configuration (TALON_*).
type Config struct {
	Address string // TALON_ADDRESS (http://falco-talon:2803); enables the output
	settings.Common
}

// Load reads the Talon settings; enabled is false without an address.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.Address = src.String("talon.address", "")
	if cfg.Address == "" {
		return cfg, false
	}
	src.URL("talon.address", cfg.Address)
	cfg.Common = src.Common("talon")
	return cfg, true
}

// New builds a Talon forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*outhttp.PerAlert, error) {
	p, err := outhttp.NewPoster(cfg.Address, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("talon: %w", err)
	}
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return a }}, nil
}
