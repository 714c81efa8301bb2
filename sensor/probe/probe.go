//go:build linux

// Package probe loads Saker's eBPF capture program (bpf/saker.bpf.c), attaches
// only the hooks the loaded rules need, and reads and decodes the records it
// writes to its ring buffer.
//
// Hooks are one program per wanted syscall on its syscalls/sys_exit_<name>
// tracepoint (the arguments are read from the task's saved registers, so
// arguments and result arrive in one record) plus the
// sched_process_{exec,fork,exit} BTF tracepoints for the process tree.
// Syscalls no rule needs get no program: a raw sys_enter hook would run on
// every syscall.
package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
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

// Options configures Open.
type Options struct {
	// Types are the event types to capture; the process-lifecycle types
	// (execve, execveat, clone, procexit) are always captured because the
	// process table depends on them.
	Types []event.Type
	// IgnoreSelf drops the sensor's own syscalls in the kernel, so that its
	// reads of /proc do not become events. Tests that act in-process set it
	// to false.
	IgnoreSelf bool
	// OpenFilter, when set, leaves in the kernel the opens (open, openat,
	// openat2, creat) it says no rule can match; nil sends every open.
	OpenFilter *OpenFilter
	// RingBufferSize in bytes, a power of two multiple of the page size;
	// 0 means 16 MiB.
	RingBufferSize int
	// Held, when set, is the response guard's map of the processes it
	// holds (guard.Guard.HeldMap): a record of a held process wakes the
	// reader at once instead of waiting for its next poll, so the process
	// is judged, and killed or resumed, within a millisecond.
	Held *ebpf.Map
}

// Probe is a loaded and attached capture program.
type Probe struct {
	coll        *ebpf.Collection // the attached programs
	maps        sakerMaps
	links       []link.Link
	reader      *ringbuf.Reader
	types       []event.Type
	unavailable []event.Type

	closeOnce sync.Once
}

// pollInterval bounds how long a record waits in the ring buffer.
const pollInterval = 10 * time.Millisecond

// pathDirs is the program that records the directories relative paths
// start from, tail-called by the path syscalls' programs; fdIO describes
// the fd and copies the buffer head of the I/O and dup syscalls, which
// tail-call it; fdList describes the fds of a poll, one per run. Their
// slots in path_tail are bpf/saker.bpf.c's SK_TAIL_*.
const (
	pathDirs = "path_dirs"
	fdIO     = "fd_io"
	fdList   = "fd_list"
)

// tailSlots are the tail-called programs by their path_tail slot.
var tailSlots = [...]string{pathDirs, fdIO, fdList}

// alwaysTypes feed the process table.
var alwaysTypes = []event.Type{event.TypeExecve, event.TypeExecveat, event.TypeClone, event.TypeProcExit}

// programsFor names the programs that produce events of type t.
func programsFor(t event.Type) []string {
	switch t {
	case event.TypeExecve:
		return []string{"sys_execve", "sched_exec"}
	case event.TypeExecveat:
		return []string{"sys_execveat", "sched_exec"}
	case event.TypeClone, event.TypeClone3, event.TypeFork, event.TypeVfork:
		return []string{"sched_fork"}
	case event.TypeProcExit:
		return []string{"sched_exit"}
	case event.TypeUmount2:
		return []string{"sys_umount"}
	case event.TypePread64:
		return []string{"sys_pread64"}
	case event.TypePwrite64:
		return []string{"sys_pwrite64"}
	case event.TypeUnknown, event.TypeContainer:
		return nil
	}
	return []string{"sys_" + t.String()}
}

// usesFDIO reports whether the programs of type t tail-call fd_io.
func usesFDIO(t event.Type) bool {
	switch t {
	case event.TypeDup, event.TypeDup2, event.TypeDup3:
		return true
	}
	return IsIO(t) && !isSockIO(t)
}

// isSockIO tells the socket I/O calls whose programs read the socket
// tuple themselves.
func isSockIO(t event.Type) bool {
	switch t {
	case event.TypeSendto, event.TypeSendmsg, event.TypeRecvfrom, event.TypeRecvmsg:
		return true
	}
	return false
}

