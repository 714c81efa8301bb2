package rules

import (
	"errors"
	"strings"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
)

// load compiles one rules document and returns the ruleset and error.
func load(t *testing.T, content string) (*Ruleset, *Loader, error) {
	t.Helper()
	l := NewLoader(Config{})
	if err := l.Load("rules.yaml", []byte(content)); err != nil {
		return nil, l, err
	}
	rs, err := l.Compile()
	return rs, l, err
}

func ruleByName(rs *Ruleset, name string) *Rule {
	for _, r := range rs.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

func hasWarning(l *Loader, substr string) bool {
	for _, w := range l.Warnings {
		if strings.Contains(w.Msg, substr) {
			return true
		}
	}
	return false
}

// TestLoaderCompiledConditions ports falco's unit_tests/engine/
// test_rule_loader.cpp: the compiled condition after lists, macros,
// append and override must be exactly Falco's.
func TestLoaderCompiledConditions(t *testing.T) {
	const out = "output: command=%proc.name file=%fd.name\n  priority: INFO\n"
	tests := []struct {
		name, content, rule, want string
		wantWarn                  string
	}{
		{"list_append", `
- list: shell_binaries
  items: [ash, bash, csh, ksh, sh, tcsh, zsh, dash]
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open and proc.name in (shell_binaries)
  ` + out + `
- list: shell_binaries
  items: [pwsh]
  override:
    items: append
`, "legit_rule", "(evt.type = open and proc.name in (ash, bash, csh, ksh, sh, tcsh, zsh, dash, pwsh))", ""},
		{"condition_append", `
- macro: interactive
  condition: >
    ((proc.name=sshd and proc.name != sshd) or
    proc.name=systemd-logind or proc.name=login)
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open and interactive
  ` + out + `
- macro: interactive
  condition: or proc.name = ssh
  override:
    condition: append
`, "legit_rule", "(evt.type = open and (((proc.name = sshd and proc.name != sshd) or proc.name = systemd-logind or proc.name = login) or proc.name = ssh))", ""},
		{"rule_append", `
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open
  ` + out + `
- rule: legit_rule
  condition: and proc.name = cat
  append: true
`, "legit_rule", "(evt.type = open and proc.name = cat)", warnAppend},
		{"macro_override_replace_before_definition", `
- macro: open_simple
  condition: or evt.type = openat2
  override:
    condition: replace
- macro: open_simple
  condition: evt.type in (open,openat)
- rule: test_rule
  desc: simple rule
  condition: open_simple
  ` + out, "test_rule", "evt.type in (open, openat)", ""},
		{"macro_override_append_after_definition", `
- macro: open_simple
  condition: evt.type in (open,openat)
- macro: open_simple
  condition: or evt.type = openat2
  override:
    condition: append
- rule: test_rule
  desc: simple rule
  condition: open_simple
  ` + out, "test_rule", "(evt.type in (open, openat) or evt.type = openat2)", ""},
		{"rule_override_append_after_definition", `
- rule: test_rule
  desc: simple rule
  condition: evt.type in (open,openat)
  ` + out + `
- rule: test_rule
  condition: and proc.name = cat
  override:
    condition: append
`, "test_rule", "(evt.type in (open, openat) and proc.name = cat)", ""},
		{"list_override_typo_redefines", `
- list: dev_creation_binaries
  items: ["csi-provisioner", "csi-attacher"]
  overridde:
    items: append
- list: dev_creation_binaries
  items: [blkid]
- rule: test_rule
  desc: simple rule
  condition: evt.type = execve and proc.name in (dev_creation_binaries)
  ` + out, "test_rule", "(evt.type = execve and proc.name in (blkid))", ""},
		{"list_override_replace_before_definition", `
- list: dev_creation_binaries
  items: ["csi-provisioner", "csi-attacher"]
  override:
    items: replace
- list: dev_creation_binaries
  items: [blkid]
- rule: test_rule
  desc: simple rule
  condition: evt.type = execve and proc.name in (dev_creation_binaries)
  ` + out, "test_rule", "(evt.type = execve and proc.name in (blkid))", ""},
		{"list_append_after_definition", `
- list: dev_creation_binaries
  items: [blkid]
- list: dev_creation_binaries
  items: ["csi-provisioner", "csi-attacher"]
  append: true
- rule: test_rule
  desc: simple rule
  condition: evt.type = execve and proc.name in (dev_creation_binaries)
  ` + out, "test_rule", "(evt.type = execve and proc.name in (blkid, csi-provisioner, csi-attacher))", warnAppend},
		{"rewrite_rule", `
- rule: test_rule
  desc: test rule description
  condition: evt.type = close
  ` + out + `  enabled: false
- rule: test_rule
  desc: redefined rule syntax
  condition: proc.name = cat
  ` + out, "test_rule", "proc.name = cat", ""},
		{"nested_lists_and_quoting", `
- list: a
  items: [x, "y z"]
- list: b
  items: [a, w]
- list: empty
  items: []
- rule: r
  desc: d
  condition: proc.name in (b) and proc.name in (empty, q) and fd.name in (q, empty)
  ` + out, "r", `(proc.name in (x, "y z", w) and proc.name in (q) and fd.name in (q))`, ""},
		{"exceptions_fields_list", `
- rule: r
  desc: d
  condition: evt.type = open
  ` + out + `  exceptions:
    - name: proc_file
      fields: [proc.name, fd.name]
      comps: [=, startswith]
      values:
        - [cat, /tmp]
        - [my app, "/var/log"]
    - name: procs_only
      fields: proc.name
      values: [bash, "my sh"]
    - name: list_comp
      fields: [proc.name, fd.name]
      comps: [in, pmatch]
      values:
        - [[a, b], [/etc, /usr]]
        - [c, /opt]
    - name: empty
      fields: [proc.name]
`, "r", `(evt.type = open and not ((proc.name = cat and fd.name startswith /tmp) or (proc.name = "my app" and fd.name startswith /var/log)) and not proc.name in (bash, "my sh") and not ((proc.name in (a, b) and fd.name pmatch (/etc, /usr)) or (proc.name in (c) and fd.name pmatch (/opt))))`, ""},
		{"exceptions_appended_values", `
- rule: r
  desc: d
  condition: evt.type = open
  ` + out + `  exceptions:
    - name: procs
      fields: [proc.name]
      values: [[cat]]
- rule: r
  exceptions:
    - name: procs
      values: [[dog]]
    - name: files
      fields: fd.name
      comps: pmatch
      values: [/tmp]
  override:
    exceptions: append
`, "r", `(evt.type = open and not (proc.name = cat or proc.name = dog) and not fd.name pmatch (/tmp))`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, l, err := load(t, tc.content)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			r := ruleByName(rs, tc.rule)
			if r == nil {
				t.Fatalf("rule %q not compiled", tc.rule)
			}
			if r.Condition != tc.want {
				t.Errorf("compiled condition\n got %s\nwant %s", r.Condition, tc.want)
			}
			if tc.wantWarn != "" && !hasWarning(l, tc.wantWarn) {
				t.Errorf("missing warning %q in %v", tc.wantWarn, l.Warnings)
			}
		})
	}
}

