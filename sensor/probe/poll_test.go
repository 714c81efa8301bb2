//go:build linux

package probe

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// TestPollDescribesItsFDs: poll and ppoll records list the polled fds
// (fdlist.*): each socket's ends and each file's path, read in the kernel
// at the event; a closed fd is listed by number only.
func TestPollDescribesItsFDs(t *testing.T) {
	c := startProbe(t, event.TypePoll, event.TypePpoll)
	self := uint32(os.Getpid())

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			accepted <- conn
		}
		close(accepted)
	}()
	conn, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if a := <-accepted; a != nil {
		defer a.Close()
	}
	sf, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	path := filepath.Join(t.TempDir(), "polled")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const closed = 987
	fds := []unix.PollFd{{Fd: int32(sf.Fd()), Events: unix.POLLOUT}, {Fd: int32(f.Fd()), Events: unix.POLLIN}, {Fd: closed, Events: unix.POLLIN}}
	// x/sys's Poll calls ppoll on amd64: poll itself by number.
	if _, _, errno := unix.Syscall(unix.SYS_POLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), 0); errno != 0 {
		t.Fatal(errno)
	}
	if _, err := unix.Ppoll(fds, &unix.Timespec{}, nil); err != nil {
		t.Fatal(err)
	}
	srv := ln.Addr().(*net.TCPAddr).Port
	cli := conn.LocalAddr().(*net.TCPAddr).Port
	for _, typ := range []event.Type{event.TypePoll, event.TypePpoll} {
		r := c.waitFor(t, typ.String()+" of three fds", func(r *captured) bool {
			return r.Type == typ && r.PID == self && len(r.Polled) == 3 && r.Polled[2].Num == closed
		})
		l := r.ev.FDList
		if len(l) != 3 {
			t.Fatalf("%s: fd list %+v, want 3 entries", typ, l)
		}
		// A poll does not say which end dialled: the lower port is taken
		// as the server's, so only the pair of ends is certain here
		// (both ports are ephemeral).
		ends := [2]int{int(l[0].ClientPort), int(l[0].ServerPort)}
		if l[0].Num != int64(sf.Fd()) || l[0].Type != event.FDIPv4 || (ends != [2]int{cli, srv} && ends != [2]int{srv, cli}) ||
			ends[0] < ends[1] || l[0].ClientIP.String() != "127.0.0.1" || l[0].ServerIP.String() != "127.0.0.1" {
			t.Errorf("%s: socket %+v, want the ends 127.0.0.1:%d and :%d, the lower port the server's", typ, l[0], cli, srv)
		}
		if l[1].Type != event.FDFile || l[1].Name != path {
			t.Errorf("%s: file %+v, want %s", typ, l[1], path)
		}
		if l[2].Type != event.FDUnknown || l[2].Name != "" {
			t.Errorf("%s: closed fd %+v, want number only", typ, l[2])
		}
	}
}
