// Package state holds the sensor's view of the host: the process table
// (seeded from /proc, then maintained from the probe's fork, exec and exit
// records), user and group names, and container metadata from the container
// runtime. It turns a decoded probe record into an event.Event with its
// Thread and Container context.
package state

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/probe"
)

// Options configures a Table.
type Options struct {
	ProcRoot   string      // "/proc" when empty
	Users      *Users      // nil: read /etc/passwd and /etc/group
	Containers *Containers // nil: container ids only, no runtime metadata
	Logger     *slog.Logger
}

// Table is the process table, keyed by host pid (tgid). Entries are
// immutable once published: an update (exec, setuid) publishes a new entry,
// so events keep a consistent view of their process.
type Table struct {
	proc       string
	users      *Users
	containers *Containers
	log        *slog.Logger
	bootWall   int64 // wall-clock ns at boot
	clkTck     int64

	cusers  containerUsers
	cgroups *cgroupLister

	mu    sync.RWMutex
	procs map[int64]*event.Thread
}

// NewTable returns an empty table; call Seed to load running processes.
func NewTable(opts Options) *Table {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	if opts.Users == nil {
		opts.Users = NewUsers("", "")
	}
	if opts.Containers == nil {
		opts.Containers = NewContainers(nil, opts.Logger)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return &Table{
		proc: opts.ProcRoot, users: opts.Users, containers: opts.Containers, log: opts.Logger,
		bootWall: time.Now().UnixNano() - ts.Nano(), clkTck: 100,
		procs:   map[int64]*event.Thread{},
		cusers:  containerUsers{procs: opts.ProcRoot},
		cgroups: newCgroupLister(opts.ProcRoot),
	}
}

// Seed loads every process in /proc and links parents. Processes that exit
// while it reads are skipped.
func (t *Table) Seed() error {
	ents, err := os.ReadDir(t.proc)
	if err != nil {
		return fmt.Errorf("seed process table: %w", err)
	}
	all := map[int64]*event.Thread{}
	for _, e := range ents {
		pid, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		if th := t.readProc(pid); th != nil {
			all[pid] = th
		}
	}
	// Parents are linked before publication, while the entries are private.
	for _, th := range all {
		th.Parent = all[th.PPID]
		if th.Parent == th {
			th.Parent = nil
		}
	}
	// Prepare after every Parent is linked: ancestor lists walk the chain.
	for _, th := range all {
		th.Prepare()
	}
	t.mu.Lock()
	for pid, th := range all {
		t.procs[pid] = th
	}
	t.mu.Unlock()
	return nil
}

// Len returns the number of processes in the table.
func (t *Table) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.procs)
}

// Lookup returns the process entry for pid without reading /proc.
func (t *Table) Lookup(pid int64) *event.Thread {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.procs[pid]
}

// Get returns the entry for pid, loading it from /proc when the table has
// not seen it (events lost, or a process from before the table existed).
func (t *Table) Get(pid int64) *event.Thread {
	if th := t.Lookup(pid); th != nil {
		return th
	}
	th := t.readProc(pid)
	if th == nil {
		return nil
	}
	th.Parent = t.Lookup(th.PPID)
	t.publish(th)
	return th
}

// publish makes a private entry visible. It caches the entry's derived
// strings first (event.Thread.Prepare) so field extraction allocates nothing
// per event.
func (t *Table) publish(th *event.Thread) {
	th.Prepare()
	t.mu.Lock()
	t.procs[th.PID] = th
	t.mu.Unlock()
}

// Sweep drops entries whose process no longer exists (their exit record
// was lost), keeping the table bounded.
func (t *Table) Sweep() int {
	t.mu.RLock()
	pids := make([]int64, 0, len(t.procs))
	for pid := range t.procs {
		pids = append(pids, pid)
	}
	t.mu.RUnlock()
	n := 0
	for _, pid := range pids {
		if _, err := os.Stat(filepath.Join(t.proc, strconv.FormatInt(pid, 10))); os.IsNotExist(err) {
			t.mu.Lock()
			delete(t.procs, pid)
			t.mu.Unlock()
			n++
		}
	}
	return n
}

// Container returns the container of a thread, nil on the host.
func (t *Table) Container(th *event.Thread) *event.Container {
	if th == nil || th.ContainerID == "" {
		return nil
	}
	id, rt := ContainerIDFromCgroup(th.CgroupPath)
	if id == "" {
		return nil
	}
	return t.containers.Get(id, rt)
}

