// Package n8n sends each alert as its Falco JSON payload to an n8n webhook
// node, with the node's basic or header authentication, as falcosidekick's
// n8n output does.
package n8n

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the n8n output's configuration (N8N_*).
type Config struct {
	Address string // N8N_ADDRESS; enables the output
	// User and Password (N8N_USER, N8N_PASSWORD): basic auth when both set.
	User, Password string
	// HeaderAuthName and HeaderAuthValue (N8N_HEADERAUTHNAME/_VALUE): a
	// header for n8n's "Header Auth" credential, when both set.
	HeaderAuthName, HeaderAuthValue string
	settings.Common
}

// Load reads the n8n settings; enabled is false without an address.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.Address = src.String("n8n.address", "")
	if cfg.Address == "" {
		return cfg, false
	}
	src.URL("n8n.address", cfg.Address)
	cfg.User = src.String("n8n.user", "")
	cfg.Password = src.String("n8n.password", "")
	cfg.HeaderAuthName = src.String("n8n.headerauthname", "")
	cfg.HeaderAuthValue = src.String("n8n.headerauthvalue", "")
	cfg.Common = src.Common("n8n")
	return cfg, true
}

// New builds an n8n forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*outhttp.PerAlert, error) {
	p, err := outhttp.NewPoster(cfg.Address, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("n8n: %w", err)
	}
	if cfg.User != "" && cfg.Password != "" {
		p.User, p.Password = cfg.User, cfg.Password
	}
	if cfg.HeaderAuthName != "" && cfg.HeaderAuthValue != "" {
		p.Header = http.Header{}
		p.Header.Set(cfg.HeaderAuthName, cfg.HeaderAuthValue)
	}
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return a }}, nil
}
