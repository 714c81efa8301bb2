package response

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// parseSignal accepts "", a number, "KILL" or "SIGKILL" (default SIGKILL).
func parseSignal(s string) (int, error) {
	if s == "" {
		return int(unix.SIGKILL), nil
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return n, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return int(sig), nil
	}
	return 0, fmt.Errorf("signal %q: unknown", s)
}

// Process is a process held by a pidfd: signals sent through it reach the
// process it was opened on or nobody, never a later process that reuses
// its PID.
type Process struct {
	PID  int
	PGID int
	fd   int
}

// ErrGone is returned when the process exited (or its PID now belongs to
// another process) before it could be acted on.
var ErrGone = errors.New("process already exited")

// clkTck is USER_HZ, the unit of /proc/<pid>/stat's starttime (100 on
// every Linux architecture Go supports).
const clkTck = 100

// clockSlack absorbs the difference between the probe's and this
// package's conversions of CLOCK_BOOTTIME to wall-clock time.
const clockSlack = 2 * time.Millisecond

// OpenProcess takes a pidfd on pid for an event of that process at eventNS
// (wall-clock ns; 0 skips the check). The process then at pid must have
// started no later than the event: a process that reused the PID after
// the event's process exited started later, and is refused with ErrGone.
// The check runs after pidfd_open, so passing it proves the pidfd holds
// the event's process. Limit: /proc gives the start time in 10 ms ticks
// (rounded down), so a reuse within the same tick as the event is not
// seen — it needs the process to exit and the PID space to wrap around
// within those milliseconds.
func OpenProcess(pid int, eventNS int64) (*Process, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil, ErrGone
		}
		return nil, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	p := &Process{PID: pid, fd: fd}
	st, err := procStat(pid)
	if err != nil {
		p.Close()
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrGone
		}
		return nil, err
	}
	p.PGID = st.pgid
	if eventNS != 0 {
		started := bootWall() + st.start*int64(time.Second)/clkTck
		if d := time.Duration(started - eventNS); d > clockSlack {
			p.Close()
			return nil, fmt.Errorf("%w: pid %d now belongs to a process started %v after the event", ErrGone, pid, d)
		}
	}
	return p, nil
}

// Signal sends sig through the pidfd; ErrGone when the process exited.
func (p *Process) Signal(sig int) error {
	err := unix.PidfdSendSignal(p.fd, unix.Signal(sig), nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrGone
	}
	return err
}

// SignalGroup signals the process group. The group id was read while the
// process (a member) was alive, and a group id cannot be reused while a
// member lives; the process is signalled through its pidfd as well.
func (p *Process) SignalGroup(sig int) error {
	if p.PGID <= 1 {
		return fmt.Errorf("process group %d: refusing", p.PGID)
	}
	gerr := unix.Kill(-p.PGID, unix.Signal(sig))
	if err := p.Signal(sig); err != nil && !errors.Is(err, ErrGone) {
		return err
	}
	if gerr != nil && !errors.Is(gerr, unix.ESRCH) {
		return fmt.Errorf("kill group %d: %w", p.PGID, gerr)
	}
	return nil
}

// Close releases the pidfd.
func (p *Process) Close() error { return unix.Close(p.fd) }

// stat is what the actions read from /proc/<pid>/stat.
type stat struct {
	ppid, pgid int
	start      int64 // ticks since boot
}

// procStat reads /proc/<pid>/stat.
func procStat(pid int) (st stat, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return st, err
	}
	// comm may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, pgrp 5, starttime 22.
	if len(f) < 20 {
		return st, fmt.Errorf("/proc/%d/stat: short", pid)
	}
	if st.ppid, err = strconv.Atoi(f[1]); err == nil {
		if st.pgid, err = strconv.Atoi(f[2]); err == nil {
			st.start, err = strconv.ParseInt(f[19], 10, 64)
		}
	}
	if err != nil {
		return st, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// bootWall is the wall-clock time of boot in ns, as the sensor's process
// table computes it.
func bootWall() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Now().UnixNano() - ts.Nano()
}
