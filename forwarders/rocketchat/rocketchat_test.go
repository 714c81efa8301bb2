package rocketchat_test

import (
	"context"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/rocketchat"
	"github.com/saker-sec/saker/hub/alert"
)

const wantMessage = `{"username":"Falcosidekick","icon_url":"https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png","attachments":[{"fallback":"Shell spawned in container (user=root)","color":"#ffc700","text":"Shell spawned in container (user=root)","fields":[{"title":"rule","value":"Terminal shell in container","short":true},{"title":"priority","value":"Warning","short":true},{"title":"source","value":"syscalls","short":true},{"title":"tags","value":"T1059, container, shell","short":true},{"title":"k8s.ns.name","value":"prod","short":true},{"title":"k8s.pod.name","value":"api-1","short":true},{"title":"proc.name","value":"bash","short":true},{"title":"time","value":"2026-11-23 09:00:00.123456789 +0000 UTC","short":false},{"title":"hostname","value":"node-1","short":true}]}]}`

func TestForward(t *testing.T) {
	p := testpeer.New(t)
	src := testpeer.Env(map[string]string{"ROCKETCHAT_WEBHOOKURL": p.URL + "/hooks/id/token"})
	cfg, ok := rocketchat.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := rocketchat.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err != nil {
		t.Fatal(err)
	}
	testpeer.JSONEqual(t, p.Only(t).Body, wantMessage)
}

func TestTextFormat(t *testing.T) {
	a := testpeer.Sample()
	m := rocketchat.Message(&rocketchat.Config{OutputFormat: "text"}, &a, nil)
	if m.Text != a.Output || m.Attachments != nil {
		t.Fatalf("text format without template: %+v", m)
	}
}
