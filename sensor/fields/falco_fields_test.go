package fields

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// notYet lists Falco syscall fields Saker does not provide yet, with the
// reason (none today). The test fails when one of them gets registered
// (drop it here) and when any other Falco field is missing.
var notYet = map[string]string{}

// typeDeviations are fields whose Saker type differs from Falco's on
// purpose.
var typeDeviations = map[string]string{
	// Falco declares evt.time a CHARBUF (its rendered text); Saker keeps
	// the timestamp so comparisons and JSON output use the number, as
	// Falco's JSON output does.
	"evt.time": "ABSTIME",
	// evt.rawarg.NAME is typed per argument (numbers compare as numbers).
	"evt.rawarg": "INT64",
}

func TestFalcoSyscallFields(t *testing.T) {
	f, err := os.Open("testdata/falco_syscall_fields.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	total, have := 0, 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, typ, _ := strings.Cut(line, " ")
		total++
		fd, ok := Lookup(name)
		reason, skipped := notYet[name]
		switch {
		case ok && skipped:
			t.Errorf("%s is registered now: remove it from notYet (%s)", name, reason)
		case !ok && !skipped:
			t.Errorf("Falco field %s (%s) is missing", name, typ)
		case ok:
			have++
			want := typ
			if d, dev := typeDeviations[name]; dev {
				want = d
			}
			if fd.Type.String() != want {
				t.Errorf("%s has type %s, Falco's is %s", name, fd.Type, typ)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of Falco's %d syscall fields provided", have, total)
}
