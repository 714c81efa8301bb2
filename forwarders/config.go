package forwarders

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/config"
)

// Config is the forwarders' decoded configuration: delivery options, the
// global client TLS files, and the enabled outputs in start order.
type Config struct {
	Options Options
	TLS     settings.TLS
	Outputs []OutputConfig
}

// Setup is what Build makes of a Config: the targets and the dispatcher
// options.
type Setup struct {
	Targets []Target
	Options Options
}

// LoadConfig reads the forwarders' settings with falcosidekick's names
// (YAML slack.webhookurl or env SLACK_WEBHOOKURL, …; config.Source has the
// precedence rule) from the hub's Source. An output is enabled when its
// address is set. Values with a safe fallback are warnings (see package
// settings); the rest are reported at once, joined with errors.Join.
//
// Beyond falcosidekick: FORWARDING_MAXATTEMPTS (12), FORWARDING_INITIALBACKOFF
// (500ms), FORWARDING_MAXBACKOFF (30s), FORWARDING_TIMEOUT (10s) and
// FORWARDING_MINIDLE (60s) tune delivery.
//
// <OUT>_MAXCONCURRENTREQUESTS (1) bounds each target's requests in flight.
// ELASTICSEARCH_BATCHING_ENABLED makes Elasticsearch batches wait up to
// ELASTICSEARCH_BATCHING_FLUSHINTERVAL (1s) to fill, each _bulk request at
// most ELASTICSEARCH_BATCHING_BATCHSIZE bytes (5242880); without it the
// batch is whatever is queued (up to 500 alerts), sent at once.
func LoadConfig(hubSrc *config.Source, g Globals) (*Config, error) {
	src := settings.From(hubSrc)
	cfg := &Config{
		Options: Options{
			Retry: RetryPolicy{
				MaxAttempts:    src.Int("forwarding.maxattempts", 0, 1),
				InitialBackoff: src.Duration("forwarding.initialbackoff", 0),
				MaxBackoff:     src.Duration("forwarding.maxbackoff", 0),
				Timeout:        src.Duration("forwarding.timeout", 0),
			},
			MinIdle: src.Duration("forwarding.minidle", 0),
		},
		TLS: src.TLS(),
	}
	src.Section("forwarding")
	for _, o := range outputs {
		src.Section(o.name)
		if oc, ok := o.load(src, g); ok {
			cfg.Outputs = append(cfg.Outputs, oc)
		}
	}
	if err := src.Err(); err != nil {
		return nil, fmt.Errorf("forwarders config: %w", err)
	}
	return cfg, nil
}

// Build makes the enabled outputs' forwarders (HTTP clients, TLS files),
// reporting every failure at once.
func (c *Config) Build(logger *slog.Logger) (*Setup, error) {
	if logger == nil {
		logger = slog.Default()
	}
	httpOpts := outhttp.Options{TLS: c.TLS, Timeout: c.Options.Retry.withDefaults().Timeout}
	setup := &Setup{Options: c.Options}
	var errs []error
	for _, oc := range c.Outputs {
		f, err := oc.build(httpOpts, logger)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t := oc.Target
		t.Forwarder = f
		setup.Targets = append(setup.Targets, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("forwarders config: %w", err)
	}
	return setup, nil
}

// FromEnv decodes the hub's and the forwarders' settings from an
// environment lookup and a parsed YAML document (either may be nil) and
// builds the forwarders: LoadConfig then Build, for tests and embedding.
// Warnings are logged.
func FromEnv(lookup func(string) (string, bool), yamlConfig map[string]any, logger *slog.Logger) (*Setup, error) {
	if logger == nil {
		logger = slog.Default()
	}
	src := config.NewSource(yamlConfig, lookup, nil)
	var g Globals
	if hubCfg, err := config.Decode(src); err == nil {
		g.Fields = hubCfg.GlobalFields()
	}
	// LoadConfig reports the hub's errors too: every problem at once.
	cfg, err := LoadConfig(src, g)
	if err != nil {
		return nil, err
	}
	for _, w := range src.Warnings() {
		logger.Warn("configuration: " + w)
	}
	return cfg.Build(logger)
}
