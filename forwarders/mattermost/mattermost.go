// Package mattermost posts one message per alert to a Mattermost incoming
// webhook, in falcosidekick's Slack-compatible shape: an attachment
// coloured by priority with rule, hostname, priority, source, tags, the
// string output fields and the time, and an optional templated text.
package mattermost

import (
	"fmt"
	"log/slog"
	"text/template"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the Mattermost output's configuration (MATTERMOST_*).
type Config struct {
	WebhookURL    string // MATTERMOST_WEBHOOKURL; enables the output
	Footer        string
	Username      string
	Icon          string
	OutputFormat  string             // all | text | fields
	MessageFormat *template.Template // MATTERMOST_MESSAGEFORMAT
	settings.Common
}

// Load reads the Mattermost settings; enabled is false without a webhook URL.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.WebhookURL = src.String("mattermost.webhookurl", "")
	if cfg.WebhookURL == "" {
		return cfg, false
	}
	src.URL("mattermost.webhookurl", cfg.WebhookURL)
	cfg.Footer = src.String("mattermost.footer", render.DefaultFooter)
	cfg.Username = src.String("mattermost.username", render.DefaultUsername)
	cfg.Icon = src.String("mattermost.icon", render.DefaultIcon)
	cfg.OutputFormat = src.Enum("mattermost.outputformat", render.FormatAll, render.FormatAll, render.FormatText, render.FormatFields)
	cfg.MessageFormat = render.MessageFormat(src, "mattermost")
	cfg.Common = src.Common("mattermost")
	return cfg, true
}

// New builds a Mattermost forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*outhttp.PerAlert, error) {
	p, err := outhttp.NewPoster(cfg.WebhookURL, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("mattermost: %w", err)
	}
	p.SecretURL = true
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return Message(&cfg, a, logger) }}, nil
}

// Message builds the webhook body for one alert.
func Message(cfg *Config, a *alert.Alert, logger *slog.Logger) render.SlackMessage {
	format := cfg.OutputFormat
	if format == "" {
		format = render.FormatAll
	}
	att := render.SlackAttachment{Fallback: a.Output, Color: render.Color(a.Priority)}
	if format == render.FormatAll || format == render.FormatFields {
		att.Fields = render.AlertFields(a, render.HostnameAfterRule)
		att.Footer = cfg.Footer
		if att.Footer == "" {
			att.Footer = render.DefaultFooter
		}
	}
	if format == render.FormatAll || format == render.FormatText {
		att.Text = a.Output
	}
	icon := cfg.Icon
	if icon == "" {
		icon = render.DefaultIcon
	}
	return render.SlackMessage{
		Text:        render.Expand(cfg.MessageFormat, a, logger),
		Username:    cfg.Username,
		IconURL:     icon,
		Attachments: []render.SlackAttachment{att},
	}
}
