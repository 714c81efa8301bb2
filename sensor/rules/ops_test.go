package rules

import (
	"net/netip"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/fields"
)

func TestStringOperators(t *testing.T) {
	tests := []struct {
		op     string
		vals   []string
		isList bool
		in     string
		want   bool
	}{
		{"=", []string{"bash"}, false, "bash", true},
		{"=", []string{"bash"}, false, "Bash", false},
		{"==", []string{"bash"}, false, "bash", true},
		{"!=", []string{"bash"}, false, "sh", true},
		{"!=", []string{"bash"}, false, "bash", false},
		{"contains", []string{"ash"}, false, "bash", true},
		{"contains", []string{"ASH"}, false, "bash", false},
		{"icontains", []string{"ASH"}, false, "bAsh", true},
		{"icontains", []string{"zsh"}, false, "bash", false},
		{"icontains", []string{""}, false, "", true},
		{"startswith", []string{"/etc/"}, false, "/etc/shadow", true},
		{"startswith", []string{"/etc/"}, false, "/etcx", false},
		{"endswith", []string{".log"}, false, "/var/a.log", true},
		{"endswith", []string{".log"}, false, "/var/a.logs", false},
		{"bcontains", []string{"7f454c46"}, false, "xx\x7fELFyy", true},
		{"bcontains", []string{"7f454c46"}, false, "ELF", false},
		{"bstartswith", []string{"7f45"}, false, "\x7fEL", true},
		{"bstartswith", []string{"45"}, false, "\x7fEL", false},
		{"glob", []string{"/etc/*"}, false, "/etc/a/b", true}, // no FNM_PATHNAME: * matches /
		{"glob", []string{"/etc/?hadow"}, false, "/etc/shadow", true},
		{"glob", []string{"/etc/[a-s]hadow"}, false, "/etc/shadow", true},
		{"glob", []string{"/etc/[!s]hadow"}, false, "/etc/shadow", false},
		{"glob", []string{`/etc/\*`}, false, "/etc/*", true},
		{"glob", []string{`/etc/\*`}, false, "/etc/a", false},
		{"glob", []string{"*.LOG"}, false, "a.log", false},
		{"iglob", []string{"*.LOG"}, false, "a.log", true},
		{"iglob", []string{"[A-C]x"}, false, "bX", true},
		{"regex", []string{"ba.h"}, false, "bash", true},
		{"regex", []string{"as"}, false, "bash", false}, // full match
		{"in", []string{"a", "b"}, true, "b", true},
		{"in", []string{"a", "b"}, true, "c", false},
		{"in", []string{}, true, "", false},
		{"in", []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, true, "j", true},
		{"in", []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}, true, "k", false},
		{"intersects", []string{"a", "b"}, true, "a", true},
		{"pmatch", []string{"/tmp/hello"}, true, "/tmp/hello", true},
		{"pmatch", []string{"/tmp/hello"}, true, "/tmp/hello/x", true},
		{"pmatch", []string{"/tmp/hello"}, true, "/tmp/hello_world", false},
		{"pmatch", []string{"/tmp/hello/"}, true, "/tmp/hello/x", true},
		{"pmatch", []string{"/usr", "/tmp/x"}, true, "/tmp", false},
		{"pmatch", []string{"/usr", "/tmp/x"}, true, "/usr/bin/ls", true},
		{"<", []string{"b"}, false, "a", true},
		{">=", []string{"b"}, false, "a", false},
	}
	for _, tc := range tests {
		m, err := stringMatcher(tc.op, tc.vals, tc.isList)
		if err != nil {
			t.Errorf("%s %v: %v", tc.op, tc.vals, err)
			continue
		}
		if got := m(tc.in); got != tc.want {
			t.Errorf("%q %s %v = %v, want %v", tc.in, tc.op, tc.vals, got, tc.want)
		}
	}
	for _, bad := range []struct {
		op   string
		vals []string
	}{{"bcontains", []string{"zz"}}, {"regex", []string{"("}}, {"=", []string{"a", "b"}}} {
		if _, err := stringMatcher(bad.op, bad.vals, len(bad.vals) > 1); err == nil {
			t.Errorf("%s %v: no error", bad.op, bad.vals)
		}
	}
}

