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
		{"no match", "- action: kill\n", "actions[0]: match: want at least one", 0},
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