// Supported reports whether the probe can capture events of type t.
func Supported(t event.Type) bool {
	spec, err := loadSaker()
	if err != nil {
		return false
	}
	ps := programsFor(t)
	for _, p := range ps {
		ps := spec.Programs[p]
		if ps == nil || !hookExists(ps) {
			return false
		}
	}
	return len(ps) > 0
}

// tracefsRoot finds the mounted tracefs, mounting it when absent (syscall
// tracepoints are attached through their tracefs ids).
func tracefsRoot() (string, error) {
	for _, d := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		if _, err := os.Stat(d + "/events"); err == nil {
			return d, nil
		}
	}
	if err := unix.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		if err2 := unix.Mount("nodev", "/sys/kernel/debug", "debugfs", 0, ""); err2 != nil {
			return "", fmt.Errorf("mount tracefs on /sys/kernel/tracing: %w (and debugfs: %v)", err, err2)
		}
		return "/sys/kernel/debug/tracing", nil
	}
	return "/sys/kernel/tracing", nil
}

// hookExists reports whether the kernel has the tracepoint a program hooks:
// kernels without CONFIG_MODULES have no init_module tracepoints, for one.
func hookExists(ps *ebpf.ProgramSpec) bool {
	group, name, ok := tracepointOf(ps)
	if !ok {
		return true // tp_btf: resolved through BTF at load
	}
	root, err := tracefsRoot()
	if err != nil {
		return false
	}
	_, err = os.Stat(root + "/events/" + group + "/" + name)
	return err == nil
}

// tracepointOf splits "tracepoint/GROUP/NAME".
func tracepointOf(ps *ebpf.ProgramSpec) (group, name string, ok bool) {
	rest, ok := strings.CutPrefix(ps.SectionName, "tracepoint/")
	if !ok {
		return "", "", false
	}
	group, name, ok = strings.Cut(rest, "/")
	return group, name, ok
}

// Check reports why this host cannot run the probe: no kernel BTF, or not
// enough privilege. It returns nil when loading should work.
func Check() error {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return fmt.Errorf("kernel BTF not available (/sys/kernel/btf/vmlinux: %w): the probe needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (5.8+)", err)
	}
	if os.Geteuid() != 0 {
		var hdr unix.CapUserHeader
		var data [2]unix.CapUserData
		hdr.Version = unix.LINUX_CAPABILITY_VERSION_3
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			return fmt.Errorf("read capabilities: %w", err)
		}
		const capBPF, capPerfmon, capSysAdmin = 39, 38, 21
		has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
		if !has(capSysAdmin) && !(has(capBPF) && has(capPerfmon)) {
			return errors.New("loading the probe needs root, or CAP_BPF and CAP_PERFMON (run the sensor as root)")
		}
	}
	return nil
}