// Apply updates the table from a probe record and fills ev (already filled
// by rec.Fill) with its thread and container context. It resolves relative
// paths against the process's working directory or dirfd.
func (t *Table) Apply(rec *probe.Record, ev *event.Event, dirfd int64) {
	pid := int64(rec.PID)
	var th *event.Thread
	switch rec.Type {
	case event.TypeClone, event.TypeFork, event.TypeVfork, event.TypeClone3:
		th = t.thread(rec)
		if rec.Res > 0 {
			child := *th
			child.PID, child.TID = rec.Res, rec.Res
			child.VPID, child.VTID = int64(rec.Args[1]), int64(rec.Args[1])
			child.PPID = th.PID
			child.Parent = th
			// CLONE_PARENT (runc's init stages) makes the child its
			// caller's sibling: its parent is the real one the probe read.
			if rp := int64(rec.Args[2]); rp != 0 && rp != th.PID {
				child.PPID, child.Parent = rp, t.Lookup(rp)
			}
			child.StartTS = rec.TS
			if leaf := cstr(rec.Seg2); leaf != "" && leaf != th.CgroupPath {
				child.CgroupPath = leaf
				child.ContainerID = ShortID(first(ContainerIDFromCgroup(leaf)))
			}
			t.publish(&child)
		}
	case event.TypeExecve, event.TypeExecveat:
		if rec.Res != 0 {
			th = t.thread(rec)
			break
		}
		th = t.execed(rec)
		t.publish(th)
	case event.TypeProcExit:
		th = t.thread(rec)
		t.mu.Lock()
		if t.procs[pid] == th {
			delete(t.procs, pid)
		}
		t.mu.Unlock()
	default:
		th = t.thread(rec)
	}
	ev.Thread = th
	ev.Container = t.Container(th)
	t.resolvePaths(rec, ev, dirfd)
}

func first(a, _ string) string { return a }

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// thread returns the table entry of the record's process, creating it from
// /proc or from the record header when missing, and publishing a new entry
// when the credentials in the record changed (setuid and friends).
func (t *Table) thread(rec *probe.Record) *event.Thread {
	pid := int64(rec.PID)
	th := t.Get(pid)
	if th == nil {
		th = t.fromRecord(rec)
		t.publish(th)
		return th
	}
	if credsChanged(th, rec) {
		cp := *th
		cp.UID, cp.GID, cp.EUID, cp.EGID = rec.UID, rec.GID, rec.EUID, rec.EGID
		cp.CapEffective, cp.CapPermitted, cp.CapInheritable = rec.CapEff, rec.CapPrm, rec.CapInh
		cp.LoginUID = loginUID(rec.LoginUID)
		t.setNames(&cp)
		if rec.Comm != "" {
			cp.Comm = rec.Comm
		}
		cp.Prepared = false
		t.publish(&cp)
		th = &cp
	}
	return th
}

// credsChanged reports whether the record shows the process with other
// credentials, capabilities or name than its entry: setuid, capset, a
// login (loginuid). Each event carries the kernel's current values, so the
// entry follows every change instead of the values read at start. The
// name is the main thread's as libsinsp knows it — its comm at the
// process's last exec or at the fork that made it, not a later
// prctl(PR_SET_NAME) (runc's init, renamed "runc:[2:INIT]", stays
// "runc:[1:CHILD]", as the official rules' exclusions expect) — which
// every record carries whichever thread made the call (threads of one
// process may carry their own names, and the table keeps one entry per
// process): the probe's open filter tests that same name, so proc.name
// here is the name it judged.
func credsChanged(th *event.Thread, rec *probe.Record) bool {
	return th.UID != rec.UID || th.GID != rec.GID || th.EUID != rec.EUID || th.EGID != rec.EGID ||
		th.CapEffective != rec.CapEff || th.CapPermitted != rec.CapPrm || th.CapInheritable != rec.CapInh ||
		th.LoginUID != loginUID(rec.LoginUID) ||
		(rec.Comm != "" && th.Comm != rec.Comm)
}