func TestNumericOperators(t *testing.T) {
	tests := []struct {
		typ  fields.Type
		op   string
		vals []string
		in   int64
		want bool
	}{
		{fields.Int64, "=", []string{"0"}, 0, true},
		{fields.Int64, "!=", []string{"0"}, 1, true},
		{fields.Int64, "<", []string{"10"}, 9, true},
		{fields.Int64, "<=", []string{"10"}, 10, true},
		{fields.Int64, ">", []string{"-1"}, 0, true},
		{fields.Int64, ">=", []string{"0x10"}, 15, false},
		{fields.Int64, ">=", []string{"0X10"}, 16, true},
		{fields.Int64, "in", []string{"0", "1", "2"}, 2, true},
		{fields.Int64, "in", []string{"0", "1", "2"}, 3, false},
		{fields.Uint64, "=", []string{"4294967295"}, 4294967295, true},
		{fields.Bool, "=", []string{"true"}, 1, true},
		{fields.Bool, "=", []string{"false"}, 1, false},
		{fields.Port, "=", []string{"https"}, 443, true},
		{fields.Port, "in", []string{"22", "http"}, 80, true},
	}
	for _, tc := range tests {
		m, err := numMatcher(tc.typ, tc.op, tc.vals)
		if err != nil {
			t.Errorf("%s %v: %v", tc.op, tc.vals, err)
			continue
		}
		if got := m(tc.in); got != tc.want {
			t.Errorf("%d %s %v = %v, want %v", tc.in, tc.op, tc.vals, got, tc.want)
		}
	}
	for _, bad := range []struct {
		typ  fields.Type
		op   string
		vals []string
	}{
		{fields.Int64, "=", []string{"abc"}}, {fields.Int64, "contains", []string{"1"}},
		{fields.Bool, "=", []string{"1"}}, {fields.Bool, "<", []string{"true"}},
	} {
		if _, err := numMatcher(bad.typ, bad.op, bad.vals); err == nil {
			t.Errorf("%s %s %v: no error", bad.typ, bad.op, bad.vals)
		}
	}
}

func TestIPOperators(t *testing.T) {
	tests := []struct {
		op   string
		vals []string
		in   string
		want bool
	}{
		{"=", []string{"10.0.0.1"}, "10.0.0.1", true},
		{"=", []string{"10.0.0.1"}, "10.0.0.2", false},
		{"!=", []string{"127.0.0.0/8"}, "127.1.2.3", false},
		{"!=", []string{"127.0.0.0/8"}, "8.8.8.8", true},
		{"in", []string{"10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"}, "172.20.1.1", true},
		{"in", []string{"10.0.0.0/8", "192.168.0.0/16"}, "172.20.1.1", false},
		{"=", []string{"::1"}, "::1", true},
		{"in", []string{"fd00::/8"}, "fd12::1", true},
		{"=", []string{"1.2.3.4"}, "::ffff:1.2.3.4", true},
	}
	for _, tc := range tests {
		m, err := ipMatcher(tc.op, tc.vals)
		if err != nil {
			t.Errorf("%s %v: %v", tc.op, tc.vals, err)
			continue
		}
		if got := m(netip.MustParseAddr(tc.in).Unmap()); got != tc.want {
			t.Errorf("%s %s %v = %v, want %v", tc.in, tc.op, tc.vals, got, tc.want)
		}
	}
	if _, err := ipMatcher("=", []string{"not-an-ip"}); err == nil {
		t.Error("bad IP accepted")
	}
	if _, err := ipMatcher("contains", []string{"1.2.3.4"}); err == nil {
		t.Error("contains on IP accepted")
	}
}

func compileCond(t *testing.T, cond string) Filter {
	t.Helper()
	n, err := Parse(cond)
	if err != nil {
		t.Fatalf("parse %q: %v", cond, err)
	}
	f, err := compileNode(n)
	if err != nil {
		t.Fatalf("compile %q: %v", cond, err)
	}
	return f
}

