// Package grafana adds each alert as an annotation through Grafana's HTTP
// API (POST /api/annotations, bearer service-account token), in
// falcosidekick's shape: the alert's output as text, its time as a point in
// time, and the tags falco, priority, rule, source and hostname (with
// GRAFANA_ALLFIELDSASTAGS, every output field value and the alert's tags).
package grafana

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Path is the annotations API path.
const Path = "/api/annotations"

// Config is the Grafana output's configuration (GRAFANA_*).
type Config struct {
	HostPort string // GRAFANA_HOSTPORT (http://grafana:3000); with the API key, enables the output
	APIKey   string // GRAFANA_APIKEY, sent as a bearer token
	// DashboardID and PanelID (GRAFANA_DASHBOARDID, GRAFANA_PANELID) pin
	// the annotation to a dashboard and panel; 0 makes it an organisation
	// annotation.
	DashboardID, PanelID int
	AllFieldsAsTags      bool // GRAFANA_ALLFIELDSASTAGS
	settings.Common
}

// Load reads the Grafana settings; as in falcosidekick, the output is on
// only when both GRAFANA_HOSTPORT and GRAFANA_APIKEY are set.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.HostPort = src.String("grafana.hostport", "")
	cfg.APIKey = src.String("grafana.apikey", "")
	if cfg.HostPort == "" {
		return cfg, false
	}
	if cfg.APIKey == "" {
		src.Warnf("grafana.apikey", "GRAFANA_HOSTPORT is set without GRAFANA_APIKEY; the Grafana output is off, as in falcosidekick")
		return cfg, false
	}
	src.URL("grafana.hostport", cfg.HostPort)
	cfg.DashboardID = src.Int("grafana.dashboardid", 0, 0)
	cfg.PanelID = src.Int("grafana.panelid", 0, 0)
	cfg.AllFieldsAsTags = src.Bool("grafana.allfieldsastags", false)
	cfg.Common = src.Common("grafana")
	return cfg, true
}

// Annotation is the body of POST /api/annotations.
type Annotation struct {
	DashboardID int      `json:"dashboardId,omitempty"`
	PanelID     int      `json:"panelId,omitempty"`
	Time        int64    `json:"time"`    // epoch ms
	TimeEnd     int64    `json:"timeEnd"` // = Time: a point, not a region
	Tags        []string `json:"tags"`
	Text        string   `json:"text"`
}

// Build returns the annotation of one alert. Output field values come in
// field-name order (falcosidekick's map order is random) and null ones are
// left out.
func Build(cfg *Config, a *alert.Alert) Annotation {
	tags := []string{"falco", a.Priority.String(), a.Rule, a.Source}
	if a.Hostname != "" {
		tags = append(tags, a.Hostname)
	}
	if cfg.AllFieldsAsTags {
		for _, k := range settings.SortedKeys(a.OutputFields) {
			if v := a.OutputFields[k]; v != nil {
				tags = append(tags, fmt.Sprint(v))
			}
		}
		tags = append(tags, a.Tags...)
	}
	ms := a.Time.UnixMilli()
	return Annotation{DashboardID: cfg.DashboardID, PanelID: cfg.PanelID, Time: ms, TimeEnd: ms, Tags: tags, Text: a.Output}
}

// New builds a Grafana forwarder: one annotation per alert, as the API
// takes one per request.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*outhttp.PerAlert, error) {
	p, err := outhttp.NewPoster(strings.TrimRight(cfg.HostPort, "/")+Path, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("grafana: %w", err)
	}
	p.ContentType = "application/json"
	p.Header = http.Header{"Authorization": {"Bearer " + cfg.APIKey}}
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return Build(&cfg, a) }}, nil
}
