package response

import (
	"reflect"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/response/guard"
	"github.com/saker-sec/saker/sensor/rules"
)

const holdRules = `
- rule: etc writer
  desc: t
  condition: evt.type = openat and evt.is_open_write=true and fd.name startswith /etc/
  output: t
  priority: ERROR
  tags: [filesystem]
- rule: root writer
  desc: t
  condition: evt.type = open and evt.is_open_write=true and fd.name startswith /root/
  output: t
  priority: WARNING
- rule: shell
  desc: t
  condition: evt.type = execve and proc.name = sh
  output: t
  priority: ERROR
`

func compiledRules(t *testing.T) []*rules.Rule {
	t.Helper()
	l := rules.NewLoader(rules.Config{})
	if err := l.Load("r.yaml", []byte(holdRules)); err != nil {
		t.Fatal(err)
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return rs.Rules
}

// TestGuardRules: the guard covers the rules a kill action (not a dry
// run) answers, says why it skips the others, and is off with
// guard.enabled: false or a global dry run.
func TestGuardRules(t *testing.T) {
	rs := compiledRules(t)
	for _, tc := range []struct {
		name, doc string
		want      guard.Spec
		ok        bool
		skipped   []string
	}{
		{name: "kill by tag and priority", doc: `
actions:
- {match: {tags: [filesystem]}, action: kill}
- {match: {priority: error}, action: kill}
`, ok: true, want: guard.Spec{Types: []event.Type{event.TypeOpenat}, WriteOnly: true, Prefixes: []string{"/etc/"}}, skipped: []string{"shell"}},
		{name: "union of two rules", doc: `
matching: all
actions:
- {match: {rule: etc writer}, action: kill}
- {match: {rule: root writer}, action: kill, signal: TERM}
`, ok: true, want: guard.Spec{Types: []event.Type{event.TypeOpen, event.TypeOpenat}, WriteOnly: true, Prefixes: []string{"/etc/", "/root/"}}},
		{name: "dry run entry", doc: `
- {match: {rule: etc writer}, action: kill, dry_run: true}
`},
		{name: "other actions", doc: `
- {match: {rule: etc writer}, action: container_stop}
`},
		{name: "disabled", doc: `
guard: {enabled: false}
actions:
- {match: {rule: etc writer}, action: kill}
`},
		{name: "global dry run", doc: `
dry_run: true
actions:
- {match: {rule: etc writer}, action: kill}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newResponder(t, tc.doc)
			spec, ok, skipped := r.GuardRules(rs)
			if ok != tc.ok || !reflect.DeepEqual(spec, tc.want) {
				t.Fatalf("spec %v ok %v, want %v %v", spec, ok, tc.want, tc.ok)
			}
			var names []string
			for n := range skipped {
				names = append(names, n)
			}
			if len(names) != len(tc.skipped) || (len(names) > 0 && !reflect.DeepEqual(names, tc.skipped)) {
				t.Fatalf("skipped %v, want %v", skipped, tc.skipped)
			}
		})
	}
}
