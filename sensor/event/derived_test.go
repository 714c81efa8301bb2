package event

import (
	"strings"
	"testing"
)

func TestPrepare(t *testing.T) {
	init1 := &Thread{PID: 1, Comm: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd"}
	sshd := &Thread{PID: 10, Comm: "sshd", Exe: "sshd", ExePath: "/usr/sbin/sshd", Args: []string{"-D"}, Parent: init1}
	sshd.Prepare()
	cat := &Thread{PID: 20, Comm: "cat", Exe: "cat", Args: []string{"a b", "-n"}, Parent: sshd}
	cat.Prepare()
	for _, tc := range []struct{ got, want string }{
		{cat.Cmdline, "cat a b -n"},
		{cat.ArgsLine, "a b -n"},
		{strings.Join(cat.ANames, ","), "sshd,systemd"},
		{strings.Join(cat.AExes, ","), "sshd,/sbin/init"},
		{strings.Join(cat.AExePaths, ","), "/usr/sbin/sshd,/usr/lib/systemd/systemd"},
		{strings.Join(cat.ACmdlines, ","), "sshd -D,systemd"},
		{strings.Join(cat.APIDs, ","), "10,1"},
		{BuildCmdline("ls", nil), "ls"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !cat.Prepared || init1.Prepared {
		t.Error("Prepared flags")
	}
	// A cyclic chain (corrupt table) is bounded.
	a := &Thread{PID: 2, Comm: "a"}
	b := &Thread{PID: 3, Comm: "b", Parent: a}
	a.Parent = b
	a.Prepare()
	if len(a.ANames) != MaxAncestors {
		t.Errorf("cycle: %d ancestors", len(a.ANames))
	}
}

func TestTypeNames(t *testing.T) {
	for ty := Type(1); ty < NumTypes; ty++ {
		if ty.String() == "" || ty.String() == "unknown" {
			t.Errorf("type %d has no name", ty)
			continue
		}
		if back, ok := TypeByName(ty.String()); !ok || back != ty {
			t.Errorf("TypeByName(%q) = %d, %v", ty.String(), back, ok)
		}
	}
	if _, ok := TypeByName("unknown"); ok {
		t.Error("unknown resolved")
	}
}
