package render

import "github.com/saker-sec/saker/hub/alert"

// SlackMessage is the Slack-compatible incoming-webhook body that
// Mattermost and Rocket.Chat accept.
type SlackMessage struct {
	Text        string            `json:"text,omitempty"`
	Username    string            `json:"username,omitempty"`
	IconURL     string            `json:"icon_url,omitempty"`
	Attachments []SlackAttachment `json:"attachments,omitempty"`
}

// SlackAttachment is one message attachment.
type SlackAttachment struct {
	Fallback string       `json:"fallback"`
	Color    string       `json:"color"`
	Text     string       `json:"text,omitempty"`
	Fields   []SlackField `json:"fields,omitempty"`
	Footer   string       `json:"footer,omitempty"`
}

// SlackField is one attachment field.
type SlackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// ShortField is a short field.
func ShortField(title, value string) SlackField { return SlackField{title, value, true} }

// OutputField is an output field, short when under 36 runes as in
// falcosidekick.
func OutputField(f Field) SlackField {
	return SlackField{f.Name, f.Value, len([]rune(f.Value)) < 36}
}

// Hostname placements for AlertFields: falcosidekick puts it after the
// rule in Mattermost's attachment and last in Rocket.Chat's.
const (
	HostnameAfterRule = false
	HostnameLast      = true
)

// AlertFields are falcosidekick's attachment fields of the Slack-shaped
// chat outputs: rule, priority, source, tags, the string output fields and
// the time, with the hostname (when set) where hostnameLast places it.
func AlertFields(a *alert.Alert, hostnameLast bool) []SlackField {
	f := []SlackField{ShortField("rule", a.Rule)}
	if a.Hostname != "" && !hostnameLast {
		f = append(f, ShortField("hostname", a.Hostname))
	}
	f = append(f, ShortField("priority", a.Priority.String()), ShortField("source", a.Source))
	if t := Tags(a, ", "); t != "" {
		f = append(f, ShortField("tags", t))
	}
	for _, of := range StringFields(a) {
		f = append(f, OutputField(of))
	}
	f = append(f, SlackField{Title: "time", Value: a.Time.String()})
	if a.Hostname != "" && hostnameLast {
		f = append(f, ShortField("hostname", a.Hostname))
	}
	return f
}

// Falcosidekick's defaults for the Slack-shaped outputs.
const (
	DefaultFooter   = "https://github.com/falcosecurity/falcosidekick"
	DefaultIcon     = "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png"
	DefaultUsername = "Falcosidekick"
)

// Output formats shared by the chat outputs (<OUT>_OUTPUTFORMAT).
const (
	FormatAll    = "all"
	FormatText   = "text"
	FormatFields = "fields"
)
