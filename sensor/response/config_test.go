package response

import (
	"strings"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, doc, err string
		actions        int
	}{
		{"issue form", "- match:\n    rule: Terminal shell in container\n  action: kill\n", "", 1},
		{"map form", "dry_run: true\nmatching: all\nactions:\n- {match: {tags: [shell]}, action: container_pause}\n- {match: {priority: warning}, action: webhook, url: 'http://127.0.0.1:9/'}\n", "", 2},
		{"script", "- {match: {source: syscall}, action: script, command: [/bin/true]}\n", "", 1},
		{"no match", "- action: kill\n", "actions[0] (line 1): match: want at least one", 0},
		{"line in map form", "actions:\n- {match: {rule: x}, action: kill}\n\n- {match: {rule: y}, action: nope}\n", `actions[1] (line 4): unknown action "nope"`, 0},
		{"pod label", "- {match: {rule: x}, action: pod_label, labels: {saker.dev/quarantine: 'true'}}\n", "", 1},
		{"pod annotate", "- {match: {rule: x}, action: pod_annotate, annotations: {saker.dev/alert: '${rule} ${alert_id}'}}\n", "", 1},
		{"pod delete", "- {match: {rule: x}, action: pod_delete, grace_period: 0}\n", "", 1},
		{"pod label value", "- {match: {rule: x}, action: pod_label, labels: {q: 'has space'}}\n", "pod_label: label q value", 0},
		{"pod label none", "- {match: {rule: x}, action: pod_label}\n", "pod_label: want labels", 0},
		{"pod annotate key", "- {match: {rule: x}, action: pod_annotate, annotations: {'a b': x}}\n", "annotation key", 0},
		{"pod delete grace", "- {match: {rule: x}, action: pod_delete, grace_period: -1}\n", "grace_period must not be negative", 0},
		{"unknown action", "- {match: {rule: x}, action: reboot}\n", `unknown action "reboot"`, 0},
		{"bad priority", "- {match: {priority: loud}, action: kill}\n", "match.priority", 0},
		{"bad signal", "- {match: {rule: x}, action: kill, signal: NOPE}\n", `signal "NOPE"`, 0},
		{"script without command", "- {match: {rule: x}, action: script}\n", "want a command", 0},
		{"webhook url", "- {match: {rule: x}, action: webhook, url: 'ftp://x'}\n", "webhook: url", 0},
		{"matching", "matching: most\nactions: []\n", `matching "most"`, 0},
		{"not yaml", "- [", "yaml", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Actions) != tc.actions {
				t.Fatalf("%d actions, want %d", len(c.Actions), tc.actions)
			}
		})
	}
}

func TestProtectedNamespacesDefault(t *testing.T) {
	c, err := Parse([]byte("- {match: {rule: x}, action: pod_delete}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.RefusePod(Pod{"kube-system", "coredns-1"}); got == "" {
		t.Fatal("kube-system pod not protected by default")
	}
	if got := c.RefusePod(Pod{"shop", "web-1"}); got != "" {
		t.Fatalf("shop/web-1 refused: %s", got)
	}
	c, err = Parse([]byte("allowlist: {namespaces: [], pods: [shop/db-0, cache-0]}\nactions:\n- {match: {rule: x}, action: pod_delete}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for p, refused := range map[Pod]bool{{"kube-system", "coredns-1"}: false, {"shop", "db-0"}: true, {"other", "db-0"}: false, {"any", "cache-0"}: true} {
		if got := c.RefusePod(p) != ""; got != refused {
			t.Errorf("RefusePod(%v) refused=%v, want %v", p, got, refused)
		}
	}
}

func TestMatch(t *testing.T) {
	c, err := Parse([]byte(`
- {match: {rule: Shell, source: syscall}, action: kill}
- {match: {tags: [container, shell]}, action: container_pause}
- {match: {priority: error}, action: script, command: [/bin/true]}
`))
	if err != nil {
		t.Fatal(err)
	}
	shell := &alert.Alert{Rule: "Shell", Source: "syscall", Priority: alert.PriorityCritical, Tags: []string{"container", "shell", "mitre"}}
	other := &alert.Alert{Rule: "Other", Source: "syscall", Priority: alert.PriorityWarning, Tags: []string{"shell"}}
	for _, tc := range []struct {
		matching string
		a        *alert.Alert
		want     []string
	}{
		{MatchFirst, shell, []string{ActionKill}},
		{MatchAll, shell, []string{ActionKill, ActionContainerPause, ActionScript}},
		{MatchAll, other, nil},
		{MatchAll, &alert.Alert{Rule: "Other", Priority: alert.PriorityEmergency}, []string{ActionScript}},
	} {
		c.Matching = tc.matching
		r := &Responder{cfg: c}
		a := *tc.a
		var got []string
		for _, act := range r.Match(&a) {
			got = append(got, act.Action)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s %s: %v, want %v", tc.matching, a.Rule, got, tc.want)
		}
		if (len(got) > 0) != (a.UUID != "") {
			t.Errorf("%s: uuid %q with %d actions: a matched alert needs an id for its records", a.Rule, a.UUID, len(got))
		}
	}
	off := false
	c.Enabled = &off
	if acts := (&Responder{cfg: c}).Match(shell); len(acts) != 0 {
		t.Errorf("enabled: false still matched %d actions", len(acts))
	}
}