// fromRecord builds an entry from the record header alone (the process is
// gone from /proc already).
func (t *Table) fromRecord(rec *probe.Record) *event.Thread {
	th := &event.Thread{
		TID: int64(rec.TID), PID: int64(rec.PID), PPID: int64(rec.PPID),
		VTID: int64(rec.VTID), VPID: int64(rec.VPID),
		UID: rec.UID, GID: rec.GID, EUID: rec.EUID, EGID: rec.EGID,
		LoginUID: loginUID(rec.LoginUID),
		Comm:     rec.Comm, Exe: rec.Comm, TTY: rec.TTY,
		CapEffective: rec.CapEff, CapPermitted: rec.CapPrm, CapInheritable: rec.CapInh,
	}
	th.Parent = t.Lookup(th.PPID)
	if th.Parent != nil {
		th.CgroupPath, th.ContainerID = th.Parent.CgroupPath, th.Parent.ContainerID
		th.Cgroups = th.Parent.Cgroups
		th.Cwd = th.Parent.Cwd
	}
	t.setNames(th)
	return th
}

// execed builds the new entry for a process that has just exec'd.
func (t *Table) execed(rec *probe.Record) *event.Thread {
	th := t.fromRecord(rec)
	pid := th.PID
	if old := t.Lookup(pid); old != nil {
		th.StartTS = old.StartTS
		// exec keeps the process group and session
		th.PGID, th.VPGID, th.SID = old.PGID, old.VPGID, old.SID
		th.Cwd = old.Cwd
		th.CgroupPath, th.ContainerID = old.CgroupPath, old.ContainerID
		th.Cgroups = old.Cgroups
	} else {
		th.StartTS = rec.TS
	}
	if len(rec.Argv) > 0 {
		th.Exe = rec.Argv[0]
		th.Args = append([]string(nil), rec.Argv[1:]...)
	}
	if len(rec.Env) > 0 {
		th.Env = append([]string(nil), rec.Env...)
	}
	if cwd, err := os.Readlink(filepath.Join(t.proc, strconv.FormatInt(pid, 10), "cwd")); err == nil {
		th.Cwd = withSlash(cwd)
	}
	t.readResources(th, nil, nil)
	t.readStdFDs(th)
	// thread.cgroups as of the exec (Falco takes them at exec and clone
	// too); a process gone already keeps its parent's.
	if b, err := os.ReadFile(filepath.Join(t.proc, strconv.FormatInt(pid, 10), "cgroup")); err == nil {
		th.Cgroups = t.cgroups.render(string(b))
	}
	if rec.VPGID != 0 {
		// The kernel's values at the exec: the process may have left its
		// parent's group or session (setsid, setpgid) since the fork.
		th.PGID, th.VPGID, th.SID = int64(rec.PGID), int64(rec.VPGID), int64(rec.SID)
	}
	th.ExePath = rec.Str0
	// The probe reads the exec'd file's inode and its times (ns).
	th.ExeIno, th.ExeInoCtime, th.ExeInoMtime = rec.Ino, int64(rec.Args[4]), int64(rec.Args[5])
	th.ExeFromMemfd = rec.ExeMemfd
	th.ExeWritable = rec.ExeWritable
	th.ExeUpperLayer = rec.ExeUpperLayer
	th.ExeLowerLayer = rec.ExeLowerLayer
	if th.ExePath != "" && !filepath.IsAbs(th.ExePath) && th.Cwd != "" && !rec.ExeMemfd {
		th.ExePath = filepath.Join(th.Cwd, th.ExePath)
	}
	if leaf := cstr(rec.Seg2); leaf != "" {
		th.CgroupPath = leaf
		th.ContainerID = ShortID(first(ContainerIDFromCgroup(leaf)))
	}
	t.setNames(th)
	return th
}

