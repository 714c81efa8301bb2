package teams_test

import (
	"context"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/teams"
	"github.com/saker-sec/saker/hub/alert"
)

const wantCard = `{"@type":"MessageCard","summary":"Shell spawned in container (user=root)","themeColor":"ffff00","sections":[{"activityTitle":"Falcosidekick","activitySubtitle":"2026-11-23 09:00:00.123456789 +0000 UTC","activityImage":"https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png","text":"Shell spawned in container (user=root)","facts":[{"name":"rule","value":"Terminal shell in container"},{"name":"priority","value":"Warning"},{"name":"source","value":"syscalls"},{"name":"hostname","value":"node-1"},{"name":"k8s.ns.name","value":"prod"},{"name":"k8s.pod.name","value":"api-1"},{"name":"proc.name","value":"bash"},{"name":"tags","value":"T1059, container, shell"}]}]}`

func TestForward(t *testing.T) {
	p := testpeer.New(t)
	src := testpeer.Env(map[string]string{"TEAMS_WEBHOOKURL": p.URL + "/webhookb2/x", "TEAMS_CUSTOMHEADERS": "X-A:1", "TEAMS_MINIMUMPRIORITY": "warning"})
	cfg, ok := teams.Load(src)
	if !ok || src.Err() != nil || cfg.MinimumPriority != alert.PriorityWarning || cfg.OutputFormat != "all" {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := teams.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err != nil {
		t.Fatal(err)
	}
	r := p.Only(t)
	if r.Path != "/webhookb2/x" || r.Header.Get("X-A") != "1" || r.Header.Get("Content-Type") != outhttp.ContentTypeJSON {
		t.Fatalf("request %+v", r)
	}
	testpeer.JSONEqual(t, r.Body, wantCard)
}

func TestFormats(t *testing.T) {
	a := testpeer.Sample()
	text := teams.Build(&teams.Config{OutputFormat: "text"}, &a)
	if text.Sections[0].Text != a.Output || text.Sections[0].Facts != nil {
		t.Fatalf("text format: %+v", text.Sections[0])
	}
	facts := teams.Build(&teams.Config{OutputFormat: teams.FormatFacts}, &a)
	if facts.Sections[0].Text != "" || len(facts.Sections[0].Facts) != 8 {
		t.Fatalf("facts format: %+v", facts.Sections[0])
	}
	for p, want := range map[alert.Priority]string{alert.PriorityEmergency: "e20b0b", alert.PriorityCritical: "ff9000", alert.PriorityDebug: "ccfff2"} {
		if got := teams.ThemeColor(p); got != want {
			t.Errorf("ThemeColor(%v) = %q, want %q", p, got, want)
		}
	}
}
