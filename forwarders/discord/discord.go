// Package discord posts one message per alert to a Discord webhook, in
// falcosidekick's shape: an embed with the output as description, coloured
// by priority, with rule, priority, source, hostname, the string output
// fields (as code), tags and time as inline fields.
package discord

import (
	"fmt"
	"log/slog"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Discord's documented embed limits: a message over them is refused
// with 400, and the alert would be lost.
const (
	maxFields      = 25
	maxFieldValue  = 1024
	maxDescription = 4096
)

// Config is the Discord output's configuration (DISCORD_*).
type Config struct {
	WebhookURL string // DISCORD_WEBHOOKURL; enables the output
	Icon       string // DISCORD_ICON: the avatar
	settings.Common
}

// Load reads the Discord settings; enabled is false without a webhook URL.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.WebhookURL = src.String("discord.webhookurl", "")
	if cfg.WebhookURL == "" {
		return cfg, false
	}
	src.URL("discord.webhookurl", cfg.WebhookURL)
	cfg.Icon = src.String("discord.icon", render.DefaultIcon)
	cfg.Common = src.Common("discord")
	return cfg, true
}

// Message is Discord's execute-webhook body.
type Message struct {
	Content   string  `json:"content"`
	AvatarURL string  `json:"avatar_url,omitempty"`
	Embeds    []Embed `json:"embeds"`
}

// Embed is one rich embed. Color is an integer, as Discord documents it
// (falcosidekick sends it as a string).
type Embed struct {
	Description string  `json:"description"`
	Color       int     `json:"color"`
	Fields      []Field `json:"fields"`
}

// Field is one embed field.
type Field struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

// Color is falcosidekick's Discord colour of a priority.
func Color(p alert.Priority) int {
	switch p {
	case alert.PriorityEmergency:
		return 15158332 // red
	case alert.PriorityAlert:
		return 11027200 // dark orange
	case alert.PriorityCritical:
		return 15105570 // orange
	case alert.PriorityError:
		return 15844367 // gold
	case alert.PriorityWarning:
		return 12745742 // dark gold
	case alert.PriorityNotice:
		return 3066993 // teal
	case alert.PriorityInformational:
		return 3447003 // blue
	}
	return 12370112 // light grey
}

// Build returns the message for one alert, within Discord's limits: past
// 25 fields the remaining output fields are dropped (the time field is
// kept), long values are cut.
func Build(cfg *Config, a *alert.Alert) Message {
	fields := []Field{{"rule", a.Rule, true}, {"priority", a.Priority.String(), true}, {"source", a.Source, true}}
	if a.Hostname != "" {
		fields = append(fields, Field{"hostname", a.Hostname, true})
	}
	tags := render.Tags(a, ", ")
	room := maxFields - len(fields) - 1 // time
	if tags != "" {
		room--
	}
	for _, f := range render.StringFields(a) {
		if room == 0 {
			break
		}
		fields = append(fields, Field{f.Name, "```" + cut(f.Value, maxFieldValue-6) + "```", true})
		room--
	}
	if tags != "" {
		fields = append(fields, Field{"tags", cut(tags, maxFieldValue), true})
	}
	fields = append(fields, Field{"time", a.Time.String(), true})
	icon := cfg.Icon
	if icon == "" {
		icon = render.DefaultIcon
	}
	return Message{AvatarURL: icon, Embeds: []Embed{{Description: cut(a.Output, maxDescription), Color: Color(a.Priority), Fields: fields}}}
}

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// New builds a Discord forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*outhttp.PerAlert, error) {
	p, err := outhttp.NewPoster(cfg.WebhookURL, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	p.SecretURL = true
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return Build(&cfg, a) }}, nil
}
