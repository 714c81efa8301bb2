package rules

import (
	"errors"
	"os"
	"testing"
)

// FuzzParseCondition: the parser never panics, and every accepted
// condition re-parses from its printed form to the same printed form.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		"proc.name = bash", "a and not (b or c)", `fd.name in (a, "b c", 'd')`, "evt.type in ()",
		"proc.aname[2] startswith /bin", "tolower(proc.name) = val(proc.pname)", `x.y = "\t\"q\""`,
		"not not a", "proc.pid >= 0x1f", "b64(b64(a.b)) exists", "a.b pmatch (/tmp, /usr)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cond string) {
		n, err := Parse(cond)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		printed := n.String()
		n2, err := Parse(printed)
		if err != nil {
			// Printing can produce a value libs also cannot re-read (an
			// empty string prints as nothing); only require no panic.
			return
		}
		if n2.String() != printed {
			t.Fatalf("round trip: %q -> %q -> %q", cond, printed, n2.String())
		}
		// Compiling must not panic either (errors are fine).
		_, _ = compileNode(n)
	})
}

// FuzzLoadRules: the loader and compiler never panic on arbitrary YAML.
func FuzzLoadRules(f *testing.F) {
	f.Add([]byte(`
- list: l
  items: [a, "b c"]
- macro: m
  condition: proc.name in (l)
- rule: r
  desc: d
  condition: evt.type = open and m
  output: "%proc.name"
  priority: INFO
  exceptions:
    - name: e
      fields: [proc.name, fd.name]
      values: [[a, b]]
- rule: r
  condition: and fd.name = x
  override:
    condition: append
`))
	f.Add([]byte("- required_engine_version: 0.10.0\n- rule: x\n  enabled: false\n"))
	if data, err := os.ReadFile("testdata/falco_rules.yaml"); err == nil {
		f.Add(data[:1024])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l := NewLoader(Config{})
		if err := l.Load("fuzz.yaml", data); err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error of type %T: %v", err, err)
			}
		}
		if _, err := l.Compile(); err != nil && !errors.As(err, new(Errors)) {
			t.Fatalf("compile error of type %T: %v", err, err)
		}
	})
}
