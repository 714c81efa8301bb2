package defaultrules

import (
	"slices"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/rules"
)

// TestCompiles loads the default rules with the real loader and compiler
// and checks that every promised rule is there and restricted to event
// types the probe captures.
func TestCompiles(t *testing.T) {
	l := rules.NewLoader(rules.Config{})
	if err := l.Load(Name, YAML); err != nil {
		t.Fatal(err)
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range rs.Warnings {
		t.Logf("warning: %v", w)
	}
	want := []string{
		"Read sensitive file untrusted", "Write below binary dir", "Write below etc", "Write below root",
		"Create files below dev", "Terminal shell in container", "Unauthorized process in nginx container",
		"Netcat remote code execution", "Package management process launched in container",
		"Launch Privileged Container", "Launch Sensitive Mount Container", "Change thread namespace",
	}
	var names []string
	for _, r := range rs.Rules {
		names = append(names, r.Name)
		if r.AllEventTypes {
			t.Errorf("rule %q does not restrict evt.type: it would need every syscall", r.Name)
		}
		for _, typ := range r.EventTypes {
			if typ == event.TypeUnknown {
				t.Errorf("rule %q has an unknown event type", r.Name)
			}
		}
	}
	for _, w := range want {
		if !slices.Contains(names, w) {
			t.Errorf("missing rule %q", w)
		}
	}
}
