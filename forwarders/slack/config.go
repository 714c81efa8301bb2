package slack

import (
	"text/template"

	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
)

// Defaults from falcosidekick's config.go.
const (
	DefaultUsername = "Falcosidekick"
	DefaultFooter   = "https://github.com/falcosecurity/falcosidekick"
	DefaultIcon     = "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png"
)

// Output formats (SLACK_OUTPUTFORMAT).
const (
	FormatAll    = "all"
	FormatText   = "text"
	FormatFields = "fields"
)

// Config is the Slack output's configuration (SLACK_*).
type Config struct {
	WebhookURL    string // SLACK_WEBHOOKURL; enables the output
	Channel       string
	Username      string
	Icon          string
	Footer        string
	OutputFormat  string             // all | text | fields
	MessageFormat *template.Template // SLACK_MESSAGEFORMAT, parsed; nil = no top-level text
	settings.Common
}

// Load reads the Slack settings; enabled is false when SLACK_WEBHOOKURL is
// unset. Problems (bad URL, format, template) are recorded in src.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.WebhookURL = src.String("slack.webhookurl", "")
	if cfg.WebhookURL == "" {
		return cfg, false
	}
	src.URL("slack.webhookurl", cfg.WebhookURL)
	cfg.Channel = src.String("slack.channel", "")
	cfg.Username = src.String("slack.username", DefaultUsername)
	cfg.Icon = src.String("slack.icon", DefaultIcon)
	cfg.Footer = src.String("slack.footer", DefaultFooter)
	cfg.OutputFormat = src.Enum("slack.outputformat", FormatAll, FormatAll, FormatText, FormatFields)
	cfg.MessageFormat = render.MessageFormat(src, "slack")
	cfg.Common = src.Common("slack")
	return cfg, true
}
