package rules

import (
	"net/netip"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// TestOperatorsOnRegistryFields runs conditions over the real field
// registry: numeric vs string comparisons, ancestor lists, arguments,
// escapes.
func TestOperatorsOnRegistryFields(t *testing.T) {
	init1 := &event.Thread{PID: 1, Comm: "systemd", Exe: "/sbin/init"}
	init1.Prepare()
	sshd := &event.Thread{PID: 700, Comm: "sshd", Exe: "/usr/sbin/sshd", Parent: init1}
	sshd.Prepare()
	bash := &event.Thread{PID: 900, PPID: 700, Comm: "bash", Exe: "-bash", Args: []string{"-i"}, UID: 1000, User: "alice", LoginUID: 1000, TTY: 34816, Parent: sshd}
	bash.Prepare()
	ev := &event.Event{Type: event.TypeOpenat, Res: 3, Thread: bash, Flags: 0x241, Path: "/tmp/a\tb",
		FD: event.FD{Num: 3, Type: event.FDFile, Name: "/tmp/a\tb", Flags: 0x241}}
	ctr := &event.Container{ID: "abcdefabcdef", Name: "c", Privileged: true,
		Mounts: []event.Mount{{Source: "/proc", Dest: "/host/proc"}, {Source: "/data", Dest: "/d", RW: true}}}
	cev := &event.Event{Type: event.TypeContainer, Thread: bash, Container: ctr, FD: event.FD{Num: -1}}

	tests := []struct {
		ev   *event.Event
		cond string
		want bool
	}{
		{ev, "proc.pid = 900", true},
		{ev, "proc.pid = 0x384", true},
		{ev, "proc.pid > 899 and proc.pid < 901", true},
		{ev, "proc.pid in (1, 2, 900)", true},
		{ev, "proc.pid != 900", false},
		{ev, "user.uid = 1000", true},
		{ev, "user.name = alice", true},
		{ev, "proc.tty != 0", true},
		{ev, "fd.num >= 0", true},
		{ev, "evt.rawres >= 0", true},
		{ev, "fd.typechar = 'f'", true},
		{ev, "fd.typechar = f", true},
		{ev, `fd.name = "/tmp/a\tb"`, true},
		{ev, `fd.name = '/tmp/a\tb'`, true},
		{ev, "fd.directory = /tmp", true},
		{ev, "evt.is_open_write = true", true},
		{ev, "evt.is_open_read = true", false},
		{ev, "evt.arg.flags contains O_CREAT", true},
		{ev, "evt.arg.flags contains O_RDONLY", false},
		{ev, "proc.aname = sshd", true}, // any ancestor
		{ev, "proc.aname = systemd", true},
		{ev, "proc.aname = bash", false}, // ancestors exclude self
		{ev, "proc.aname[0] = bash", true},
		{ev, "proc.aname[1] = sshd", true},
		{ev, "proc.aname[2] = systemd", true},
		{ev, "proc.aname[3] = systemd", false},
		{ev, "proc.aname[3] exists", false},
		{ev, "not proc.aname[3] exists", true},
		{ev, "proc.apid = 700", true},
		{ev, "proc.apid in (1)", true},
		{ev, "proc.pname = sshd", true},
		{ev, "proc.cmdline = \"bash -i\"", true},
		{ev, "proc.name = val(proc.aname[0])", true},
		{ev, "proc.name = val(proc.pname)", false},
		{ev, "container.id = host", true},
		{ev, "container.privileged = true", false}, // missing on the host
		{cev, "container.privileged = true", true},
		{cev, "container.mount.dest[/proc*] = /host/proc", true},
		{cev, `container.mount.dest[/proc*] != ""`, true},
		{cev, `container.mount.dest[/mnt*] = "N/A"`, true}, // no such mount: libs reports "N/A"
		{cev, `not container.mount.dest[/mnt*] in ("<NA>","N/A")`, false},
	}
	for _, tc := range tests {
		if got := compileCond(t, tc.cond)(tc.ev); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.cond, got, tc.want)
		}
	}
}

