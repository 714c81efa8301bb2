// Package datadog posts each alert as a Datadog event (Events API v1,
// POST /api/v1/events), in falcosidekick's shape: the rule as title, the
// output as text, alert_type error/warning/info from the priority, source
// type falco, and the string output fields, source, hostname and Falco
// tags as event tags. The API key goes in the DD-API-KEY header, where
// falcosidekick puts it in the URL's query (and so in proxy logs). Plain
// net/http: the official client is a very large generated module for this
// one documented POST.
package datadog

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// DefaultHost is Datadog's US1 API.
const DefaultHost = "https://api.datadoghq.com"

// Path is the Events API path.
const Path = "/api/v1/events"

// Config is the Datadog output's configuration (DATADOG_*).
type Config struct {
	APIKey string // DATADOG_APIKEY; enables the output
	Host   string // DATADOG_HOST, default https://api.datadoghq.com
	settings.Common
}

// Load reads the Datadog settings; enabled is false without an API key.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.APIKey = src.String("datadog.apikey", "")
	if cfg.APIKey == "" {
		return cfg, false
	}
	cfg.Host = src.String("datadog.host", DefaultHost)
	src.URL("datadog.host", cfg.Host)
	cfg.Common = src.Common("datadog")
	return cfg, true
}

// Event is the Events API body.
type Event struct {
	Title      string   `json:"title,omitempty"`
	Text       string   `json:"text,omitempty"`
	AlertType  string   `json:"alert_type,omitempty"`
	SourceType string   `json:"source_type_name,omitempty"`
	Tags       []string `json:"tags,omitempty"`
}

// AlertType maps a priority to Datadog's alert_type.
func AlertType(p alert.Priority) string {
	switch {
	case p >= alert.PriorityError:
		return "error"
	case p == alert.PriorityWarning:
		return "warning"
	}
	return "info"
}

// Build returns the event for one alert.
func Build(a *alert.Alert) Event {
	var tags []string
	for _, f := range render.StringFields(a) {
		tags = append(tags, f.Name+":"+f.Value)
	}
	tags = append(tags, "source:"+a.Source, "source:falco")
	if a.Hostname != "" {
		tags = append(tags, "hostname:"+a.Hostname)
	}
	if len(a.Tags) > 0 {
		t := append([]string(nil), a.Tags...)
		sort.Strings(t)
		tags = append(tags, t...)
	}
	return Event{Title: a.Rule, Text: a.Output, AlertType: AlertType(a.Priority), SourceType: "falco", Tags: tags}
}

// New builds a Datadog events forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*outhttp.PerAlert, error) {
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	p, err := outhttp.NewPoster(strings.TrimRight(cfg.Host, "/")+Path, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("datadog: %w", err)
	}
	p.Header = http.Header{"Dd-Api-Key": {cfg.APIKey}}
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return Build(a) }}, nil
}
