//go:build linux

package probe

import (
	"os"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// cloneParent forks a child with CLONE_PARENT, which exits at once: the
// child is the caller's sibling, as runc's init stages are.
//
//go:nosplit
//go:norace
func cloneParent() (uintptr, unix.Errno) {
	pid, _, e := unix.RawSyscall6(unix.SYS_CLONE, uintptr(unix.CLONE_PARENT)|uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if pid == 0 {
		unix.RawSyscall(unix.SYS_EXIT, 0, 0, 0)
	}
	return pid, e
}

// TestCloneRecordsTheRealParent: a fork record carries the child's real
// parent (args[2]), which is not the caller for CLONE_PARENT; libsinsp
// takes the child's parent from it, so runc:[2:INIT]'s parent is runc, not
// runc:[1:CHILD].
func TestCloneRecordsTheRealParent(t *testing.T) {
	c := startProbe(t, event.TypeClone)
	runtime.LockOSThread()
	pid, errno := cloneParent()
	runtime.UnlockOSThread()
	if errno != 0 {
		t.Fatalf("clone(CLONE_PARENT): %v", errno)
	}
	r := c.waitFor(t, "the CLONE_PARENT fork", func(r *captured) bool {
		return r.Type == event.TypeClone && r.Res == int64(pid)
	})
	if r.PID != uint32(os.Getpid()) {
		t.Errorf("caller %d, want %d", r.PID, os.Getpid())
	}
	if got, want := r.Args[2], uint64(os.Getppid()); got != want {
		t.Errorf("real parent %d, want our parent %d", got, want)
	}
}
