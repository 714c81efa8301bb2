package webhook

import (
	"net/http"
	"strings"

	"github.com/saker-sec/saker/forwarders/internal/settings"
)

// Config is the webhook output's configuration (falcosidekick's WEBHOOK_*).
type Config struct {
	Address string // WEBHOOK_ADDRESS; enables the output
	Method  string // WEBHOOK_METHOD: POST (default) or PUT
	settings.Common
}

// Load reads the webhook settings; enabled is false when WEBHOOK_ADDRESS is
// unset. Problems are recorded in src.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.Address = src.String("webhook.address", "")
	if cfg.Address == "" {
		return cfg, false
	}
	src.URL("webhook.address", cfg.Address)
	cfg.Method = strings.ToUpper(src.String("webhook.method", http.MethodPost))
	if cfg.Method != http.MethodPost && cfg.Method != http.MethodPut {
		// falcosidekick sends PUT for "put" and POST for anything else.
		src.Warnf("webhook.method", "unknown method %q (want POST or PUT); using POST, as falcosidekick does", cfg.Method)
		cfg.Method = http.MethodPost
		src.Fallback("webhook.method", cfg.Method)
	}
	cfg.Common = src.Common("webhook")
	return cfg, true
}
