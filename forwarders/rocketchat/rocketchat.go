// Package rocketchat posts one message per alert to a Rocket.Chat incoming
// webhook, in falcosidekick's Slack-compatible shape: an attachment
// coloured by priority with rule, priority, source, tags, the string
// output fields, the time and the hostname, and an optional templated text.
package rocketchat

import (
	"fmt"
	"log/slog"
	"text/template"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the Rocket.Chat output's configuration (ROCKETCHAT_*).
type Config struct {
	WebhookURL    string // ROCKETCHAT_WEBHOOKURL; enables the output
	Username      string
	Icon          string
	OutputFormat  string             // all | text | fields
	MessageFormat *template.Template // ROCKETCHAT_MESSAGEFORMAT
	settings.Common
}

// Load reads the Rocket.Chat settings; enabled is false without a webhook URL.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.WebhookURL = src.String("rocketchat.webhookurl", "")
	if cfg.WebhookURL == "" {
		return cfg, false
	}
	src.URL("rocketchat.webhookurl", cfg.WebhookURL)
	cfg.Username = src.String("rocketchat.username", render.DefaultUsername)
	cfg.Icon = src.String("rocketchat.icon", render.DefaultIcon)
	cfg.OutputFormat = src.Enum("rocketchat.outputformat", render.FormatAll, render.FormatAll, render.FormatText, render.FormatFields)
	cfg.MessageFormat = render.MessageFormat(src, "rocketchat")
	cfg.Common = src.Common("rocketchat")
	return cfg, true
}

// New builds a Rocket.Chat forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*outhttp.PerAlert, error) {
	p, err := outhttp.NewPoster(cfg.WebhookURL, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("rocketchat: %w", err)
	}
	p.SecretURL = true
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return Message(&cfg, a, logger) }}, nil
}

// Message builds the webhook body for one alert. Fields come in
// falcosidekick's Rocket.Chat order (hostname last), without a footer.
// With ROCKETCHAT_OUTPUTFORMAT=text falcosidekick sends no attachment and
// only the templated text, so without a template the message is empty;
// Saker sends the alert's output as the text then.
func Message(cfg *Config, a *alert.Alert, logger *slog.Logger) render.SlackMessage {
	format := cfg.OutputFormat
	if format == "" {
		format = render.FormatAll
	}
	icon := cfg.Icon
	if icon == "" {
		icon = render.DefaultIcon
	}
	msg := render.SlackMessage{Text: render.Expand(cfg.MessageFormat, a, logger), Username: cfg.Username, IconURL: icon}
	if format == render.FormatText {
		if msg.Text == "" {
			msg.Text = a.Output
		}
		return msg
	}
	att := render.SlackAttachment{Fallback: a.Output, Color: render.Color(a.Priority)}
	att.Fields = render.AlertFields(a, render.HostnameLast)
	if format == render.FormatAll {
		att.Text = a.Output
	}
	msg.Attachments = []render.SlackAttachment{att}
	return msg
}