// TestScalarFieldsMissingValue checks the compiled fast paths of scalar
// fields: every comparison on a missing value is false (only "not"
// makes it true), for each inlined operator.
func TestScalarFieldsMissingValue(t *testing.T) {
	orphan := &event.Thread{PID: 5, Comm: "init"} // no parent: proc.pname missing
	noFD := &event.Event{Type: event.TypeClone, Thread: orphan, FD: event.FD{Num: -1}}
	opened := &event.Event{Type: event.TypeOpenat, Res: 3, Thread: orphan, FD: event.FD{Num: 3, Type: event.FDFile, Name: "/etc/passwd"}}
	fdHeavy := &event.Event{Type: event.TypeOpenat, Thread: &event.Thread{HasResources: true, FDOpen: 900, FDLimit: 1000}}
	conn := &event.Event{Type: event.TypeConnect, Thread: orphan, FD: event.FD{Num: 4, Type: event.FDIPv4,
		ClientIP: netip.MustParseAddr("::ffff:10.0.0.2"), ServerIP: netip.MustParseAddr("10.0.0.1"), ClientPort: 40000, ServerPort: 443}}
	tests := []struct {
		ev   *event.Event
		cond string
		want bool
	}{
		{noFD, "proc.pname = bash", false},
		{noFD, "proc.pname != bash", false},
		{noFD, "not proc.pname = bash", true},
		{noFD, "proc.pname startswith b", false},
		{noFD, "proc.pname endswith h", false},
		{noFD, "proc.pname contains a", false},
		{noFD, "proc.pname in (bash, sh)", false},
		{noFD, "proc.pname in (a, b, c, d, e, f, g, h, i, j)", false},
		{noFD, "proc.pname glob '*'", false},
		{noFD, "proc.pname exists", false},
		{noFD, "fd.name exists", false},
		{noFD, "fd.name != /etc/passwd", false},
		{noFD, "fd.connected = false", false},
		{noFD, "fd.connected != true", false},
		{noFD, "fd.sport >= 0", false},
		{noFD, "fd.sport != 22", false},
		{noFD, "fd.sport in (22, 443)", false},
		{opened, "fd.name exists", true},
		{opened, "fd.num exists", true},
		{opened, "fd.name != /etc/shadow", true},
		{opened, "fd.name endswith passwd", true},
		{opened, "fd.name contains /etc", true},
		{opened, "fd.name in (/etc/shadow, /etc/passwd)", true},
		{opened, "fd.name pmatch (/etc)", true},
		{opened, "fd.num >= 3", true},
		{opened, "fd.num >= 4", false},
		{opened, "fd.num != 3", false},
		{opened, "fd.num in (1, 2, 3)", true},
		{opened, "fd.num < 4", true},
		{opened, "evt.is_open_read = true", true},
		{opened, "evt.is_open_read != false", true},
		{noFD, "fd.sip exists", false},
		{noFD, "fd.sip = 10.0.0.1", false},
		{noFD, "fd.sip != 10.0.0.1", false},
		{noFD, "fd.snet in (10.0.0.0/8)", false},
		{opened, "fd.cip exists", false},
		{conn, "fd.sip exists", true},
		{conn, "fd.sip = 10.0.0.1", true},
		{conn, "fd.sip != 10.0.0.1", false},
		{conn, "fd.cip = 10.0.0.2", true}, // v4-mapped compares as v4
		{conn, "fd.snet in (192.168.0.0/16, 10.0.0.0/8)", true},
		{conn, "fd.rip = 10.0.0.1", false}, // LocalIsClient unset: the remote end is the client
		{noFD, "proc.fdusage > 0", false},  // resources not read: missing
		{fdHeavy, "proc.fdusage > 89.5", true},
		{fdHeavy, "proc.fdusage = 90", true},
		{fdHeavy, "proc.fdusage < 90", false},
		{fdHeavy, "proc.fdusage in (10, 90.0)", true},
	}
	for _, tc := range tests {
		if got := compileCond(t, tc.cond)(tc.ev); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.cond, got, tc.want)
		}
	}
}
