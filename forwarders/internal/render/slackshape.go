package render

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