// Open loads the probe, attaches the programs for opts.Types and opens the
// ring buffer. Close releases everything.
func Open(opts Options) (*Probe, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raise memlock rlimit: %w", err)
	}
	spec, err := loadSaker()
	if err != nil {
		return nil, fmt.Errorf("load probe spec: %w", err)
	}
	// Maps and variables through bpf2go's typed specs; programs are picked
	// by name below because the set to load follows the event types.
	var specs sakerSpecs
	if err := spec.Assign(&specs); err != nil {
		return nil, fmt.Errorf("probe spec: %w", err)
	}
	if opts.IgnoreSelf {
		if err := specs.SelfTgid.Set(uint32(os.Getpid())); err != nil {
			return nil, fmt.Errorf("set self_tgid: %w", err)
		}
	}
	if opts.RingBufferSize > 0 {
		specs.Events.MaxEntries = uint32(opts.RingBufferSize)
	}
	if opts.OpenFilter != nil {
		if err := specs.OpenFilter.Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("set open_filter: %w", err)
		}
	}
	var collOpts ebpf.CollectionOptions
	if opts.Held != nil {
		if err := specs.Guarded.Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("set guarded: %w", err)
		}
		collOpts.MapReplacements = map[string]*ebpf.Map{"held": opts.Held}
	} else {
		specs.Held.MaxEntries = 1 // never read: guarded is 0
	}

	wantSet := map[event.Type]bool{}
	for _, t := range append(append([]event.Type(nil), alwaysTypes...), opts.Types...) {
		if len(programsFor(t)) > 0 {
			wantSet[t] = true
		}
	}
	if _, err := tracefsRoot(); err != nil {
		return nil, err
	}
	progSet := map[string]bool{}
	var unavailable []event.Type
	for t := range wantSet {
		ok := true
		for _, p := range programsFor(t) {
			ps := spec.Programs[p]
			if ps == nil || !hookExists(ps) {
				ok = false
			}
		}
		if !ok {
			delete(wantSet, t)
			unavailable = append(unavailable, t)
			continue
		}
		for _, p := range programsFor(t) {
			progSet[p] = true
		}
	}
	sort.Slice(unavailable, func(i, j int) bool { return unavailable[i] < unavailable[j] })
	// The tail-called programs are not attached: the syscall programs
	// call them.
	progSet[pathDirs] = true
	for t := range wantSet {
		if t == event.TypePoll || t == event.TypePpoll {
			progSet[fdList] = true
		}
		if usesFDIO(t) {
			progSet[fdIO] = true
		}
	}
	// Load only what is attached: unneeded programs would cost verifier
	// time and kernel memory for nothing.
	for name := range spec.Programs {
		if !progSet[name] {
			delete(spec.Programs, name)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, collOpts)
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("load probe: %w (needs root or CAP_BPF+CAP_PERFMON)", err)
		}
		return nil, fmt.Errorf("load probe: %w", err)
	}
	p := &Probe{coll: coll, unavailable: unavailable}
	// Assign moves the maps out of the collection: Close closes them.
	if err := coll.Assign(&p.maps); err != nil {
		coll.Close()
		return nil, fmt.Errorf("probe maps: %w", err)
	}
	for t := range wantSet {
		if err := p.maps.Wanted.Put(uint32(t), uint8(1)); err != nil {
			p.Close()
			return nil, fmt.Errorf("fill wanted types: %w", err)
		}
		p.types = append(p.types, t)
	}
	sort.Slice(p.types, func(i, j int) bool { return p.types[i] < p.types[j] })
	if opts.OpenFilter != nil {
		if err := p.loadOpenFilter(opts.OpenFilter); err != nil {
			p.Close()
			return nil, err
		}
	}
	for slot, n := range tailSlots {
		if !progSet[n] {
			continue
		}
		if err := p.maps.PathTail.Put(uint32(slot), coll.Programs[n]); err != nil {
			p.Close()
			return nil, fmt.Errorf("set %s tail call: %w", n, err)
		}
	}
	names := make([]string, 0, len(progSet))
	for n := range progSet {
		if n != pathDirs && n != fdIO && n != fdList {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		var l link.Link
		if group, name, ok := tracepointOf(spec.Programs[n]); ok {
			l, err = link.Tracepoint(group, name, coll.Programs[n], nil)
		} else {
			l, err = link.AttachTracing(link.TracingOptions{Program: coll.Programs[n]})
		}
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("attach %s: %w", n, err)
		}
		p.links = append(p.links, l)
	}
	p.reader, err = ringbuf.NewReader(p.maps.Events)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return p, nil
}

// loadOpenFilter fills the open filter's maps; it runs before any program
// is attached, so no open is judged on a partial table.
func (p *Probe) loadOpenFilter(f *OpenFilter) error {
	prefixes, comms := f.tables()
	for c, cls := range comms {
		var key [commLen]byte
		copy(key[:], c)
		if err := p.maps.OpenComms.Put(key, cls); err != nil {
			return fmt.Errorf("open filter: name %q: %w", c, err)
		}
	}
	for pfx, v := range prefixes {
		key := sakerSkPrefixKey{Prefixlen: uint32(8 * len(pfx))}
		copy(key.Data[:], pfx)
		if err := p.maps.OpenPrefixes.Put(&key, prefixVal(v)); err != nil {
			return fmt.Errorf("open filter: prefix %q: %w", pfx, err)
		}
	}
	if root := rootPrefix(prefixes); root != nil {
		if err := p.maps.OpenRoot.Put(uint32(0), prefixVal(root)); err != nil {
			return fmt.Errorf("open filter: root prefix: %w", err)
		}
	}
	heads := prefixHeads(prefixes)
	for i, w := range heads {
		if w == 0 {
			continue
		}
		if err := p.maps.OpenHeads.Put(uint32(i), w); err != nil {
			return fmt.Errorf("open filter: heads: %w", err)
		}
	}
	return nil
}

