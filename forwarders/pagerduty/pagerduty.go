// Package pagerduty triggers a PagerDuty incident per alert through the
// Events API v2 with PagerDuty's go-pagerduty client, in falcosidekick's
// shape: source "falco", the output as summary, severity critical, the
// alert's time and its output fields (plus hostname) as custom details.
// Beyond falcosidekick: rule, priority, source and tags are added to the
// details (its code builds them but never sends them), and the alert's
// uuid is the dedup_key, so a redelivery after a lost answer updates the
// same incident instead of paging twice.
package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	gopd "github.com/PagerDuty/go-pagerduty"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Events API endpoints by PAGERDUTY_REGION.
const (
	USEndpoint = "https://events.pagerduty.com"
	EUEndpoint = "https://events.eu.pagerduty.com"
)

// Config is the PagerDuty output's configuration (PAGERDUTY_*).
type Config struct {
	RoutingKey string // PAGERDUTY_ROUTINGKEY; enables the output
	Region     string // PAGERDUTY_REGION: us (default) or eu
	// Endpoint is the Events API base URL, from Region (tests point it at
	// a loopback peer).
	Endpoint string
	settings.Common
}

// Load reads the PagerDuty settings; enabled is false without a routing key.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.RoutingKey = src.String("pagerduty.routingkey", "")
	if cfg.RoutingKey == "" {
		return cfg, false
	}
	cfg.Region = src.Enum("pagerduty.region", "us", "us", "eu")
	cfg.Endpoint = USEndpoint
	if cfg.Region == "eu" {
		cfg.Endpoint = EUEndpoint
	}
	cfg.Common = src.Common("pagerduty")
	return cfg, true
}

// Event returns the Events API v2 trigger for one alert.
func Event(cfg *Config, a *alert.Alert) *gopd.V2Event {
	details := make(map[string]any, len(a.OutputFields)+5)
	for k, v := range a.OutputFields {
		details[k] = v
	}
	if a.Hostname != "" {
		details["hostname"] = a.Hostname
	}
	details["rule"] = a.Rule
	details["priority"] = a.Priority.String()
	details["source"] = a.Source
	if t := render.Tags(a, ", "); t != "" {
		details["tags"] = t
	}
	return &gopd.V2Event{
		RoutingKey: cfg.RoutingKey,
		Action:     "trigger",
		DedupKey:   a.UUID,
		Payload: &gopd.V2Payload{
			Source:    "falco",
			Summary:   a.Output,
			Severity:  "critical",
			Timestamp: a.Time.Format(time.RFC3339),
			Details:   details,
		},
	}
}

// Forwarder sends alerts to PagerDuty.
type Forwarder struct {
	cfg    Config
	client *gopd.Client
}

// New builds a PagerDuty forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*Forwarder, error) {
	httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
	hc, err := outhttp.NewClient(httpOpts)
	if err != nil {
		return nil, fmt.Errorf("pagerduty: %w", err)
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = USEndpoint
	}
	c := gopd.NewClient("", gopd.WithV2EventsAPIEndpoint(strings.TrimRight(cfg.Endpoint, "/")))
	c.HTTPClient = outhttp.WithHeaders(hc, cfg.CustomHeaders)
	return &Forwarder{cfg: cfg, client: c}, nil
}

// Forward triggers one event per alert, in order.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	return batch.Each(ctx, alerts, func(ctx context.Context, a *alert.Alert) (bool, error) {
		_, err := f.client.ManageEventWithContext(ctx, Event(&f.cfg, a))
		if err == nil {
			return false, nil
		}
		var apiErr gopd.APIError
		if errors.As(err, &apiErr) {
			return outhttp.RetryableStatus(apiErr.StatusCode), &outhttp.StatusError{Code: apiErr.StatusCode, Body: apiErr.Error()}
		}
		// The routing key is not in the URL: the error can be shown as is.
		return outhttp.TransportRetryable(err), fmt.Errorf("pagerduty: %w", err)
	})
}
