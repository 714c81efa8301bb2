//go:build linux

package probe

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// TestBacklogWakesReaderOnce: with the reader behind (here: not reading at
// all), records past the wake-up mark must not each wake it. A wake-up is
// an irq_work raised as a self-IPI, a VM exit on virtual machines; waking
// on every record above the mark made openat ~10× slower under the whole
// sensor, whose reader polls and so lets a backlog build. The test counts
// the ring buffer's wake-ups through an edge-triggered epoll of its own.
func TestBacklogWakesReaderOnce(t *testing.T) {
	requireBPF(t)
	p, err := Open(Options{Types: []event.Type{event.TypeOpenat}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, p.maps.Events.FD(), &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}); err != nil {
		t.Fatal(err)
	}
	open := func(n int) {
		for range n {
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(fd)
		}
	}
	wakeups := func() int {
		evs := make([]unix.EpollEvent, 1)
		n := 0
		for {
			k, err := unix.EpollWait(ep, evs, 0)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				return n
			}
			n += k
		}
	}
	// Well past the 256 KiB mark: each record is over 200 bytes.
	open(4000)
	if wakeups() == 0 {
		t.Fatal("the backlog crossing the wake-up mark woke no reader")
	}
	const more = 300
	n := 0
	for range more {
		open(1)
		n += wakeups()
	}
	if n > 3 {
		t.Fatalf("%d of %d records above the wake-up mark woke the reader; want one wake-up per crossing", n, more)
	}
}