// TestMissingValues: every comparison on a missing value is false,
// including != and exists; only an enclosing not flips it.
func TestMissingValues(t *testing.T) {
	noThread := &event.Event{Type: event.TypeOpenat, FD: event.FD{Num: -1}}
	withThread := &event.Event{Type: event.TypeOpenat, Thread: &event.Thread{Comm: "cat"}, FD: event.FD{Num: 3, Name: "/etc/shadow"}}
	tests := []struct {
		cond    string
		missing bool // result on noThread
		present bool // result on withThread
	}{
		{"proc.name = cat", false, true},
		{"proc.name != cat", false, false},
		{"proc.name != dog", false, true},
		{"not proc.name = cat", true, false},
		{"not proc.name != dog", true, false},
		{"proc.name exists", false, true},
		{"not proc.name exists", true, false},
		{"proc.name in (cat, dog)", false, true},
		{"proc.name contains a", false, true},
		{"fd.name startswith /etc", false, true},
		{"proc.name = cat or evt.type = openat", true, true},
		{"proc.name = dog and evt.type = openat", false, false},
		{"tolower(proc.name) = cat", false, true},
		{"proc.name = val(proc.name)", false, true},
		{"proc.name != val(fd.name)", false, true},
	}
	for _, tc := range tests {
		f := compileCond(t, tc.cond)
		if got := f(noThread); got != tc.missing {
			t.Errorf("%q on missing value = %v, want %v", tc.cond, got, tc.missing)
		}
		if got := f(withThread); got != tc.present {
			t.Errorf("%q on present value = %v, want %v", tc.cond, got, tc.present)
		}
	}
}

func TestTransformers(t *testing.T) {
	ev := &event.Event{Type: event.TypeOpenat, Thread: &event.Thread{Comm: "BaSh"}, FD: event.FD{Num: 3, Name: "/usr/bin/Y2F0"}}
	tests := []struct {
		cond string
		want bool
	}{
		{"tolower(proc.name) = bash", true},
		{"toupper(proc.name) = BASH", true},
		{"proc.name = bash", false},
		{"basename(fd.name) = Y2F0", true},
		{"b64(basename(fd.name)) = cat", true},
		{"b64(fd.name) exists", false}, // not valid base64: missing
		{"len(proc.name) = 4", true},
		{"len(fd.name) > 10", true},
		{"len(fd.name) < 10", false},
		{"tolower(proc.name) = tolower(proc.name)", true},
		{"toupper(proc.name) = val(proc.name)", false},
		{"tolower(proc.name) contains toupper(proc.name)", false},
	}
	for _, tc := range tests {
		if got := compileCond(t, tc.cond)(ev); got != tc.want {
			t.Errorf("%q = %v, want %v", tc.cond, got, tc.want)
		}
	}
}

func TestEvtType(t *testing.T) {
	open := &event.Event{Type: event.TypeOpenat}
	exec := &event.Event{Type: event.TypeExecve}
	tests := []struct {
		cond       string
		open, exec bool
		types      string
		all        bool
	}{
		{"evt.type = openat", true, false, "openat", false},
		{"evt.type != openat", false, true, "", true},
		{"evt.type in (open, openat, openat2)", true, false, "open,openat,openat2", false},
		{"evt.type in (pivot_root)", false, false, "", false},
		{"evt.type = pivot_root or evt.type = execve", false, true, "execve", false},
		{"not evt.type = execve", true, false, "", true},
		{"evt.type startswith open", true, false, "", true},
		{"evt.type in (openat, execve) and not evt.type = execve", true, false, "openat", false},
		{"not (evt.type != openat)", true, false, "openat", false},
		{"not (evt.type = openat or proc.name = x)", false, true, "", true},
	}
	for _, tc := range tests {
		f := compileCond(t, tc.cond)
		if f(open) != tc.open || f(exec) != tc.exec {
			t.Errorf("%q: openat %v execve %v, want %v %v", tc.cond, f(open), f(exec), tc.open, tc.exec)
		}
		n, _ := Parse(tc.cond)
		types, all := EventTypesOf(n)
		if all != tc.all {
			t.Errorf("%q: all = %v, want %v", tc.cond, all, tc.all)
		}
		if !all {
			var names []string
			for _, ty := range types {
				names = append(names, ty.String())
			}
			if got := join(names); got != tc.types {
				t.Errorf("%q: types %s, want %s", tc.cond, got, tc.types)
			}
		}
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

func TestCompileErrors(t *testing.T) {
	for _, cond := range []string{
		"evt.type = nosuchsyscall", "proc.nosuch = a", "val(proc.name) = a", "proc.name = (a)",
		"proc.name bcontains zz", "tolower(len(proc.name)) = a", "proc.name regex '('",
	} {
		n, err := Parse(cond)
		if err != nil {
			continue // rejected by the parser: fine too
		}
		if _, err := compileNode(n); err == nil {
			t.Errorf("%q compiled", cond)
		}
	}
}
