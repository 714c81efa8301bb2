package loki

import (
	"github.com/saker-sec/saker/forwarders/internal/settings"
)

// Config is the Loki output's configuration (LOKI_*).
type Config struct {
	HostPort string // LOKI_HOSTPORT; enables the output
	Endpoint string // LOKI_ENDPOINT, default /loki/api/v1/push
	User     string // LOKI_USER and LOKI_APIKEY: basic auth when both set
	APIKey   string
	Tenant   string // LOKI_TENANT -> X-Scope-OrgID
	Format   string // LOKI_FORMAT: text (output line) or json (whole payload)
	// ExtraLabels (LOKI_EXTRALABELS) are output fields used as labels.
	ExtraLabels []string
	// GlobalLabels are the CUSTOMFIELDS and TEMPLATEDFIELDS names, which
	// falcosidekick also turns into labels.
	GlobalLabels []string
	settings.Common
}

// DefaultEndpoint is Loki's push path.
const DefaultEndpoint = "/loki/api/v1/push"

// Load reads the Loki settings; enabled is false when LOKI_HOSTPORT is unset.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.HostPort = src.String("loki.hostport", "")
	if cfg.HostPort == "" {
		return cfg, false
	}
	cfg.Endpoint = src.String("loki.endpoint", DefaultEndpoint)
	src.URL("loki.hostport", cfg.URL())
	cfg.User = src.String("loki.user", "")
	cfg.APIKey = src.String("loki.apikey", "")
	cfg.Tenant = src.String("loki.tenant", "")
	cfg.Format = src.Enum("loki.format", "text", "text", "json")
	cfg.ExtraLabels = src.List("loki.extralabels")
	cfg.Common = src.Common("loki")
	return cfg, true
}

// URL is the push URL.
func (c *Config) URL() string {
	ep := c.Endpoint
	if ep == "" {
		ep = DefaultEndpoint
	}
	if ep[0] != '/' {
		ep = "/" + ep
	}
	hp := c.HostPort
	for len(hp) > 0 && hp[len(hp)-1] == '/' {
		hp = hp[:len(hp)-1]
	}
	return hp + ep
}
