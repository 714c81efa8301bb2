package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// JSONOptions are Falco's json_include_* switches.
type JSONOptions struct {
	// IncludeOutput keeps the "output" text (json_include_output_property,
	// Falco's default true).
	IncludeOutput bool
	// IncludeTags keeps "tags" (json_include_tags_property, default true).
	IncludeTags bool
	// IncludeMessage adds "message", the output without the time and
	// priority prefix (json_include_message_property, default false).
	IncludeMessage bool
	// OmitOutputFields drops "output_fields"
	// (json_include_output_fields_property: false).
	OmitOutputFields bool
}

// DefaultJSONOptions are Falco's defaults.
var DefaultJSONOptions = JSONOptions{IncludeOutput: true, IncludeTags: true}

// falcoJSON is Falco's JSON alert, keys in Falco's (alphabetical) order.
type falcoJSON struct {
	Hostname     string         `json:"hostname"`
	Message      *string        `json:"message,omitempty"`
	Output       *string        `json:"output,omitempty"`
	OutputFields map[string]any `json:"output_fields,omitempty"`
	Priority     alert.Priority `json:"priority"`
	Rule         string         `json:"rule"`
	Source       string         `json:"source"`
	Tags         *[]string      `json:"tags,omitempty"`
	Time         string         `json:"time"`
}

// FormatTimeJSON renders an alert time as Falco does in JSON: UTC with
// nine fractional digits and a Z.
func FormatTimeJSON(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// MarshalFalcoJSON encodes an alert exactly as Falco's json_output line
// (without a trailing newline; no uuid, which Falco does not send).
func MarshalFalcoJSON(a *alert.Alert, o JSONOptions) ([]byte, error) {
	j := falcoJSON{Hostname: a.Hostname, OutputFields: a.OutputFields, Priority: a.Priority, Rule: a.Rule, Source: a.Source, Time: FormatTimeJSON(a.Time)}
	switch {
	case o.OmitOutputFields:
		j.OutputFields = nil
	case j.OutputFields == nil:
		j.OutputFields = map[string]any{}
	}
	if o.IncludeOutput {
		j.Output = &a.Output
	}
	if o.IncludeMessage {
		msg := MessageOf(a)
		j.Message = &msg
	}
	if o.IncludeTags {
		tags := a.Tags
		if tags == nil {
			tags = []string{}
		}
		j.Tags = &tags
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&j); err != nil {
		return nil, fmt.Errorf("encode alert %q: %w", a.Rule, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// MessageOf returns an alert's output without Falco's "TIME: Priority "
// prefix (Falco's JSON "message").
func MessageOf(a *alert.Alert) string {
	sep := ": " + a.Priority.String() + " "
	if i := strings.Index(a.Output, sep); i >= 0 {
		return a.Output[i+len(sep):]
	}
	return a.Output
}
