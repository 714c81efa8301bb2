package forwarders

import (
	"errors"
	"fmt"
	"log/slog"
	"text/template"

	"github.com/saker-sec/saker/forwarders/alertmanager"
	"github.com/saker-sec/saker/forwarders/discord"
	"github.com/saker-sec/saker/forwarders/elasticsearch"
	"github.com/saker-sec/saker/forwarders/googlechat"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/loki"
	"github.com/saker-sec/saker/forwarders/mattermost"
	"github.com/saker-sec/saker/forwarders/n8n"
	"github.com/saker-sec/saker/forwarders/rocketchat"
	"github.com/saker-sec/saker/forwarders/slack"
	"github.com/saker-sec/saker/forwarders/talon"
	"github.com/saker-sec/saker/forwarders/teams"
	"github.com/saker-sec/saker/forwarders/webhook"
)

// Setup is what FromEnv builds: the enabled targets and the dispatcher
// options read from the same configuration.
type Setup struct {
	Targets []Target
	Options Options
}

// Default batch sizes: chat targets get one message per alert anyway, so
// small batches keep a Slack outage's redelivery short; log stores take
// large pushes.
const (
	slackBatch   = 20
	webhookBatch = 100
	lokiBatch    = 500
	esBatch      = 500
	// With ELASTICSEARCH_BATCHING_ENABLED, BATCHSIZE (bytes) is the bound
	// that matters; this only caps one claim from the store.
	esBatchingMax = 10000
	// Alertmanager takes a list per request; chat services rate-limit
	// per webhook, one message per alert.
	alertmanagerBatch = 100
	chatBatch         = 20
)

