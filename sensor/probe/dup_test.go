//go:build linux

package probe

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// TestDupDescribesTheNewFD: a dup record describes the new fd (the result)
// with what the old one is — a socket's tuple, a file's path — as Falco's
// dup exit event does ("Redirect STDOUT/STDIN to Network Connection in
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

	path := filepath.Join(t.TempDir(), "duped")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fileCopy, err := unix.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fileCopy)

	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	s := c.waitFor(t, "dup3 of a socket", func(r *captured) bool {
		return r.Type == event.TypeDup3 && r.PID == self && r.Res == sockCopy
	})
	if fd := s.ev.FD; fd.Num != sockCopy || fd.Type != event.FDIPv4 || fd.ServerPort != port || fd.L4Proto != unix.IPPROTO_TCP {
		t.Errorf("dup3 fd %+v, want fd %d, ipv4 to port %d", fd, sockCopy, port)
	}
	d := c.waitFor(t, "dup of a file", func(r *captured) bool {
		return r.Type == event.TypeDup && r.PID == self && r.Res == int64(fileCopy)
	})
	if fd := d.ev.FD; fd.Num != int64(fileCopy) || fd.Type != event.FDFile || fd.Name != path {
		t.Errorf("dup fd %+v, want fd %d, file %s", fd, fileCopy, path)
	}
}
