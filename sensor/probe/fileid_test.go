//go:build linux

package probe

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// newEncodeDev is Linux's new_encode_dev, the numbering of Falco's fd.dev.
func newEncodeDev(dev uint64) uint32 {
	major, minor := unix.Major(dev), unix.Minor(dev)
	return minor&0xff | major<<8 | (minor&^0xff)<<12
}

// TestFileIdentity: open and read records carry the inode and device of
// the fd's file as stat reports them (fd.ino, fd.dev), read by the probe at
// the event; every record carries the calling thread's CPU times and its
// process's thread count (thread.cpu*, proc.nthreads).
func TestFileIdentity(t *testing.T) {
	c := startProbe(t, event.TypeOpenat, event.TypeRead)
	self := uint32(os.Getpid())
	path := filepath.Join(t.TempDir(), "identity")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Spend CPU on this thread so its times are not zero.
	x := 0
	for i := 0; i < 50_000_000; i++ {
		x += i
	}
	_ = x
	fd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Read(fd, make([]byte, 8))
	unix.Close(fd)

	wantDev := newEncodeDev(st.Dev)
	for _, typ := range []event.Type{event.TypeOpenat, event.TypeRead} {
		r := c.waitFor(t, typ.String()+" of the file", func(r *captured) bool {
			return r.Type == typ && r.PID == self && int64(int32(r.Args[0])) == map[event.Type]int64{event.TypeOpenat: -100, event.TypeRead: int64(fd)}[typ] &&
				(typ == event.TypeRead || r.Res == int64(fd))
		})
		if r.ev.FD.Ino != st.Ino || r.ev.FD.Dev != wantDev {
			t.Errorf("%s: fd ino %d dev %#x, stat says ino %d dev %#x", typ, r.ev.FD.Ino, r.ev.FD.Dev, st.Ino, wantDev)
		}
		if r.ev.FD.UpperLayer || r.ev.FD.LowerLayer {
			t.Errorf("%s: %s is not on an overlayfs, yet upper=%v lower=%v", typ, path, r.ev.FD.UpperLayer, r.ev.FD.LowerLayer)
		}
		if r.TID != uint32(unix.Gettid()) {
			continue
		}
		s := r.ev.Sched
		if s.NThreads < 2 || s.UserNS+s.SystemNS == 0 || s.AgeNS == 0 || s.UserNS+s.SystemNS > s.AgeNS {
			t.Errorf("%s: sched %+v: want the Go runtime's threads (>1) and nonzero CPU time below the thread's age", typ, s)
		}
	}
}
