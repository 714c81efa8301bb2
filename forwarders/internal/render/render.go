// Package render holds the small pieces of falcosidekick's message shapes
// that several outputs share: sorted tags, the string output fields in key
// order, a priority's colour and a lenient message template.
package render

import (
	"bytes"
	"log/slog"
	"sort"
	"strings"
	"text/template"

	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Field is one displayed output field.
type Field struct {
	Name, Value string
}

// StringFields returns the output fields whose values are strings, sorted
// by name. falcosidekick's chat outputs show only those (a numeric field
// such as evt.time would be noise in a message).
func StringFields(a *alert.Alert) []Field {
	keys := make([]string, 0, len(a.OutputFields))
	for k, v := range a.OutputFields {
		if _, ok := v.(string); ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]Field, len(keys))
	for i, k := range keys {
		out[i] = Field{k, a.OutputFields[k].(string)}
	}
	return out
}

// Tags returns the alert's tags sorted and joined with sep ("" when none).
func Tags(a *alert.Alert, sep string) string {
	if len(a.Tags) == 0 {
		return ""
	}
	t := append([]string(nil), a.Tags...)
	sort.Strings(t)
	return strings.Join(t, sep)
}

// Hex colours by priority, as falcosidekick's Slack-shaped outputs use.
const (
	Red       = "#e20b0b"
	Orange    = "#ff5400"
	Yellow    = "#ffc700"
	LightCyan = "#5bffb5"
	LightBlue = "#68c2ff"
	PaleCyan  = "#ccfff2"
)

// Color returns the Slack-style attachment colour of a priority.
func Color(p alert.Priority) string {
	switch p {
	case alert.PriorityEmergency, alert.PriorityError:
		return Red
	case alert.PriorityAlert, alert.PriorityCritical:
		return Orange
	case alert.PriorityWarning:
		return Yellow
	case alert.PriorityNotice:
		return LightCyan
	case alert.PriorityInformational:
		return LightBlue
	case alert.PriorityDebug:
		return PaleCyan
	}
	return ""
}

// Expand executes a message template (<OUT>_MESSAGEFORMAT) on an alert.
// A template that fails on one alert must not lose the alert: the error
// is logged and the message goes out without the text, as in falcosidekick.
func Expand(t *template.Template, a *alert.Alert, logger *slog.Logger) string {
	if t == nil {
		return ""
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, a); err != nil {
		if logger != nil {
			logger.Warn("message template failed; sending the alert without the text",
				"template", t.Name(), "rule", a.Rule, "err", err)
		}
		return ""
	}
	return buf.String()
}

// MessageFormat reads <output>.messageformat as a Go template. A template
// that does not parse is dropped with a warning, as falcosidekick does: the
// output still posts its messages, without the templated text.
func MessageFormat(src *settings.Source, output string) *template.Template {
	key := output + ".messageformat"
	text := src.String(key, "")
	if text == "" {
		return nil
	}
	t, err := template.New(output).Parse(text)
	if err != nil {
		src.Warnf(key, "bad template, ignored (messages are posted without the text): %v", err)
		src.Fallback(key, "")
		return nil
	}
	return t
}