// resolvePaths makes FD.Name (opens), or AbsPath and AbsTarget (the other
// path syscalls), absolute and normal ("/tmp/../etc/passwd" is
// "/etc/passwd"), resolving relative paths against the working directory
// (AT_FDCWD) or the directory fd, as Falco's fd.name is: the directory the
// probe captured at the event, else (paths too deep for the probe) the one
// /proc shows now. FD.NameRaw keeps the path as the program passed it
// (fd.nameraw).
func (t *Table) resolvePaths(rec *probe.Record, ev *event.Event, dirfd int64) {
	switch ev.Type {
	case event.TypeUnlink, event.TypeUnlinkat, event.TypeMkdir, event.TypeMkdirat, event.TypeRmdir,
		event.TypeChmod, event.TypeFchmodat, event.TypeChown, event.TypeLchown, event.TypeFchownat:
		ev.AbsPath = t.resolve(rec, ev, ev.Path, rec.BaseDir, dirfd)
		return
	case event.TypeRename, event.TypeLink:
		ev.AbsPath = t.resolve(rec, ev, ev.Path, rec.BaseDir, probe.AtFDCWD)
		ev.AbsTarget = t.resolve(rec, ev, ev.Target, rec.BaseDir1, probe.AtFDCWD)
		return
	case event.TypeRenameat, event.TypeRenameat2, event.TypeLinkat:
		ev.AbsPath = t.resolve(rec, ev, ev.Path, rec.BaseDir, dirfd)
		ev.AbsTarget = t.resolve(rec, ev, ev.Target, rec.BaseDir1, ev.NewDirFD)
		return
	case event.TypeSymlink, event.TypeSymlinkat:
		// Path is the link's content, kept as written.
		ev.AbsTarget = t.resolve(rec, ev, ev.Target, rec.BaseDir1, dirfd)
		return
	}
	name := ev.FD.Name
	if ev.FD.Type != event.FDFile || name == "" {
		return
	}
	if filepath.IsAbs(name) {
		if clean := filepath.Clean(name); clean != name {
			ev.FD.NameRaw, ev.FD.Name = name, clean
		}
		return
	}
	ev.FD.NameRaw = name
	ev.FD.Name = t.resolve(rec, ev, name, rec.BaseDir, dirfd)
}

// resolve makes a path absolute and clean: a relative one is joined to
// base, the directory the probe read at the event, or (paths too deep for
// the probe) to the working directory or dirfd as /proc shows them now. It
// returns name as it is when no directory is known.
func (t *Table) resolve(rec *probe.Record, ev *event.Event, name, base string, dirfd int64) string {
	if name == "" {
		return ""
	}
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	// The probe's directory was read at the event; /proc, read now, may
	// show the fd number reused by another directory.
	if base == "" {
		pid := strconv.FormatInt(int64(rec.PID), 10)
		if dirfd == probe.AtFDCWD {
			if cwd, err := os.Readlink(filepath.Join(t.proc, pid, "cwd")); err == nil {
				base = cwd
			} else if ev.Thread != nil {
				base = ev.Thread.Cwd
			}
		} else if d, err := os.Readlink(filepath.Join(t.proc, pid, "fd", strconv.FormatInt(dirfd, 10))); err == nil {
			base = d
		}
	}
	if base == "" {
		return name
	}
	return filepath.Join(base, name)
}

func withSlash(p string) string {
	if strings.HasSuffix(p, "/") {
		return p
	}
	return p + "/"
}

func loginUID(v uint32) int64 {
	if v == 0xffffffff {
		return -1
	}
	return int64(v)
}

