// Package datadoglogs sends alerts to Datadog's log intake (Logs API v2,
// POST /api/v2/logs), in falcosidekick's shape: ddsource falco, the
// hostname, DATADOGLOGS_SERVICE, the Falco tags as ddtags and the whole
// Falco payload as the JSON message. Unlike falcosidekick (one request per
// alert), a batch goes in one request, as the intake takes a list.
package datadoglogs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// DefaultHost is Datadog's US1 log intake.
const DefaultHost = "https://http-intake.logs.datadoghq.com/"

// Path is the Logs API path.
const Path = "/api/v2/logs"

// MaxBatch is the intake's limit of entries per request.
const MaxBatch = 1000

// Config is the Datadog Logs output's configuration (DATADOGLOGS_*).
type Config struct {
	APIKey  string // DATADOGLOGS_APIKEY; enables the output
	Host    string // DATADOGLOGS_HOST
	Service string // DATADOGLOGS_SERVICE
	settings.Common
}

// Load reads the settings; enabled is false without an API key.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.APIKey = src.String("datadoglogs.apikey", "")
	if cfg.APIKey == "" {
		return cfg, false
	}
	cfg.Host = src.String("datadoglogs.host", DefaultHost)
	src.URL("datadoglogs.host", cfg.Host)
	cfg.Service = src.String("datadoglogs.service", "")
	cfg.Common = src.Common("datadoglogs")
	return cfg, true
}

// Entry is one log entry.
type Entry struct {
	DDSource string `json:"ddsource,omitempty"`
	Hostname string `json:"hostname,omitempty"`
	Service  string `json:"service,omitempty"`
	Message  string `json:"message,omitempty"`
	DDTags   string `json:"ddtags,omitempty"`
}

// Build returns the log entry of one alert.
func Build(cfg *Config, a *alert.Alert) (Entry, error) {
	msg, err := json.Marshal(a)
	if err != nil {
		return Entry{}, fmt.Errorf("encode alert: %w", err)
	}
	return Entry{DDSource: "falco", Hostname: a.Hostname, Service: cfg.Service, Message: string(msg), DDTags: render.Tags(a, ",")}, nil
}

// Forwarder sends alerts to the Datadog log intake.
type Forwarder struct {
	cfg    Config
	poster *outhttp.Poster
}

// New builds a Datadog Logs forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*Forwarder, error) {
	if cfg.Host == "" {
		cfg.Host = DefaultHost
	}
	// falcosidekick joins host and path as they are, which makes "//" with
	// its own default host; the intake is reached either way.
	p, err := outhttp.NewPoster(strings.TrimRight(cfg.Host, "/")+Path, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("datadoglogs: %w", err)
	}
	p.Header = http.Header{"Dd-Api-Key": {cfg.APIKey}}
	return &Forwarder{cfg: cfg, poster: p}, nil
}

// Forward sends the batch in one request.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	entries := make([]Entry, len(alerts))
	for i := range alerts {
		e, err := Build(&f.cfg, &alerts[i])
		if err != nil {
			return false, err
		}
		entries[i] = e
	}
	return f.poster.PostJSON(ctx, entries)
}
