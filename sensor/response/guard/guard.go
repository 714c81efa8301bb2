//go:build linux

// Package guard holds a process in the kernel, at the syscall that may
// trigger a kill, until user space has evaluated the rule.
//
// The sensor's probe reports an open after it returned, and the rule
// engine's verdict and the kill follow milliseconds later: a fast writer
// has written its next file by then. The guard (bpf/guard.bpf.c) runs at
// the exit of the open syscalls with a conservative predicate compiled
// from the rules whose action is kill (Spec, SpecOf): when an open
// satisfies it, the program sends the process SIGSTOP with
// bpf_send_signal, which takes effect before the process returns to user
// space. User space then kills it (the rule matched) or resumes it with
// SIGCONT (Resume: no match, or no decision within the hold timeout).
package guard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// maxPrefix is the longest path prefix the kernel compares (GUARD_PATH_MAX).
const maxPrefix = 256

// Options configure Open.
type Options struct {
	Spec Spec
	// ExemptPIDs are never held (the sensor and its ancestors); PID 1
	// never is.
	ExemptPIDs []int
	// ExemptComms are process names (at most 15 bytes) never held.
	ExemptComms []string
}

// Hold is one process the guard stopped.
type Hold struct {
	PID, TID int
	// At is when the guard stopped it (wall clock).
	At   time.Time
	Comm string
	// Path is the opened path that satisfied the predicate (at most 256
	// bytes).
	Path string
}

// Guard is the loaded and attached guard.
type Guard struct {
	spec   Spec
	coll   *ebpf.Collection // the programs
	maps   guardMaps
	links  []link.Link
	reader *ringbuf.Reader
	boot   int64 // wall-clock ns of boot, to convert the kernel's stamps

	mu sync.Mutex // serialises claims, so one caller kills or resumes a hold
}

// Open loads the guard for opts.Spec and attaches it, disarmed (see Arm),
// to the exits of the spec's open syscalls. Close detaches it (and
// resumes nobody: the caller resumes what Held lists).
func Open(opts Options) (*Guard, error) {
	sp := opts.Spec
	if err := sp.valid(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("guard: raise memlock rlimit: %w", err)
	}
	spec, err := loadGuard()
	if err != nil {
		return nil, fmt.Errorf("guard: load spec: %w", err)
	}
	var specs guardSpecs
	if err := spec.Assign(&specs); err != nil {
		return nil, fmt.Errorf("guard: spec: %w", err)
	}
	if sp.WriteOnly {
		if err := specs.WriteOnly.Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
	}
	if sp.ContainersOnly {
		ino, err := hostMountNS()
		if err != nil {
			return nil, err
		}
		if err := specs.ContainersOnly.Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
		if err := specs.HostMntNs.Set(ino); err != nil {
			return nil, fmt.Errorf("guard: %w", err)
		}
	}
	want := map[string]bool{}
	for _, t := range sp.Types {
		want[programs[t].prog] = true
	}
	for name := range spec.Programs {
		if !want[name] {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollection(spec)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("guard: load: %w (needs root or CAP_BPF+CAP_PERFMON)", err)
		}
		return nil, fmt.Errorf("guard: load: %w", err)
	}
	g := &Guard{spec: sp, coll: coll, boot: bootWall()}
	if err := coll.Assign(&g.maps); err != nil {
		g.Close()
		return nil, fmt.Errorf("guard: maps: %w", err)
	}
	if err := g.fill(opts); err != nil {
		g.Close()
		return nil, err
	}
	for _, t := range sp.Types {
		p := programs[t]
		l, err := link.Tracepoint("syscalls", p.tp, coll.Programs[p.prog], nil)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // this architecture has no such syscall (open, creat on arm64)
			}
			g.Close()
			return nil, fmt.Errorf("guard: attach %s: %w", p.tp, err)
		}
		g.links = append(g.links, l)
	}
	if len(g.links) == 0 {
		g.Close()
		return nil, fmt.Errorf("guard: none of the tracepoints of %v exists", sp.Types)
	}
	if g.reader, err = ringbuf.NewReader(g.maps.Holds); err != nil {
		g.Close()
		return nil, fmt.Errorf("guard: ring buffer: %w", err)
	}
	return g, nil
}

// fill writes the prefixes and the exemptions into the maps.
func (g *Guard) fill(opts Options) error {
	one := uint8(1)
	for _, p := range opts.Spec.Prefixes {
		var k guardPathKey
		n := copy(k.Data[:], p)
		k.Prefixlen = uint32(n * 8)
		if err := g.maps.Prefixes.Put(&k, &one); err != nil {
			return fmt.Errorf("guard: prefix %q: %w", p, err)
		}
	}
	for _, pid := range opts.ExemptPIDs {
		if pid <= 0 {
			continue
		}
		if err := g.maps.ExemptPids.Put(uint32(pid), &one); err != nil {
			return fmt.Errorf("guard: exempt pid %d: %w", pid, err)
		}
	}
	for _, c := range opts.ExemptComms {
		if c == "" {
			continue
		}
		var k [16]byte
		copy(k[:15], c) // the kernel's comm: 15 bytes and a NUL
		if err := g.maps.ExemptComms.Put(&k, &one); err != nil {
			return fmt.Errorf("guard: exempt name %q: %w", c, err)
		}
	}
	return nil
}

