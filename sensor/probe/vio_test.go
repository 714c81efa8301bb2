//go:build linux

package probe

import (
	"os"
	"path/filepath"
	"testing"

	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// TestVectoredAndPositionalIO: pread64, pwrite64, readv, writev, preadv,
// pwritev, sendmmsg and recvmmsg records name their fd (a file's path, read
// in the kernel at the event) and carry the head of the data moved, across
// iovecs, cut at the snaplen.
func TestVectoredAndPositionalIO(t *testing.T) {
	types := []event.Type{event.TypePread64, event.TypePwrite64, event.TypeReadv, event.TypeWritev,
		event.TypePreadv, event.TypePwritev, event.TypeSendmmsg, event.TypeRecvmmsg}
	c := startProbe(t, types...)
	self := uint32(os.Getpid())
	path := filepath.Join(t.TempDir(), "vio")
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	must := func(n int, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	long := make([]byte, 100)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	must(unix.Pwrite(fd, []byte("pwrite64 data"), 0))
	must(unix.Pread(fd, make([]byte, 8), 0))
	must(unix.Writev(fd, [][]byte{[]byte("writev one "), []byte("writev two")}))
	must(unix.Pwritev(fd, [][]byte{[]byte("pwritev "), long}, 100))
	must(unix.Preadv(fd, [][]byte{make([]byte, 8), make([]byte, 200)}, 100))
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		t.Fatal(err)
	}
	must(unix.Readv(fd, [][]byte{make([]byte, 3), make([]byte, 5)}))

	want := map[event.Type]string{
		event.TypePwrite64: "pwrite64 data",
		event.TypePread64:  "pwrite64",
		event.TypeWritev:   "writev one writev two",
		event.TypePwritev:  "pwritev " + string(long[:72]),
		event.TypePreadv:   "pwritev " + string(long[:72]),
		event.TypeReadv:    "writev o", // writev wrote at offset 0, over pwrite64 data
	}
	for typ, w := range want {
		r := c.waitFor(t, typ.String()+" of the file", func(r *captured) bool {
			return r.Type == typ && r.PID == self && r.Str0 == path
		})
		if got := string(r.ev.Data); got != w {
			t.Errorf("%s: evt.buffer = %q, want %q", typ, got, w)
		}
		if r.ev.FD.Name != path || r.ev.FD.Num != int64(fd) || r.ev.FD.Ino == 0 {
			t.Errorf("%s: fd %+v, want %d %s with its inode", typ, r.ev.FD, fd, path)
		}
	}

	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	defer unix.Close(pair[1])
	if err := sendmmsg(pair[0], []byte("mmsg payload")); err != nil {
		t.Fatal(err)
	}
	if err := recvmmsg(pair[1], make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []event.Type{event.TypeSendmmsg, event.TypeRecvmmsg} {
		r := c.waitFor(t, typ.String(), func(r *captured) bool { return r.Type == typ && r.PID == self })
		if string(r.ev.Data) != "mmsg payload" || r.ev.FD.Type != event.FDUnix {
			t.Errorf("%s: evt.buffer %q fd %+v, want \"mmsg payload\" on a unix socket", typ, r.ev.Data, r.ev.FD)
		}
	}
}

// mmsghdr is struct mmsghdr (x86_64).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

func mmsg(fd int, nr uintptr, buf []byte) error {
	iov := unix.Iovec{Base: &buf[0]}
	iov.SetLen(len(buf))
	m := mmsghdr{}
	m.hdr.Iov = &iov
	m.hdr.SetIovlen(1)
	_, _, errno := unix.Syscall6(nr, uintptr(fd), uintptr(unsafePointer(&m)), 1, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func sendmmsg(fd int, b []byte) error { return mmsg(fd, unix.SYS_SENDMMSG, b) }
func recvmmsg(fd int, b []byte) error { return mmsg(fd, unix.SYS_RECVMMSG, b) }

func unsafePointer(m *mmsghdr) unsafe.Pointer { return unsafe.Pointer(m) }