// readProc builds an entry from /proc/PID. It returns nil when the process
// is gone.
func (t *Table) readProc(pid int64) *event.Thread {
	dir := filepath.Join(t.proc, strconv.FormatInt(pid, 10))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil
	}
	th := &event.Thread{PID: pid, TID: pid, VPID: pid, VTID: pid, LoginUID: -1}
	// "pid (comm) state ppid pgrp session tty_nr … starttime(22)": comm may
	// hold spaces and parentheses, so split at the last ')'.
	lp, rp := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if lp < 0 || rp < lp {
		return nil
	}
	th.Comm = string(stat[lp+1 : rp])
	f := strings.Fields(string(stat[rp+1:]))
	var status []byte
	if len(f) > 19 {
		// pgrp and session as the sensor's (host) pid namespace sees
		// them; NSpgid and NSsid below replace the virtual ones.
		th.PPID, _ = strconv.ParseInt(f[1], 10, 64)
		th.PGID, _ = strconv.ParseInt(f[2], 10, 64)
		th.VPGID = th.PGID
		th.SID, _ = strconv.ParseInt(f[3], 10, 64)
		tty, _ := strconv.ParseInt(f[4], 10, 64)
		th.TTY = uint32(tty)
		start, _ := strconv.ParseInt(f[19], 10, 64)
		th.StartTS = t.bootWall + start*int64(time.Second)/t.clkTck
	}
	if status, err = os.ReadFile(filepath.Join(dir, "status")); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch k {
			case "Uid":
				ids := strings.Fields(v)
				if len(ids) >= 2 {
					th.UID, th.EUID = parseU32(ids[0]), parseU32(ids[1])
				}
			case "Gid":
				ids := strings.Fields(v)
				if len(ids) >= 2 {
					th.GID, th.EGID = parseU32(ids[0]), parseU32(ids[1])
				}
			case "NSpid":
				ids := strings.Fields(v)
				if len(ids) > 0 {
					th.VPID, _ = strconv.ParseInt(ids[len(ids)-1], 10, 64)
					th.VTID = th.VPID
				}
			case "NSpgid":
				if ids := strings.Fields(v); len(ids) > 0 {
					th.VPGID, _ = strconv.ParseInt(ids[len(ids)-1], 10, 64)
				}
			case "NSsid":
				if ids := strings.Fields(v); len(ids) > 0 {
					th.SID, _ = strconv.ParseInt(ids[len(ids)-1], 10, 64)
				}
			case "CapEff":
				th.CapEffective, _ = strconv.ParseUint(v, 16, 64)
			case "CapPrm":
				th.CapPermitted, _ = strconv.ParseUint(v, 16, 64)
			case "CapInh":
				th.CapInheritable, _ = strconv.ParseUint(v, 16, 64)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loginuid")); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			th.LoginUID = loginUID(uint32(v))
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(b) > 0 {
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		th.Exe, th.Args = args[0], args[1:]
	} else {
		th.Exe = th.Comm // kernel threads have no cmdline
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		th.ExePath = strings.TrimSuffix(exe, " (deleted)")
	}
	var st unix.Stat_t
	if unix.Stat(filepath.Join(dir, "exe"), &st) == nil {
		th.ExeIno, th.ExeInoCtime, th.ExeInoMtime = st.Ino, st.Ctim.Nano(), st.Mtim.Nano()
	}
	if cwd, err := os.Readlink(filepath.Join(dir, "cwd")); err == nil {
		th.Cwd = withSlash(cwd)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		th.CgroupPath = pickCgroup(string(b))
		th.ContainerID = ShortID(first(ContainerIDFromCgroup(th.CgroupPath)))
		th.Cgroups = t.cgroups.render(string(b))
	}
	t.setNames(th)
	t.readResources(th, f, status)
	t.readStdFDs(th)
	return th
}

// readResources fills the process's memory, page-fault and open-file
// figures from /proc/PID (stat fields and status given when the caller
// has read them already). A process gone since its exec keeps none.
func (t *Table) readResources(th *event.Thread, statFields []string, status []byte) {
	dir := filepath.Join(t.proc, strconv.FormatInt(th.PID, 10))
	if statFields == nil {
		b, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			return
		}
		if rp := bytes.LastIndexByte(b, ')'); rp >= 0 {
			statFields = strings.Fields(string(b[rp+1:]))
		}
	}
	if status == nil {
		status, _ = os.ReadFile(filepath.Join(dir, "status"))
	}
	// stat after the comm: state(0) … minflt(7) cminflt(8) majflt(9).
	if len(statFields) > 9 {
		th.PFMinor, _ = strconv.ParseUint(statFields[7], 10, 64)
		th.PFMajor, _ = strconv.ParseUint(statFields[9], 10, 64)
		th.HasResources = true
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch k {
		case "VmSize":
			dst = &th.VMSizeKB
		case "VmRSS":
			dst = &th.VMRSSKB
		case "VmSwap":
			dst = &th.VMSwapKB
		default:
			continue
		}
		*dst, _ = strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		th.HasResources = true
	}
	if b, err := os.ReadFile(filepath.Join(dir, "limits")); err == nil {
		th.FDLimit = openFilesLimit(string(b))
	}
	if fds, err := os.ReadDir(filepath.Join(dir, "fd")); err == nil {
		th.FDOpen = uint64(len(fds))
	}
}

// openFilesLimit reads the soft "Max open files" limit from
// /proc/PID/limits; 0 when absent, -1 when unlimited.
func openFilesLimit(limits string) int64 {
	for _, line := range strings.Split(limits, "\n") {
		rest, ok := strings.CutPrefix(line, "Max open files")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		if f[0] == "unlimited" {
			return -1
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		return n
	}
	return 0
}

// pickCgroup chooses the cgroup path that identifies a container from
// /proc/PID/cgroup: the first path holding a container id, else the unified
// hierarchy's path.
func pickCgroup(s string) string {
	unified := ""
	for _, line := range strings.Split(s, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if id, _ := ContainerIDFromCgroup(parts[2]); id != "" {
			return parts[2]
		}
		if parts[0] == "0" {
			unified = parts[2]
		}
	}
	return unified
}

func parseU32(s string) uint32 {
	v, _ := strconv.ParseUint(s, 10, 32)
	return uint32(v)
}