// Arm starts holding. Open attaches the guard disarmed: attach it before
// the probe (so that on a shared tracepoint the guard runs first and a
// hold is recorded before the probe reports the open), then arm it once
// the probe reports.
func (g *Guard) Arm() error {
	if err := g.maps.Armed.Put(uint32(0), uint32(1)); err != nil {
		return fmt.Errorf("guard: arm: %w", err)
	}
	return nil
}

// Spec returns the predicate the guard holds on.
func (g *Guard) Spec() Spec { return g.spec }

// Watches reports whether events of type t may come from a held process.
func (g *Guard) Watches(t event.Type) bool { return slices.Contains(g.spec.Types, t) }

// Run reads the holds the kernel announces and calls fn for each, until
// ctx ends or the guard is closed.
func (g *Guard) Run(ctx context.Context, fn func(Hold)) error {
	go func() {
		<-ctx.Done()
		g.reader.Close()
	}()
	var rec ringbuf.Record
	for {
		if err := g.reader.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("guard: read holds: %w", err)
		}
		var h guardHold
		if _, err := binary.Decode(rec.RawSample, binary.NativeEndian, &h); err != nil {
			continue // a short record: nothing to announce
		}
		fn(Hold{
			PID: int(h.Tgid), TID: int(h.Tid), At: time.Unix(0, g.boot+int64(h.Ts)),
			Comm: cstr(h.Comm[:]), Path: cstr(h.Path[:]),
		})
	}
}

// Claim takes the hold on pid, if there is one, out of the kernel's
// table: the caller then owns the decision (kill or Resume). since, when
// not zero, claims only a hold made at that time (a timer's own hold,
// not a later one).
func (g *Guard) Claim(pid int, since time.Time) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ts uint64
	if err := g.maps.Held.Lookup(uint32(pid), &ts); err != nil {
		return time.Time{}, false
	}
	at := time.Unix(0, g.boot+int64(ts))
	if !since.IsZero() && !at.Equal(since) {
		return time.Time{}, false
	}
	if err := g.maps.Held.Delete(uint32(pid)); err != nil {
		return time.Time{}, false
	}
	return at, true
}

// HeldMap is the kernel's table of the processes held (tgid -> hold
// time): the probe looks a record's process up in it to wake its reader
// at once for a held process (probe.Options.Held). It stays the Guard's.
func (g *Guard) HeldMap() *ebpf.Map { return g.maps.Held }

// Held lists the processes held now, by PID.
func (g *Guard) Held() map[int]time.Time {
	out := map[int]time.Time{}
	var pid uint32
	var ts uint64
	it := g.maps.Held.Iterate()
	for it.Next(&pid, &ts) {
		out[int(pid)] = time.Unix(0, g.boot+int64(ts))
	}
	return out
}

// Counts are the guard's kernel counters.
type Counts struct {
	// Checked opens passed the flags test; Held were stopped.
	Checked, Held uint64
	// SignalFailed: bpf_send_signal refused (the process was not held);
	// HeldFull: the held table was full; RingFull: the announcement was
	// dropped (the probe's event still settles the hold).
	SignalFailed, HeldFull, RingFull uint64
}

// Counts sums the per-CPU counters.
func (g *Guard) Counts() (Counts, error) {
	var c Counts
	dst := []*uint64{&c.Checked, &c.Held, &c.SignalFailed, &c.HeldFull, &c.RingFull}
	for i, p := range dst {
		var per []uint64
		if err := g.maps.Counters.Lookup(uint32(i), &per); err != nil {
			return c, fmt.Errorf("guard: counters: %w", err)
		}
		for _, v := range per {
			*p += v
		}
	}
	return c, nil
}

// Detach detaches the programs: no process is held from then on (the
// held table stays readable until Close).
func (g *Guard) Detach() {
	for _, l := range g.links {
		l.Close()
	}
	g.links = nil
}

// Close detaches the programs and releases the maps.
func (g *Guard) Close() error {
	g.Detach()
	if g.reader != nil {
		g.reader.Close()
	}
	return g.maps.Close()
}

// hostMountNS is the inode number of PID 1's mount namespace: the host's
// when the sensor sees the host's PIDs (as it must to act on them).
func hostMountNS() (uint32, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/1/ns/mnt", &st); err != nil {
		return 0, fmt.Errorf("guard: host mount namespace: %w", err)
	}
	return uint32(st.Ino), nil
}

func cstr[T int8 | uint8](b []T) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// bootWall is the wall-clock time of boot in ns.
func bootWall() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return time.Now().UnixNano() - ts.Nano()
}
