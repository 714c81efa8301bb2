package rules

import (
	"bytes"
	"os"
	"sort"
	"strings"
	"testing"
)

// The official Falco stable rules (falcosecurity/rules 5.1.0, Apache-2.0):
// the shared checkout when present, and the copy in testdata so the test
// works in a clean clone.
const (
	sharedStableRules = "../../../shared/falco-rules/falco_rules.yaml"
	stableRules       = "testdata/falco_rules.yaml"
)

func TestStableRulesLoadUnmodified(t *testing.T) {
	paths := []string{stableRules}
	if shared, err := os.ReadFile(sharedStableRules); err == nil {
		local, err := os.ReadFile(stableRules)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(shared, local) {
			t.Errorf("%s differs from %s: refresh the testdata copy", stableRules, sharedStableRules)
		}
		paths = append(paths, sharedStableRules)
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			l := NewLoader(Config{})
			if err := l.LoadFile(path); err != nil {
				t.Fatalf("load: %v", err)
			}
			rs, err := l.Compile()
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if rs.Lists != 49 || rs.Macros != 87 || rs.DefinedRules != 25 {
				t.Errorf("loaded %d lists, %d macros, %d rules; want 49, 87, 25", rs.Lists, rs.Macros, rs.DefinedRules)
			}
			if len(rs.Rules) != 25 {
				t.Errorf("compiled %d rules, want 25", len(rs.Rules))
			}
			enabled := 0
			types := map[string]bool{}
			for _, r := range rs.Rules {
				if r.Filter == nil || r.Condition == "" {
					t.Errorf("rule %q has no compiled filter", r.Name)
				}
				if r.Enabled && r.Loaded {
					enabled++
				}
				if r.AllEventTypes {
					t.Errorf("rule %q is not restricted by event type", r.Name)
				}
				for _, ty := range r.EventTypes {
					types[ty.String()] = true
				}
			}
			if enabled != 25 {
				t.Errorf("%d enabled rules, want 25", enabled)
			}
			for _, w := range rs.Warnings {
				t.Errorf("unexpected warning: %s", w)
			}
			var names []string
			for n := range types {
				names = append(names, n)
			}
			sort.Strings(names)
			want := "connect dup dup2 dup3 execve execveat finit_module init_module link linkat open openat openat2 ptrace sendmsg sendto socket symlink symlinkat"
			if got := strings.Join(names, " "); got != want {
				t.Errorf("event types\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestStableRulesUserOverrides loads the stable file followed by a user
// file in the style of falco_rules.local.yaml.
func TestStableRulesUserOverrides(t *testing.T) {
	l := NewLoader(Config{})
	if err := l.LoadFile(stableRules); err != nil {
		t.Fatal(err)
	}
	err := l.Load("falco_rules.local.yaml", []byte(`
- list: shell_binaries
  items: [my_shell]
  override:
    items: append
- macro: user_known_stand_streams_redirect_activities
  condition: (proc.name = gdb)
  override:
    condition: replace
- rule: Terminal shell in container
  exceptions:
    - name: trusted_images
      fields: [container.image.repository]
      values: [[docker.io/library/debug]]
  override:
    exceptions: append
- rule: PTRACE anti-debug attempt
  enabled: false
  override:
    enabled: replace
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	r := ruleByName(rs, "Terminal shell in container")
	if !strings.HasSuffix(r.Condition, "and not container.image.repository = docker.io/library/debug)") {
		t.Errorf("exception not appended: %s", r.Condition)
	}
	if ruleByName(rs, "PTRACE anti-debug attempt").Enabled {
		t.Error("rule not disabled by override")
	}
	if c := ruleByName(rs, "Redirect STDOUT/STDIN to Network Connection in Container").Condition; !strings.Contains(c, "not proc.name = gdb") {
		t.Errorf("macro replacement not applied: %s", c)
	}
	if c := ruleByName(rs, "Run shell untrusted").Condition; !strings.Contains(c, "my_shell") {
		t.Errorf("list append not applied: %s", c)
	}
}
