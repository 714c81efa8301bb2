package guard

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/rules"
)

// compile loads the official rules files the repository keeps as test
// data, then extra (a rules document), and returns the rules by name.
func compile(t *testing.T, extra string) map[string]*rules.Rule {
	t.Helper()
	l := rules.NewLoader(rules.Config{})
	for _, f := range []string{"falco_rules.yaml", "falco-sandbox_rules.yaml"} {
		b, err := os.ReadFile("../../rules/testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Load(f, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Load("extra.yaml", []byte(extra)); err != nil {
		t.Fatal(err)
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*rules.Rule{}
	for _, r := range rs.Rules {
		m[r.Name] = r
	}
	return m
}

func TestSpecOf(t *testing.T) {
	rs := compile(t, `
- rule: etc or usr writes in containers
  desc: t
  condition: evt.type in (openat, creat) and evt.is_open_write=true and container.id != host and (fd.name startswith /etc/ or fd.directory in (/usr/bin, /usr/sbin/) or fd.name glob "/opt/x*/y")
  output: t
  priority: WARNING
- rule: any open of a file
  desc: t
  condition: evt.type = openat and fd.name = /etc/shadow
  output: t
  priority: WARNING
- rule: one branch unbounded
  desc: t
  condition: evt.type = openat and (fd.name startswith /etc/ or proc.name = vi)
  output: t
  priority: WARNING
- rule: negated prefix
  desc: t
  condition: evt.type = openat and not fd.name startswith /tmp/
  output: t
  priority: WARNING
`)
	for _, tc := range []struct {
		rule    string
		want    Spec
		wantErr string
	}{
		{rule: "Write below etc", want: Spec{Types: []event.Type{event.TypeOpen, event.TypeOpenat, event.TypeOpenat2}, WriteOnly: true, Prefixes: []string{"/etc/"}}},
		{rule: "etc or usr writes in containers", want: Spec{Types: []event.Type{event.TypeOpenat, event.TypeCreat}, WriteOnly: true, ContainersOnly: true, Prefixes: []string{"/etc/", "/opt/x", "/usr/bin/", "/usr/sbin/"}}},
		{rule: "any open of a file", want: Spec{Types: []event.Type{event.TypeOpenat}, Prefixes: []string{"/etc/shadow"}}},
		{rule: "one branch unbounded", wantErr: "no fd.name/fd.directory prefix"},
		{rule: "negated prefix", wantErr: "no fd.name/fd.directory prefix"},
		{rule: "Terminal shell in container", wantErr: "not an open syscall"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			r := rs[tc.rule]
			if r == nil {
				t.Fatalf("no rule %q", tc.rule)
			}
			got, err := SpecOf(r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q (spec %v)", err, tc.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("spec\n %v\nwant\n %v", got, tc.want)
			}
		})
	}
}

func TestUnion(t *testing.T) {
	a := Spec{Types: []event.Type{event.TypeOpenat}, WriteOnly: true, ContainersOnly: true, Prefixes: []string{"/etc/"}}
	b := Spec{Types: []event.Type{event.TypeOpen, event.TypeOpenat}, WriteOnly: true, Prefixes: []string{"/etc/", "/root/"}}
	want := Spec{Types: []event.Type{event.TypeOpen, event.TypeOpenat}, WriteOnly: true, Prefixes: []string{"/etc/", "/root/"}}
	if got := Union(a, b); !reflect.DeepEqual(got, want) {
		t.Fatalf("union %v, want %v", got, want)
	}
}
