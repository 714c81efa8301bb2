//go:build linux

package probe

import (
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// TestDupDescribesTheNewFD: a dup record describes the new fd (the result)
// with what the old one is — a socket's tuple — as Falco's dup exit event
// does ("Redirect STDOUT/STDIN to Network Connection in
// Container" reads fd.type of a dup onto 0-2).
func TestDupDescribesTheNewFD(t *testing.T) {
	c := startProbe(t, event.TypeDup, event.TypeDup2, event.TypeDup3)
	self := uint32(os.Getpid())

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if conn, err := ln.Accept(); err == nil {
			conn.Close()
		}
	}()
	conn, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sf, err := conn.(*net.TCPConn).File()
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	const sockCopy = 201
	if err := unix.Dup3(int(sf.Fd()), sockCopy, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sockCopy)

	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	s := c.waitFor(t, "dup3 of a socket", func(r *captured) bool {
		return r.Type == event.TypeDup3 && r.PID == self && r.Res == sockCopy
	})
	if fd := s.ev.FD; fd.Num != sockCopy || fd.Type != event.FDIPv4 || fd.ServerPort != port || fd.L4Proto != unix.IPPROTO_TCP {
		t.Errorf("dup3 fd %+v, want fd %d, ipv4 to port %d", fd, sockCopy, port)
	}
}

// TestDupOfAFileNamesIt: a dup of a file's fd names the file (fd.name,
// fd.ino), read by the probe at the event — before, dup records described
// only sockets.
func TestDupOfAFileNamesIt(t *testing.T) {
	c := startProbe(t, event.TypeDup, event.TypeDup2, event.TypeDup3)
	self := uint32(os.Getpid())
	path := t.TempDir() + "/duped"
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const fileCopy = 202
	if err := unix.Dup3(int(f.Fd()), fileCopy, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fileCopy)
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	s := c.waitFor(t, "dup3 of a file", func(r *captured) bool {
		return r.Type == event.TypeDup3 && r.PID == self && r.Res == fileCopy
	})
	if fd := s.ev.FD; fd.Num != fileCopy || fd.Type != event.FDFile || fd.Name != path || fd.Ino != st.Ino {
		t.Errorf("dup3 fd %+v, want fd %d, file %s inode %d", fd, fileCopy, path, st.Ino)
	}
}
