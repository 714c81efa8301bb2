//go:build linux

package probe

import (
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// TestExecCarriesProcessGroup: an exec record carries the process group and
// session the kernel has at the exec — a child that called setsid between
// fork and exec leads its own (proc.is_vpgid_leader, "Basic Interactive
// Reconnaissance"); one that did not shares ours.
func TestExecCarriesProcessGroup(t *testing.T) {
	c := startProbe(t, event.TypeExecve)

	leader := exec.Command("/bin/true", "saker-pgid-leader")
	leader.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := leader.Run(); err != nil {
		t.Fatal(err)
	}
	member := exec.Command("/bin/true", "saker-pgid-member")
	if err := member.Run(); err != nil {
		t.Fatal(err)
	}

	l := c.waitFor(t, "exec of a session leader", func(r *captured) bool {
		return r.Type == event.TypeExecve && r.PID == uint32(leader.Process.Pid) && r.Res == 0
	})
	if pid := uint32(leader.Process.Pid); l.PGID != pid || l.VPGID != pid || l.SID != pid {
		t.Errorf("leader: pgid %d vpgid %d sid %d, want %d", l.PGID, l.VPGID, l.SID, pid)
	}
	sid, err := getsid()
	if err != nil {
		t.Fatal(err)
	}
	m := c.waitFor(t, "exec of a group member", func(r *captured) bool {
		return r.Type == event.TypeExecve && r.PID == uint32(member.Process.Pid) && r.Res == 0
	})
	if pg := uint32(syscall.Getpgrp()); m.PGID != pg || m.VPGID != pg || m.SID != sid {
		t.Errorf("member: pgid %d vpgid %d sid %d, want pgid %d sid %d (pid %d)", m.PGID, m.VPGID, m.SID, pg, sid, os.Getpid())
	}
}

func getsid() (uint32, error) {
	sid, _, e := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return uint32(sid), nil
}