// FromEnv reads the forwarders' configuration with falcosidekick's names:
// YAML keys (slack.webhookurl, elasticsearch.customheaders, …) overridden
// by env variables (SLACK_WEBHOOKURL, ELASTICSEARCH_CUSTOMHEADERS as
// "k:v,k2:v2"). A target is enabled when its address is set. Every problem
// (malformed URL, unknown priority, bad template, bad boolean, unreadable
// mTLS certificate) is reported at once, joined with errors.Join.
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
func FromEnv(lookup func(string) (string, bool), yamlConfig map[string]any, logger *slog.Logger) (*Setup, error) {
	if logger == nil {
		logger = slog.Default()
	}
	src := settings.New(lookup, yamlConfig)

	// Global enrichment is applied by the hub at ingestion; forwarders need
	// the field names (Loki labels them) and a bad template must fail here
	// too, since a forwarder-only deployment reads the same settings.
	var globalLabels []string
	custom := src.Map("customfields")
	for _, k := range settings.SortedKeys(custom) {
		globalLabels = append(globalLabels, k)
	}
	templated := src.Map("templatedfields")
	for _, k := range settings.SortedKeys(templated) {
		if _, err := template.New(k).Parse(templated[k]); err != nil {
			src.Errorf("templatedfields", "field %q: bad template: %v", k, err)
			continue
		}
		globalLabels = append(globalLabels, k)
	}

	opts := Options{
		Retry: RetryPolicy{
			MaxAttempts:    src.Int("forwarding.maxattempts", 0, 1),
			InitialBackoff: src.Duration("forwarding.initialbackoff", 0),
			MaxBackoff:     src.Duration("forwarding.maxbackoff", 0),
			Timeout:        src.Duration("forwarding.timeout", 0),
		},
		MinIdle: src.Duration("forwarding.minidle", 0),
	}
	httpOpts := outhttp.Options{TLS: src.TLS(), Timeout: opts.Retry.withDefaults().Timeout}

	var todo []pending
	if cfg, ok := slack.Load(src); ok {
		todo = append(todo, pending{"slack", func() (Forwarder, error) { return slack.New(cfg, httpOpts, logger) },
			Target{MinPriority: cfg.MinimumPriority, MaxConcurrent: cfg.MaxConcurrentRequests, MaxBatch: slackBatch, Endpoint: settings.RedactPath(cfg.WebhookURL)}})
	}
	if cfg, ok := elasticsearch.Load(src); ok {
		t := Target{MinPriority: cfg.MinimumPriority, MaxConcurrent: cfg.MaxConcurrentRequests, MaxBatch: esBatch, Endpoint: settings.Redact(cfg.HostPort)}
		if b := cfg.Batching; b.Enabled {
			t.MaxBatch, t.MaxBatchBytes, t.FlushInterval = esBatchingMax, b.BatchSize, b.FlushInterval
		}
		todo = append(todo, pending{"elasticsearch", func() (Forwarder, error) { return elasticsearch.New(cfg, httpOpts, logger) }, t})
	}
	if cfg, ok := loki.Load(src); ok {
		cfg.GlobalLabels = globalLabels
		todo = append(todo, pending{"loki", func() (Forwarder, error) { return loki.New(cfg, httpOpts, logger) },
			Target{MinPriority: cfg.MinimumPriority, MaxConcurrent: cfg.MaxConcurrentRequests, MaxBatch: lokiBatch, Endpoint: settings.Redact(cfg.URL())}})
	}
	if cfg, ok := webhook.Load(src); ok {
		todo = append(todo, pending{"webhook", func() (Forwarder, error) { return webhook.New(cfg, httpOpts, logger) },
			Target{MinPriority: cfg.MinimumPriority, MaxConcurrent: cfg.MaxConcurrentRequests, MaxBatch: webhookBatch, Endpoint: settings.Redact(cfg.Address)}})
	}
	todo = append(todo, moreOutputs(src, httpOpts, logger)...)
	if err := src.Err(); err != nil {
		return nil, fmt.Errorf("forwarders config: %w", err)
	}
	setup := &Setup{Options: opts}
	var errs []error
	for _, p := range todo {
		f, err := p.build()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.t.Name, p.t.Forwarder = p.name, f
		setup.Targets = append(setup.Targets, p.t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("forwarders config: %w", err)
	}
	return setup, nil
}

// pending is an enabled target whose forwarder is built once the whole
// configuration has been read without error.
type pending struct {
	name  string
	build func() (Forwarder, error)
	t     Target
}

// moreOutputs reads the outputs added after the first four; each package
// has its own Config, Load and New (see forwarders/<name>/).
func moreOutputs(src *settings.Source, httpOpts outhttp.Options, logger *slog.Logger) []pending {
	var todo []pending
	add := func(name string, build func() (Forwarder, error), c settings.Common, maxBatch int, endpoint string) {
		todo = append(todo, pending{name, build, Target{MinPriority: c.MinimumPriority, MaxConcurrent: c.MaxConcurrentRequests, MaxBatch: maxBatch, Endpoint: endpoint}})
	}
	if cfg, ok := alertmanager.Load(src); ok {
		add("alertmanager", func() (Forwarder, error) { return alertmanager.New(cfg, httpOpts, logger) },
			cfg.Common, alertmanagerBatch, settings.Redact(cfg.HostPorts[0]))
	}
	if cfg, ok := teams.Load(src); ok {
		add("teams", func() (Forwarder, error) { return teams.New(cfg, httpOpts, logger) },
			cfg.Common, chatBatch, settings.RedactPath(cfg.WebhookURL))
	}
	if cfg, ok := discord.Load(src); ok {
		add("discord", func() (Forwarder, error) { return discord.New(cfg, httpOpts, logger) },
			cfg.Common, chatBatch, settings.RedactPath(cfg.WebhookURL))
	}
	if cfg, ok := googlechat.Load(src); ok {
		add("googlechat", func() (Forwarder, error) { return googlechat.New(cfg, httpOpts, logger) },
			cfg.Common, chatBatch, settings.RedactPath(cfg.WebhookURL))
	}
	if cfg, ok := mattermost.Load(src); ok {
		add("mattermost", func() (Forwarder, error) { return mattermost.New(cfg, httpOpts, logger) },
			cfg.Common, chatBatch, settings.RedactPath(cfg.WebhookURL))
	}
	if cfg, ok := rocketchat.Load(src); ok {
		add("rocketchat", func() (Forwarder, error) { return rocketchat.New(cfg, httpOpts, logger) },
			cfg.Common, chatBatch, settings.RedactPath(cfg.WebhookURL))
	}
	if cfg, ok := talon.Load(src); ok {
		add("talon", func() (Forwarder, error) { return talon.New(cfg, httpOpts, logger) },
			cfg.Common, webhookBatch, settings.Redact(cfg.Address))
	}
	if cfg, ok := n8n.Load(src); ok {
		add("n8n", func() (Forwarder, error) { return n8n.New(cfg, httpOpts, logger) },
			cfg.Common, webhookBatch, settings.Redact(cfg.Address))
	}
	return todo
}
