// Package openobserve sends alerts to OpenObserve's multi-record ingestion
// API (POST /api/{organization}/{stream}/_multi), each record the Falco
// payload as falcosidekick sends it. Unlike falcosidekick (one request per
// alert), a batch goes in one request as newline-delimited JSON, which the
// _multi endpoint is for.
package openobserve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the OpenObserve output's configuration (OPENOBSERVE_*).
type Config struct {
	HostPort         string // OPENOBSERVE_HOSTPORT (http://openobserve:5080); enables the output
	OrganizationName string // OPENOBSERVE_ORGANIZATIONNAME (default)
	StreamName       string // OPENOBSERVE_STREAMNAME (falco)
	Username         string // OPENOBSERVE_USERNAME and _PASSWORD: basic auth when both set
	Password         string
	settings.Common
}

// Load reads the OpenObserve settings; enabled is false without a host.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.HostPort = src.String("openobserve.hostport", "")
	if cfg.HostPort == "" {
		return cfg, false
	}
	src.URL("openobserve.hostport", cfg.HostPort)
	cfg.OrganizationName = src.String("openobserve.organizationname", "default")
	cfg.StreamName = src.String("openobserve.streamname", "falco")
	cfg.Username = src.String("openobserve.username", "")
	cfg.Password = src.String("openobserve.password", "")
	cfg.Common = src.Common("openobserve")
	return cfg, true
}

// URL is the ingestion URL.
func (c *Config) URL() string {
	return strings.TrimRight(c.HostPort, "/") + "/api/" + url.PathEscape(c.OrganizationName) + "/" + url.PathEscape(c.StreamName) + "/_multi"
}

// Forwarder sends alerts to OpenObserve.
type Forwarder struct {
	poster *outhttp.Poster
}

// New builds an OpenObserve forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*Forwarder, error) {
	p, err := outhttp.NewPoster(cfg.URL(), cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("openobserve: %w", err)
	}
	if cfg.Username != "" && cfg.Password != "" {
		p.User, p.Password = cfg.Username, cfg.Password
	}
	return &Forwarder{poster: p}, nil
}

// Encode returns the alerts as newline-delimited Falco payloads.
func Encode(alerts []alert.Alert) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for i := range alerts {
		if err := enc.Encode(&alerts[i]); err != nil {
			return nil, fmt.Errorf("encode alert %d: %w", i, err)
		}
	}
	return buf.Bytes(), nil
}

// Forward sends the batch in one request.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	body, err := Encode(alerts)
	if err != nil {
		return false, err
	}
	return f.poster.Send(ctx, body)
}
