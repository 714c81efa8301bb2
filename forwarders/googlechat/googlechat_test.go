package googlechat_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/saker-sec/saker/forwarders/googlechat"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

const wantMessage = `{"text":"Warning: Terminal shell in container","cards":[{"sections":[{"widgets":[{"keyValue":{"topLabel":"rule","content":"Terminal shell in container"}},{"keyValue":{"topLabel":"priority","content":"Warning"}},{"keyValue":{"topLabel":"source","content":"syscalls"}},{"keyValue":{"topLabel":"hostname","content":"node-1"}},{"keyValue":{"topLabel":"k8s.ns.name","content":"prod"}},{"keyValue":{"topLabel":"k8s.pod.name","content":"api-1"}},{"keyValue":{"topLabel":"proc.name","content":"bash"}},{"keyValue":{"topLabel":"tags","content":"T1059, container, shell"}},{"keyValue":{"topLabel":"time","content":"2026-11-23 09:00:00.123456789 +0000 UTC"}}]}]}]}`

func TestForward(t *testing.T) {
	p := testpeer.New(t)
	src := testpeer.Env(map[string]string{"GOOGLECHAT_WEBHOOKURL": p.URL + "/v1/spaces/S/messages?key=k&token=t",
		"GOOGLECHAT_MESSAGEFORMAT": "{{.Priority}}: {{.Rule}}"})
	cfg, ok := googlechat.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := googlechat.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err != nil {
		t.Fatal(err)
	}
	r := p.Only(t)
	if r.Path != "/v1/spaces/S/messages" || r.RawQuery != "key=k&token=t" {
		t.Fatalf("request %+v", r)
	}
	testpeer.JSONEqual(t, r.Body, wantMessage)
}

// A template that fails on one alert still sends the alert.
func TestTextFormatFailedTemplateSendsOutput(t *testing.T) {
	src := testpeer.Env(map[string]string{"GOOGLECHAT_WEBHOOKURL": "http://127.0.0.1:1/x", "GOOGLECHAT_OUTPUTFORMAT": "text",
		"GOOGLECHAT_MESSAGEFORMAT": `{{index .OutputFields "missing" | printf "%s" | len | printf "%d" | index .Tags}}`})
	cfg, _ := googlechat.Load(src)
	if src.Err() != nil {
		t.Fatal(src.Err())
	}
	var logs bytes.Buffer
	a := testpeer.Sample()
	m := googlechat.Build(&cfg, &a, slog.New(slog.NewTextHandler(&logs, nil)))
	if m.Text != a.Output || m.Cards != nil {
		t.Fatalf("Build = %+v, want the output as text", m)
	}
	if !strings.Contains(logs.String(), "message template failed") {
		t.Fatalf("no warning logged: %s", logs.String())
	}
}
