// Package googlechat posts one message per alert to a Google Chat
// incoming webhook, in falcosidekick's shape: an optional templated text
// and a card whose key-value widgets hold rule, priority, source,
// hostname, the string output fields, tags and time.
package googlechat

import (
	"fmt"
	"log/slog"
	"text/template"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Config is the Google Chat output's configuration (GOOGLECHAT_*).
type Config struct {
	WebhookURL    string             // GOOGLECHAT_WEBHOOKURL; enables the output
	OutputFormat  string             // all | text
	MessageFormat *template.Template // GOOGLECHAT_MESSAGEFORMAT
	settings.Common
}

// Load reads the Google Chat settings; enabled is false without a webhook URL.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.WebhookURL = src.String("googlechat.webhookurl", "")
	if cfg.WebhookURL == "" {
		return cfg, false
	}
	src.URL("googlechat.webhookurl", cfg.WebhookURL)
	cfg.OutputFormat = src.Enum("googlechat.outputformat", render.FormatAll, render.FormatAll, render.FormatText)
	cfg.MessageFormat = render.MessageFormat(src, "googlechat")
	cfg.Common = src.Common("googlechat")
	return cfg, true
}

// Message is the webhook body (Chat API message with v1 cards).
type Message struct {
	Text  string `json:"text,omitempty"`
	Cards []Card `json:"cards,omitempty"`
}

// Card is a v1 card.
type Card struct {
	Sections []Section `json:"sections"`
}

// Section is one card section.
type Section struct {
	Widgets []Widget `json:"widgets"`
}

// Widget is a key-value widget.
type Widget struct {
	KeyValue KeyValue `json:"keyValue"`
}

// KeyValue is a labelled value.
type KeyValue struct {
	TopLabel string `json:"topLabel"`
	Content  string `json:"content"`
}

// Build returns the message for one alert. With OUTPUTFORMAT=text it is
// the templated text alone; when that is empty (no template, or the
// template failed) Saker sends the alert's output, where falcosidekick
// would send an empty message that Google Chat refuses.
func Build(cfg *Config, a *alert.Alert, logger *slog.Logger) Message {
	text := render.Expand(cfg.MessageFormat, a, logger)
	if cfg.OutputFormat == render.FormatText {
		if text == "" {
			text = a.Output
		}
		return Message{Text: text}
	}
	kv := func(k, v string) Widget { return Widget{KeyValue{k, v}} }
	w := []Widget{kv("rule", a.Rule), kv("priority", a.Priority.String()), kv("source", a.Source)}
	if a.Hostname != "" {
		w = append(w, kv("hostname", a.Hostname))
	}
	for _, f := range render.StringFields(a) {
		w = append(w, kv(f.Name, f.Value))
	}
	if t := render.Tags(a, ", "); t != "" {
		w = append(w, kv("tags", t))
	}
	w = append(w, kv("time", a.Time.String()))
	return Message{Text: text, Cards: []Card{{Sections: []Section{{Widgets: w}}}}}
}

// New builds a Google Chat forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*outhttp.PerAlert, error) {
	p, err := outhttp.NewPoster(cfg.WebhookURL, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("googlechat: %w", err)
	}
	p.SecretURL = true // the key and token are in the query
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return Build(&cfg, a, logger) }}, nil
}
