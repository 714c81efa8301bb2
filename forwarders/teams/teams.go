// Package teams posts one MessageCard per alert to a Microsoft Teams
// incoming webhook, in falcosidekick's shape: a section titled
// "Falcosidekick" with the alert's time, its output as text and the rule,
// priority, source, hostname, string output fields and tags as facts,
// themed by priority.
package teams

import (
	"fmt"
	"log/slog"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// FormatFacts is TEAMS_OUTPUTFORMAT=facts (facts without the text).
const FormatFacts = "facts"

// Config is the Teams output's configuration (TEAMS_*).
type Config struct {
	WebhookURL    string // TEAMS_WEBHOOKURL; enables the output
	ActivityImage string // TEAMS_ACTIVITYIMAGE
	OutputFormat  string // all | text | facts
	settings.Common
}

// Load reads the Teams settings; enabled is false without a webhook URL.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.WebhookURL = src.String("teams.webhookurl", "")
	if cfg.WebhookURL == "" {
		return cfg, false
	}
	src.URL("teams.webhookurl", cfg.WebhookURL)
	cfg.ActivityImage = src.String("teams.activityimage", render.DefaultIcon)
	cfg.OutputFormat = src.Enum("teams.outputformat", render.FormatAll, render.FormatAll, render.FormatText, FormatFacts)
	cfg.Common = src.Common("teams")
	return cfg, true
}

// Card is a legacy actionable-message card (@type MessageCard).
type Card struct {
	Type       string    `json:"@type"`
	Summary    string    `json:"summary,omitempty"`
	ThemeColor string    `json:"themeColor,omitempty"`
	Sections   []Section `json:"sections"`
}

// Section is one card section.
type Section struct {
	ActivityTitle    string `json:"activityTitle"`
	ActivitySubtitle string `json:"activitySubtitle"`
	ActivityImage    string `json:"activityImage,omitempty"`
	Text             string `json:"text"`
	Facts            []Fact `json:"facts,omitempty"`
}

// Fact is one name/value line.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ThemeColor is falcosidekick's Teams colour of a priority.
func ThemeColor(p alert.Priority) string {
	return [...]string{
		alert.PriorityEmergency:     "e20b0b",
		alert.PriorityAlert:         "ff5400",
		alert.PriorityCritical:      "ff9000",
		alert.PriorityError:         "ffc700",
		alert.PriorityWarning:       "ffff00",
		alert.PriorityNotice:        "5bffb5",
		alert.PriorityInformational: "68c2ff",
		alert.PriorityDebug:         "ccfff2",
		alert.PriorityUnset:         "",
	}[max(min(p, alert.PriorityEmergency), alert.PriorityUnset)]
}

// Build returns the card for one alert.
func Build(cfg *Config, a *alert.Alert) Card {
	format := cfg.OutputFormat
	if format == "" {
		format = render.FormatAll
	}
	s := Section{ActivityTitle: "Falcosidekick", ActivitySubtitle: a.Time.String(), ActivityImage: cfg.ActivityImage}
	if format == render.FormatAll || format == render.FormatText {
		s.Text = a.Output
	}
	if format == render.FormatAll || format == FormatFacts {
		s.Facts = []Fact{{"rule", a.Rule}, {"priority", a.Priority.String()}, {"source", a.Source}}
		if a.Hostname != "" {
			s.Facts = append(s.Facts, Fact{"hostname", a.Hostname})
		}
		for _, f := range render.StringFields(a) {
			s.Facts = append(s.Facts, Fact{f.Name, f.Value})
		}
		if t := render.Tags(a, ", "); t != "" {
			s.Facts = append(s.Facts, Fact{"tags", t})
		}
	}
	return Card{Type: "MessageCard", Summary: a.Output, ThemeColor: ThemeColor(a.Priority), Sections: []Section{s}}
}

// New builds a Teams forwarder.
func New(cfg Config, httpOpts outhttp.Options, _ *slog.Logger) (*outhttp.PerAlert, error) {
	p, err := outhttp.NewPoster(cfg.WebhookURL, cfg.Common, httpOpts)
	if err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	p.SecretURL = true
	return &outhttp.PerAlert{Poster: p, Build: func(a *alert.Alert) any { return Build(&cfg, a) }}, nil
}
