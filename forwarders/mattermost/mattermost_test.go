package mattermost_test

import (
	"context"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/mattermost"
	"github.com/saker-sec/saker/hub/alert"
)

const wantMessage = `{"text":"rule Terminal shell in container","username":"Falcosidekick","icon_url":"https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png","attachments":[{"fallback":"Shell spawned in container (user=root)","color":"#ffc700","text":"Shell spawned in container (user=root)","fields":[{"title":"rule","value":"Terminal shell in container","short":true},{"title":"hostname","value":"node-1","short":true},{"title":"priority","value":"Warning","short":true},{"title":"source","value":"syscalls","short":true},{"title":"tags","value":"T1059, container, shell","short":true},{"title":"k8s.ns.name","value":"prod","short":true},{"title":"k8s.pod.name","value":"api-1","short":true},{"title":"proc.name","value":"bash","short":true},{"title":"time","value":"2026-11-23 09:00:00.123456789 +0000 UTC","short":false}],"footer":"https://github.com/falcosecurity/falcosidekick"}]}`

func TestForward(t *testing.T) {
	p := testpeer.New(t)
	src := testpeer.Env(map[string]string{"MATTERMOST_WEBHOOKURL": p.URL + "/hooks/abc", "MATTERMOST_MESSAGEFORMAT": "rule {{.Rule}}"})
	cfg, ok := mattermost.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := mattermost.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := testpeer.Sample()
	if _, err := f.Forward(context.Background(), []alert.Alert{a, a}); err != nil {
		t.Fatal(err)
	}
	r := p.Requests()
	if len(r) != 2 || r[0].Path != "/hooks/abc" {
		t.Fatalf("requests %+v", r)
	}
	testpeer.JSONEqual(t, r[1].Body, wantMessage)
}

func TestFormats(t *testing.T) {
	a := testpeer.Sample()
	m := mattermost.Message(&mattermost.Config{OutputFormat: "text"}, &a, nil)
	if at := m.Attachments[0]; at.Text != a.Output || at.Fields != nil || at.Footer != "" {
		t.Fatalf("text: %+v", at)
	}
	m = mattermost.Message(&mattermost.Config{OutputFormat: "fields"}, &a, nil)
	if at := m.Attachments[0]; at.Text != "" || len(at.Fields) != 9 {
		t.Fatalf("fields: %+v", at)
	}
}
