// Package opsgenie creates an Opsgenie alert per Falco alert through the
// Alert API (POST /v2/alerts, "GenieKey" auth), in falcosidekick's shape:
// the output as message, entity "Falcosidekick", the rule as description,
// string output fields (dots as "_"), source, rule, priority, hostname and
// tags as details, and P1..P5 from the priority. Beyond falcosidekick: the
// alert's uuid is the alias, so a redelivery is de-duplicated by Opsgenie
// instead of opening a second alert. Plain net/http: the API is one JSON
// POST, the SDK would add logrus and a retry layer the dispatcher already is.
package opsgenie

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Alert API URLs by OPSGENIE_REGION.
const (
	USURL = "https://api.opsgenie.com/v2/alerts"
	EUURL = "https://api.eu.opsgenie.com/v2/alerts"
)

// Config is the Opsgenie output's configuration (OPSGENIE_*).
type Config struct {
	APIKey string // OPSGENIE_APIKEY; enables the output
	Region string // OPSGENIE_REGION: us (default) or eu
	URL    string // the Alert API URL, from Region
	settings.Common
}

// Load reads the Opsgenie settings; enabled is false without an API key.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.APIKey = src.String("opsgenie.apikey", "")
	if cfg.APIKey == "" {
		return cfg, false
	}
	cfg.Region = src.Enum("opsgenie.region", "us", "us", "eu")
	cfg.URL = USURL
	if cfg.Region == "eu" {
		cfg.URL = EUURL
	}
	cfg.Common = src.Common("opsgenie")
	return cfg, true
}

// Payload is the create-alert request body.
type Payload struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Description string            `json:"description,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Priority    string            `json:"priority,omitempty"`
}

// Priority maps a Falco priority to Opsgenie's P1 (highest) to P5.
func Priority(p alert.Priority) string {
	switch p {
	case alert.PriorityEmergency, alert.PriorityAlert:
		return "P1"
	case alert.PriorityCritical:
		return "P2"
	case alert.PriorityError:
		return "P3"
	case alert.PriorityWarning:
		return "P4"
	}
	return "P5"
}

// Build returns the create-alert body for one alert. Opsgenie caps the
// message at 130 characters; longer ones are cut (it would refuse them).
func Build(a *alert.Alert) Payload {
	details := map[string]string{}
	for _, f := range render.StringFields(a) {
		details[strings.ReplaceAll(f.Name, ".", "_")] = f.Value
	}
	details["source"] = a.Source
	details["rule"] = a.Rule
	details["priority"] = a.Priority.String()
	if a.Hostname != "" {
		details["hostname"] = a.Hostname
	}
	if t := render.Tags(a, ", "); t != "" {
		details["tags"] = t
	}
	msg := a.Output
	if r := []rune(msg); len(r) > 130 {
		msg = string(r[:129]) + "…"
	}
	return Payload{Message: msg, Alias: a.UUID, Entity: "Falcosidekick", Description: a.Rule, Details: details, Priority: Priority(a.Priority)}
}

// New builds an Opsgenie forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*outhttp.PerAlert, error) {
	if cfg.URL == "" {
		cfg.URL = USURL
	}
	p, err := outhttp.NewPoster(cfg.URL, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("opsgenie: %w", err)
	}
	p.Header = http.Header{"Authorization": {"GenieKey " + cfg.APIKey}}
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return Build(a) }}, nil
}
