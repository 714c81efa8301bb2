// Package slack forwards alerts to a Slack incoming webhook with slack-go,
// one message per alert, in falcosidekick's message shape: an attachment
// coloured by priority with the rule, priority, source, hostname, tags and
// every output field, and an optional templated text above it.
package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	goslack "github.com/slack-go/slack"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/render"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// Attachment colours by priority, as in falcosidekick (shared with the
// other Slack-shaped outputs).
const (
	ColorRed       = render.Red
	ColorOrange    = render.Orange
	ColorYellow    = render.Yellow
	ColorLightCyan = render.LightCyan
	ColorLightBlue = render.LightBlue
	ColorPaleCyan  = render.PaleCyan
)

// Color returns the attachment colour of a priority.
func Color(p alert.Priority) string { return render.Color(p) }

// Forwarder posts alerts to Slack.
type Forwarder struct {
	cfg    Config
	client *http.Client
	logger *slog.Logger
}

// New builds a Slack forwarder.
func New(cfg Config, httpOpts outhttp.Options, logger *slog.Logger) (*Forwarder, error) {
	httpOpts.CheckCert, httpOpts.MutualTLS = cfg.CheckCert, cfg.MutualTLS
	c, err := outhttp.NewClient(httpOpts)
	if err != nil {
		return nil, fmt.Errorf("slack: %w", err)
	}
	if len(cfg.CustomHeaders) > 0 {
		c.Transport = headerTransport{base: c.Transport, headers: cfg.CustomHeaders}
	}
	if logger == nil {
		logger = slog.Default()
	}
	return &Forwarder{cfg: cfg, client: c, logger: logger}, nil
}

// headerTransport adds SLACK_CUSTOMHEADERS to the requests slack-go builds.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (t headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	outhttp.SetHeaders(r.Header, t.headers)
	return t.base.RoundTrip(r)
}

// Message builds the webhook message for one alert. It is pure: tests and
// previews call it without a network. When SLACK_MESSAGEFORMAT fails on the
// alert (a missing field, a bad index), the message is still returned,
// without the top-level text, together with the template's error: the
// alert is posted anyway, as falcosidekick does.
func Message(cfg *Config, a *alert.Alert) (*goslack.WebhookMessage, error) {
	var att goslack.Attachment
	format := cfg.OutputFormat
	if format == "" {
		format = FormatAll
	}
	if format == FormatAll || format == FormatFields {
		short := func(title, value string) goslack.AttachmentField {
			return goslack.AttachmentField{Title: title, Value: value, Short: true}
		}
		fields := []goslack.AttachmentField{
			short("rule", a.Rule),
			short("priority", a.Priority.String()),
			short("source", a.Source),
		}
		if a.Hostname != "" {
			fields = append(fields, short("hostname", a.Hostname))
		}
		if len(a.Tags) > 0 {
			tags := append([]string(nil), a.Tags...)
			sort.Strings(tags)
			fields = append(fields, short("tags", strings.Join(tags, ", ")))
		}
		for _, k := range settings.SortedKeys(a.OutputFields) {
			v := FieldString(a.OutputFields[k])
			fields = append(fields, goslack.AttachmentField{Title: k, Value: v, Short: len([]rune(v)) < 36})
		}
		fields = append(fields, goslack.AttachmentField{Title: "time", Value: a.Time.String(), Short: false})
		att.Fields = fields
		att.Footer = cfg.Footer
		if att.Footer == "" {
			att.Footer = DefaultFooter
		}
	}
	att.Fallback = a.Output
	if format == FormatAll || format == FormatText {
		att.Text = a.Output
	}
	att.Color = Color(a.Priority)
	msg := &goslack.WebhookMessage{
		Username:    cfg.Username,
		IconURL:     cfg.Icon,
		Channel:     cfg.Channel,
		Attachments: []goslack.Attachment{att},
	}
	if cfg.MessageFormat != nil {
		var buf bytes.Buffer
		if err := cfg.MessageFormat.Execute(&buf, a); err != nil {
			return msg, fmt.Errorf("expand SLACK_MESSAGEFORMAT: %w", err)
		}
		msg.Text = buf.String()
	}
	return msg, nil
}

// FieldString renders an output field value for display: strings as they
// are, Falco's null as <NA>, anything else with fmt.
func FieldString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "<NA>"
	}
	return fmt.Sprint(v)
}

// Forward posts one message per alert, in order.
func (f *Forwarder) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	return batch.Each(ctx, alerts, f.send)
}

func (f *Forwarder) send(ctx context.Context, a *alert.Alert) (bool, error) {
	msg, err := Message(&f.cfg, a)
	if err != nil {
		f.logger.Warn("posting the alert without SLACK_MESSAGEFORMAT's text", "uuid", a.UUID, "rule", a.Rule, "err", err)
	}
	err = goslack.PostWebhookCustomHTTPContext(ctx, f.cfg.WebhookURL, f.client, msg)
	if err == nil {
		return false, nil
	}
	var rl *goslack.RateLimitedError
	if errors.As(err, &rl) {
		return true, &outhttp.StatusError{Code: http.StatusTooManyRequests, RetryAfter: rl.RetryAfter}
	}
	var sc goslack.StatusCodeError
	if errors.As(err, &sc) {
		return outhttp.RetryableStatus(sc.Code), &outhttp.StatusError{Code: sc.Code}
	}
	// Transport error: slack-go wraps the client error, which may carry the
	// webhook URL (a secret); report it without the URL.
	return outhttp.TransportRetryable(err), fmt.Errorf("post to Slack webhook %s: %w", settings.RedactPath(f.cfg.WebhookURL), stripURL(err))
}

// stripURL drops the *url.Error wrapper, whose message contains the URL.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