func TestLoaderOverrideFields(t *testing.T) {
	rs, l, err := load(t, `
- rule: legit_rule
  desc: legit rule description
  condition: evt.type=open
  output: cmd=%proc.name file=%fd.name
  priority: INFO
  tags: [b, a]
  enabled: false
- rule: legit_rule
  desc: with append
  condition: and proc.name = cat
  output: proc=%proc.name
  priority: wArNiNg
  tags: [c, a]
  enabled: true
  override:
    desc: append
    condition: append
    output: append
    tags: append
    priority: replace
    enabled: replace
`)
	if err != nil {
		t.Fatal(err)
	}
	r := ruleByName(rs, "legit_rule")
	if r.Desc != "legit rule description with append" || r.Output != "cmd=%proc.name file=%fd.name proc=%proc.name" {
		t.Errorf("desc/output = %q / %q", r.Desc, r.Output)
	}
	if r.Priority != alert.PriorityWarning || !r.Enabled || strings.Join(r.Tags, ",") != "a,b,c" {
		t.Errorf("priority %v enabled %v tags %v", r.Priority, r.Enabled, r.Tags)
	}
	if hasWarning(l, warnAppend) {
		t.Error("override must not warn about append")
	}
}

func TestLoaderErrors(t *testing.T) {
	base := `
- rule: r
  desc: d
  condition: evt.type = close
  output: p=%proc.name
  priority: INFO
`
	tests := []struct{ name, content, want string }{
		{"override_bad_append_key", base + `
- rule: r
  desc: x
  condition: and proc.name = cat
  priority: WARNING
  override:
    desc: replace
    condition: append
    priority: append
`, "Key 'priority' cannot be appended to, use 'replace' instead"},
		{"append_and_override", base + `
- rule: r
  condition: and proc.name = cat
  append: true
  override:
    condition: append
`, errOverrideAppend},
		{"override_without_field", base + `
- rule: r
  desc: x
  override:
    desc: replace
    condition: append
`, "An append override for 'condition' was specified but 'condition' is not defined"},
		{"override_extra_field", base + `
- rule: r
  desc: x
  condition: and proc.name = cat
  priority: WARNING
  override:
    desc: replace
    condition: append
`, "Unexpected key 'priority'"},
		{"missing_enabled_with_override", base + `
- rule: r
  condition: and proc.name = cat
  override:
    condition: append
    enabled: replace
`, "'enabled' was specified but 'enabled' is not defined"},
		{"macro_append_before_definition", `
- macro: m
  condition: or evt.type = openat2
  override:
    condition: append
`, errNoPreviousMacro},
		{"list_append_before_definition", `
- list: l
  items: [a]
  append: true
`, errNoPreviousList},
		{"rule_append_before_definition", `
- rule: r
  condition: and proc.name = cat
  append: true
`, errNoPreviousRuleAppend},
		{"rule_replace_before_definition", `
- rule: r
  condition: proc.name = cat
  override:
    condition: replace
`, errNoPreviousRuleReplace},
		{"engine_version_invalid", `- required_engine_version: seven`, "Unable to parse engine version"},
		{"engine_version_too_new", `- required_engine_version: 0.99.0`, "Rules require engine version 0.99.0"},
		{"plugin_missing", `
- required_plugin_versions:
  - name: k8saudit
    version: 0.1.0
`, "Plugin 'k8saudit'"},
		{"undefined_macro", `
- rule: r
  desc: d
  condition: evt.type = open and nosuchmacro
  output: x
  priority: INFO
`, "Undefined macro 'nosuchmacro' used in filter."},
		{"macro_forward_reference", `
- macro: a
  condition: b
- macro: b
  condition: proc.name = x
- rule: r
  desc: d
  condition: a
  output: x
  priority: INFO
`, "Undefined macro 'b' used in filter."},
		{"bad_priority", `
- rule: r
  desc: d
  condition: proc.name = x
  output: x
  priority: LOUD
`, "Invalid priority"},
		{"missing_output", `
- rule: r
  desc: d
  condition: proc.name = x
  priority: INFO
`, "Item has no mapping for key 'output'"},
		{"syntax_error", `
- rule: r
  desc: d
  condition: proc.name = x and
  output: x
  priority: INFO
`, "rules.yaml:4:"},
		{"unknown_field", `
- rule: r
  desc: d
  condition: proc.nosuch = x
  output: x
  priority: INFO
`, "nonexistent field proc.nosuch"},
		{"unknown_evt_type", `
- rule: r
  desc: d
  condition: evt.type = notasyscall
  output: x
  priority: INFO
`, "unknown event type notasyscall"},
		{"exception_length_mismatch", `
- rule: r
  desc: d
  condition: proc.name = x
  output: x
  priority: INFO
  exceptions:
    - name: e
      fields: [proc.name, fd.name]
      values: [[a]]
`, "Fields and values lists must have equal length"},
		{"not_a_sequence", `rule: x`, "Rules content is not yaml array of objects"},
		{"macro_self_reference", `
- macro: a
  condition: proc.name = x or a
- rule: r
  desc: d
  condition: a
  output: x
  priority: INFO
`, "Undefined macro 'a' used in filter."},
		{"macro_redefined_self_reference", `
- macro: a
  condition: proc.name = x
- macro: a
  condition: proc.name = y or a
- rule: r
  desc: d
  condition: a
  output: x
  priority: INFO
`, "reference loop in macro 'a'"},
		{"exception_single_field_list_values", `
- rule: r
  desc: d
  condition: proc.name = x
  output: x
  priority: INFO
  exceptions:
    - name: e
      fields: proc.name
      values: [[a, b]]
`, "Expected values array to contain a list of strings"},
		{"error_position", `
- rule: r
  desc: d
  condition: proc.name = x and ( fd.name =
  output: x
  priority: INFO
`, "rules.yaml:4:43: rule 'r': expected a string value"},
		{"bad_override_mode", base + `
- rule: r
  condition: x
  override:
    condition: merge
`, "Invalid override operation for key 'condition': 'merge'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := load(t, tc.content)
			if err == nil {
				t.Fatalf("loaded without error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestLoaderSkipsAndWarnings(t *testing.T) {
	rs, l, err := load(t, `
- required_engine_version: 26
- rule: skipped
  desc: d
  condition: evt.type = open and proc.nosuch = x
  output: x
  priority: INFO
  skip-if-unknown-filter: true
- rule: other_source
  desc: d
  condition: ka.verb = get
  output: x
  priority: INFO
  source: k8s_audit
- rule: everything
  desc: d
  condition: proc.name = x
  output: x
  priority: debug
- rule: toggled
  desc: d
  condition: evt.type = open
  output: x
  priority: INFO
  enabled: false
- rule: toggled
  enabled: true
- rule: uncaptured_syscall
  desc: d
  condition: evt.type in (open, pivot_root) and not evt.type = kexec_load and evt.dir = <
  output: x
  priority: INFO
- list: unused_list
  items: [a]
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(rs.Rules); got != 3 {
		t.Errorf("compiled %d rules, want 3 (skipped, other_source omitted)", got)
	}
	for _, w := range []string{"usage of deprecated field 'evt.dir'", "nonexistent field", "Unknown source k8s_audit", "Rule matches too many evt.type values", warnEnabled, "List not referred to"} {
		if !hasWarning(l, w) {
			t.Errorf("missing warning %q", w)
		}
	}
	if r := ruleByName(rs, "toggled"); r == nil || !r.Enabled {
		t.Error("standalone enabled: true did not enable the rule")
	}
	if r := ruleByName(rs, "uncaptured_syscall"); r == nil || len(r.EventTypes) != 1 || r.EventTypes[0].String() != "open" {
		t.Errorf("uncaptured syscall names must be accepted and never match: %+v", r)
	}
}

func TestMinPriority(t *testing.T) {
	l := NewLoader(Config{MinPriority: alert.PriorityWarning})
	err := l.Load("r.yaml", []byte(`
- rule: low
  desc: d
  condition: proc.name = x
  output: x
  priority: notice
- rule: high
  desc: d
  condition: proc.name = x
  output: x
  priority: CRITICAL
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	if ruleByName(rs, "low").Loaded || !ruleByName(rs, "high").Loaded {
		t.Error("rules below the minimum priority must not be loaded")
	}
}

// TestLoadReportsEveryProblemAtOnce loads two files with errors of every
// stage (file structure, priority, unknown fields in a condition and an
// output, condition syntax, undefined macro) and warnings: like Falco, the
// load reports all of them together, each with file:line:col, and still
// compiles the valid rules.
func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	rs, err := LoadFiles(Config{}, "testdata/errors/a.yaml", "testdata/errors/b.yaml")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T), want Errors", err, err)
	}
	wantErrs := []string{
		"testdata/errors/b.yaml:1:3: rule 'missing condition': Item has no mapping for key 'condition'",
		"testdata/errors/b.yaml:10:3: rule 'bad priority': Invalid priority 'LOUD'",
		"testdata/errors/a.yaml:12:14: rule 'bad field': filter_check called with nonexistent field proc.nosuch",
		"testdata/errors/a.yaml:17:39: rule 'bad syntax': expected a ')' token",
		"testdata/errors/b.yaml:8:11: rule 'bad output field': invalid formatting token %proc.nosuch",
		"testdata/errors/b.yaml:17:36: rule 'undefined macro': Undefined macro 'not_a_macro' used in filter.",
	}
	if len(errs) != len(wantErrs) {
		t.Errorf("%d errors, want %d:\n%v", len(errs), len(wantErrs), errs)
	}
	for _, w := range wantErrs {
		if !strings.Contains(errs.Error(), w) {
			t.Errorf("missing error %q in:\n%v", w, errs)
		}
	}
	wantWarn := []string{
		"testdata/errors/a.yaml:20:3: rule 'no evttype': LOAD_NO_EVTTYPE",
		"testdata/errors/a.yaml:3:3: macro 'unused_macro': LOAD_UNUSED_MACRO",
	}
	if len(rs.Warnings) != len(wantWarn) {
		t.Errorf("warnings %v, want %d", rs.Warnings, len(wantWarn))
	}
	for _, w := range wantWarn {
		found := false
		for _, got := range rs.Warnings {
			found = found || strings.HasPrefix(got.String(), w)
		}
		if !found {
			t.Errorf("missing warning %q in %v", w, rs.Warnings)
		}
	}
	for _, name := range []string{"good one", "good two", "no evttype"} {
		if ruleByName(rs, name) == nil {
			t.Errorf("valid rule %q not compiled", name)
		}
	}
}
