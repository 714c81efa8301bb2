//go:build linux

package probe

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// wakeupProbe opens the probe for openat with opts and returns an open of a
// file of its own and a count of the ring buffer's wake-ups through an
// edge-triggered epoll: wakeups(ms) waits up to ms for the first, then
// takes what else is there.
func wakeupProbe(t *testing.T, opts Options) (open func(n int), wakeups func(ms int) int) {
	t.Helper()
	requireBPF(t)
	opts.Types = []event.Type{event.TypeOpenat}
	p, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(ep) })
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, p.maps.Events.FD(), &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}); err != nil {
		t.Fatal(err)
	}
	open = func(n int) {
		for range n {
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			unix.Close(fd)
		}
	}
	wakeups = func(ms int) int {
		evs := make([]unix.EpollEvent, 1)
		n := 0
		for {
			k, err := unix.EpollWait(ep, evs, ms)
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
			ms = 0
		}
	}
	return open, wakeups
}

// TestBacklogWakesReaderOnce: with the reader behind (here: not reading at
// all), records past the wake-up mark must not each wake it. A wake-up is
// an irq_work raised as a self-IPI, a VM exit on virtual machines; waking
// on every record above the mark made openat ~10× slower under the whole
// sensor, whose reader polls and so lets a backlog build.
func TestBacklogWakesReaderOnce(t *testing.T) {
	open, wakeups := wakeupProbe(t, Options{})
	// Well past the 256 KiB mark: each record is over 200 bytes.
	open(4000)
	if wakeups(0) == 0 {
		t.Fatal("the backlog crossing the wake-up mark woke no reader")
	}
	const more = 300
	n := 0
	for range more {
		open(1)
		n += wakeups(0)
	}
	if n > 3 {
		t.Fatalf("%d of %d records above the wake-up mark woke the reader; want one wake-up per crossing", n, more)
	}
}

// TestHeldProcessWakesReader: a record of a process the response guard
// holds wakes the reader at once (the held process waits for user space to
// judge it); records of other processes still wait for the reader's poll.
// Before, the hold lasted until the next poll, ~7 ms on average.
func TestHeldProcessWakesReader(t *testing.T) {
	requireBPF(t)
	// The guard's table, as bpf/held.h declares it.
	held, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: 8, MaxEntries: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	open, wakeups := wakeupProbe(t, Options{Held: held})
	self := uint32(os.Getpid())
	const n = 20
	if err := held.Put(self, uint64(1)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		open(1)
		// The wake-up is an irq_work: it may land just after the open
		// returns, so wait for it (a missing one fails after 10 s).
		if wakeups(10_000) == 0 {
			t.Fatalf("open %d of a held process woke no reader", i)
		}
	}
	if err := held.Delete(self); err != nil {
		t.Fatal(err)
	}
	wakeups(0)
	woken := 0
	for range n {
		open(1)
		woken += wakeups(0)
	}
	// Other processes' records may cross the wake-up mark once or twice.
	if woken > 3 {
		t.Fatalf("%d of %d opens of a process not held woke the reader", woken, n)
	}
}