// prefixVal is a prefix's map value: its outcomes per class and, in Named,
// their union over the name classes, which spares the program the name
// look-up when no class can want the open.
func prefixVal(v *[commClasses]uint8) *sakerSkPrefixVal {
	val := &sakerSkPrefixVal{Outcomes: *v}
	for _, o := range v[1:] {
		val.Named |= o
	}
	return val
}

// Types returns the event types being captured, sorted.
func (p *Probe) Types() []event.Type { return p.types }

// Unavailable returns the wanted event types this kernel has no hook for.
func (p *Probe) Unavailable() []event.Type { return p.unavailable }

// Run reads records until ctx ends or the probe is closed, decoding each into
// a reused Record and passing it to fn. fn must not retain the Record.
func (p *Probe) Run(ctx context.Context, fn func(*Record)) error {
	stop := context.AfterFunc(ctx, func() { p.reader.Close() })
	defer stop()
	var rec ringbuf.Record
	var r Record
	clk := NewClock()
	// The probe wakes the reader only when a backlog builds up (see
	// SK_WAKEUP_BYTES), so the reader also polls: a record waits at most
	// pollInterval.
	p.reader.SetDeadline(time.Now().Add(pollInterval))
	for {
		if err := p.reader.ReadInto(&rec); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				p.reader.SetDeadline(time.Now().Add(pollInterval))
				continue
			}
			if errors.Is(err, ringbuf.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read ring buffer: %w", err)
		}
		if err := Decode(rec.RawSample, &r); err != nil {
			continue
		}
		r.TS = clk.Wall(r.BootNS)
		fn(&r)
	}
}

// Counts are per-type event counters read from the probe: records sent,
// records dropped because the ring buffer was full, and opens the open
// filter left in the kernel.
type Counts struct {
	Seen, Dropped, Filtered [event.NumTypes]uint64
}

// TotalFiltered sums the filtered counters.
func (c *Counts) TotalFiltered() uint64 {
	var n uint64
	for _, d := range c.Filtered {
		n += d
	}
	return n
}

// TotalDropped sums the dropped counters.
func (c *Counts) TotalDropped() uint64 {
	var n uint64
	for _, d := range c.Dropped {
		n += d
	}
	return n
}

// TotalSeen sums the emitted counters.
func (c *Counts) TotalSeen() uint64 {
	var n uint64
	for _, d := range c.Seen {
		n += d
	}
	return n
}

// Counts reads the per-CPU counters, summed over CPUs.
func (p *Probe) Counts() (Counts, error) {
	var c Counts
	m := p.maps.Counters
	for i := uint32(0); i < uint32(3*event.NumTypes); i++ {
		var per []uint64
		if err := m.Lookup(i, &per); err != nil {
			return c, fmt.Errorf("read counter %d: %w", i, err)
		}
		var sum uint64
		for _, v := range per {
			sum += v
		}
		switch n := uint32(event.NumTypes); {
		case i < n:
			c.Seen[i] = sum
		case i < 2*n:
			c.Dropped[i-n] = sum
		default:
			c.Filtered[i-2*n] = sum
		}
	}
	return c, nil
}

// Close detaches and unloads the probe. It is safe to call more than once.
func (p *Probe) Close() error {
	p.closeOnce.Do(func() {
		if p.reader != nil {
			p.reader.Close()
		}
		for _, l := range p.links {
			l.Close()
		}
		p.coll.Close()
		p.maps.Close()
	})
	return nil
}
