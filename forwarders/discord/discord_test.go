package discord_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/saker-sec/saker/forwarders/discord"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

const wantMessage = `{"content":"","avatar_url":"https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png","embeds":[{"description":"Shell spawned in container (user=root)","color":12745742,"fields":[{"name":"rule","value":"Terminal shell in container","inline":true},{"name":"priority","value":"Warning","inline":true},{"name":"source","value":"syscalls","inline":true},{"name":"hostname","value":"node-1","inline":true},{"name":"k8s.ns.name","value":"` + "```prod```" + `","inline":true},{"name":"k8s.pod.name","value":"` + "```api-1```" + `","inline":true},{"name":"proc.name","value":"` + "```bash```" + `","inline":true},{"name":"tags","value":"T1059, container, shell","inline":true},{"name":"time","value":"2026-11-23 09:00:00.123456789 +0000 UTC","inline":true}]}]}`

func TestForward(t *testing.T) {
	p := testpeer.New(t)
	src := testpeer.Env(map[string]string{"DISCORD_WEBHOOKURL": p.URL + "/api/webhooks/1/tok"})
	cfg, ok := discord.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := discord.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err != nil {
		t.Fatal(err)
	}
	r := p.Only(t)
	if r.Path != "/api/webhooks/1/tok" {
		t.Fatalf("path %q", r.Path)
	}
	testpeer.JSONEqual(t, r.Body, wantMessage)
}

// Discord refuses an embed with more than 25 fields or a field value over
// 1024 characters; such an alert must still be delivered.
func TestBuildStaysWithinDiscordLimits(t *testing.T) {
	a := testpeer.Sample()
	for i := range 40 {
		a.OutputFields[fmt.Sprintf("f%02d", i)] = strings.Repeat("x", 2000)
	}
	m := discord.Build(&discord.Config{}, &a)
	fields := m.Embeds[0].Fields
	if len(fields) != 25 || fields[24].Name != "time" || fields[23].Name != "tags" {
		t.Fatalf("%d fields, last %q %q", len(fields), fields[23].Name, fields[24].Name)
	}
	for _, f := range fields {
		if n := len([]rune(f.Value)); n > 1024 {
			t.Fatalf("field %s has %d runes", f.Name, n)
		}
	}
}

func TestColor(t *testing.T) {
	if discord.Color(alert.PriorityEmergency) != 15158332 || discord.Color(alert.PriorityDebug) != 12370112 {
		t.Fatal("colours differ from falcosidekick's")
	}
}
