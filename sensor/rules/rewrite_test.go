package rules

import (
	"errors"
	"strings"
	"testing"
)

// TestLoadReportsEveryError: one load reports the errors of every item and
// every rule, each with its file:line, as Falco does, instead of stopping
// at the first.
func TestLoadReportsEveryError(t *testing.T) {
	l := NewLoader(Config{})
	err := l.Load("a.yaml", []byte(`
- rule: bad priority
  desc: d
  condition: evt.type = open
  output: o
  priority: LOUD
- list: ok_list
  items: [a]
- rule: bad syntax
  desc: d
  condition: proc.name = x and (
  output: o
  priority: INFO
- macro: bad_field
  condition: proc.nosuch = 1
- rule: uses bad macro
  desc: d
  condition: evt.type = open and bad_field
  output: o
  priority: INFO
`))
	var fileErrs Errors
	if !errors.As(err, &fileErrs) || len(fileErrs) != 1 {
		t.Fatalf("Load: %v, want the one item error of a.yaml", err)
	}
	if err := l.Load("b.yaml", []byte(`
- rule: good
  desc: d
  condition: evt.type = open and proc.name in (ok_list)
  output: o
  priority: INFO
- rule: unknown field
  desc: d
  condition: evt.type = open and fd.nosuch = 1
  output: o
  priority: INFO
`)); err != nil {
		t.Fatalf("b.yaml has no item error: %v", err)
	}
	rs, err := l.Compile()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Compile: %v, want Errors", err)
	}
	want := []string{
		"a.yaml:2:3: rule 'bad priority': Invalid priority 'LOUD'",
		"a.yaml:11:33: rule 'bad syntax'",
		"a.yaml:18:14: rule 'uses bad macro': filter_check called with nonexistent field proc.nosuch",
		"b.yaml:9:14: rule 'unknown field'",
	}
	if len(errs) != len(want) {
		t.Fatalf("%d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], w)
		}
	}
	// The rules without errors still compile.
	if rs == nil || len(rs.Rules) != 1 || rs.Rules[0].Name != "good" {
		t.Errorf("compiled rules = %v, want just 'good'", rs)
	}
}

// TestListsResolvedOnTree: list names are replaced only where a list
// literal or a list operator's operand is expected, never inside other
// values, field arguments or macro names.
func TestListsResolvedOnTree(t *testing.T) {
	rs, _, err := load(t, `
- list: shells
  items: [sh, "ba sh", '"quoted"']
- list: empty
  items: []
- macro: shells_macro
  condition: proc.name = shells
- rule: r
  desc: d
  condition: >
    evt.type = execve and proc.name in (shells, zsh, empty) and proc.pname in shells
    and evt.arg[shells] = shells and shells_macro
  output: o
  priority: INFO
`)
	if err != nil {
		t.Fatal(err)
	}
	want := `(evt.type = execve and proc.name in (sh, "ba sh", quoted, zsh) and proc.pname in (sh, "ba sh", quoted) and evt.arg[shells] = shells and proc.name = shells)`
	if got := rs.Rules[0].Condition; got != want {
		t.Errorf("condition\n got %s\nwant %s", got, want)
	}
}

// TestExceptionsBuiltOnTree: exception values are taken as literals, even
// ones that would break a condition written as text.
func TestExceptionsBuiltOnTree(t *testing.T) {
	rs, _, err := load(t, `
- list: trusted
  items: [a, b]
- rule: r
  desc: d
  condition: evt.type = open or evt.type = openat
  output: o
  priority: INFO
  exceptions:
    - name: single
      fields: proc.name
      values: [x, "y z", trusted]
    - name: pairs
      fields: [proc.name, fd.name, proc.pname]
      comps: [=, startswith, in]
      values:
        - [a) or (b, /etc/, trusted]
        - ["c d", /tmp/, [p, q]]
    - name: empty
      fields: [proc.name]
      values: []
`)
	if err != nil {
		t.Fatal(err)
	}
	want := `((evt.type = open or evt.type = openat) and not proc.name in (x, "y z", a, b) and not ((proc.name = "a) or (b" and fd.name startswith /etc/ and proc.pname in (a, b)) or (proc.name = "c d" and fd.name startswith /tmp/ and proc.pname in (p, q))))`
	if got := rs.Rules[0].Condition; got != want {
		t.Errorf("condition\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(rs.Rules[0].ExceptionFields, ","); got != "proc.name,fd.name,proc.pname" {
		t.Errorf("exception fields = %s", got)
	}
}

// TestSelection applies falco.yaml's `rules:` entries in order: a rule
// that ships disabled is switched on by tag, wildcards match names with
// slashes.
func TestSelection(t *testing.T) {
	for _, tc := range []struct {
		name string
		sel  []Selection
		want map[string]bool
	}{
		{"none", nil, map[string]bool{"Read/write a": true, "Read b": true, "Off c": false}},
		{"disable all, enable tag", []Selection{{Rule: "*"}, {Enable: true, Tag: "net"}},
			map[string]bool{"Read/write a": false, "Read b": false, "Off c": true}},
		{"wildcard across slash", []Selection{{Rule: "Read*a"}},
			map[string]bool{"Read/write a": false, "Read b": true, "Off c": false}},
		{"later wins", []Selection{{Enable: true, Rule: "Off c"}, {Rule: "Off *"}},
			map[string]bool{"Read/write a": true, "Read b": true, "Off c": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLoader(Config{Selection: tc.sel})
			if err := l.Load("r.yaml", []byte(`
- rule: Read/write a
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
- rule: Read b
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
  tags: [file]
- rule: Off c
  desc: d
  condition: evt.type = connect
  output: o
  priority: INFO
  enabled: false
  tags: [net, file]
`)); err != nil {
				t.Fatal(err)
			}
			rs, err := l.Compile()
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs.Rules {
				if r.Enabled != tc.want[r.Name] {
					t.Errorf("%s enabled = %v, want %v", r.Name, r.Enabled, tc.want[r.Name])
				}
			}
		})
	}
}
