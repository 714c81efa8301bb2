package state

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/probe"
)

// TestExeInode: proc.exe_ino and its ctime/mtime come from the exec record
// (the probe reads the exec'd file), and for a process running before the
// sensor from its /proc/PID/exe; a fork keeps its parent's.
func TestExeInode(t *testing.T) {
	procRoot := t.TempDir()
	exe := filepath.Join(t.TempDir(), "app")
	writeFile(t, exe, "#!/bin/sh\n")
	var st unix.Stat_t
	if err := unix.Stat(exe, &st); err != nil {
		t.Fatal(err)
	}
	const old, execs, child = 4_000_401, 4_000_402, 4_000_403
	dir := filepath.Join(procRoot, strconv.Itoa(old))
	writeFile(t, filepath.Join(dir, "stat"), strconv.Itoa(old)+" (app) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0")
	writeFile(t, filepath.Join(dir, "status"), "Name:\tapp\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n")
	if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
		t.Fatal(err)
	}
	tab := NewTable(Options{ProcRoot: procRoot, Users: NewUsers(filepath.Join(procRoot, "passwd"), filepath.Join(procRoot, "group"))})
	if th := tab.Get(old); th == nil || th.ExeIno != st.Ino || th.ExeInoCtime != st.Ctim.Nano() || th.ExeInoMtime != st.Mtim.Nano() {
		t.Fatalf("process read from /proc: %+v, want ino %d ctime %d mtime %d", th, st.Ino, st.Ctim.Nano(), st.Mtim.Nano())
	}

	var ev event.Event
	r := &probe.Record{Type: event.TypeExecve, PID: execs, TID: execs, PPID: old, TS: time.Now().UnixNano(),
		Comm: "dropped", Str0: "/tmp/dropped", Argv: []string{"/tmp/dropped"}, Ino: 77, Args: [6]uint64{4: 1_700_000_000_000_000_001, 5: 1_700_000_000_000_000_002}}
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if th := ev.Thread; th.ExeIno != 77 || th.ExeInoCtime != 1_700_000_000_000_000_001 || th.ExeInoMtime != 1_700_000_000_000_000_002 {
		t.Errorf("exec: ino %d ctime %d mtime %d, want the record's 77, ...001, ...002", th.ExeIno, th.ExeInoCtime, th.ExeInoMtime)
	}

	ev = event.Event{}
	r = &probe.Record{Type: event.TypeClone, PID: execs, TID: execs, PPID: old, Res: child, TS: time.Now().UnixNano(), Comm: "dropped"}
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if th := tab.Get(child); th == nil || th.ExeIno != 77 {
		t.Errorf("forked child: %+v, want its parent's exe inode 77", th)
	}
}

// TestCloneParentIsTheRealParent: a child forked with CLONE_PARENT (the
// fork record's args[2] names its real parent) is its caller's sibling:
// runc:[2:INIT], forked by runc:[1:CHILD], is runc's child, as in Falco.
func TestCloneParentIsTheRealParent(t *testing.T) {
	tab := NewTable(Options{ProcRoot: t.TempDir()})
	const runc, child1, init, plain = 4_000_501, 4_000_502, 4_000_503, 4_000_504
	apply := func(r *probe.Record) *event.Event {
		var ev event.Event
		r.TS = time.Now().UnixNano()
		r.Fill(&ev)
		tab.Apply(r, &ev, probe.AtFDCWD)
		return &ev
	}
	apply(&probe.Record{Type: event.TypeExecve, PID: runc, TID: runc, PPID: 1, Comm: "runc", Str0: "/usr/bin/runc", Argv: []string{"runc", "init"}})
	apply(&probe.Record{Type: event.TypeClone, PID: runc, TID: runc, PPID: 1, Res: child1, Comm: "runc", Args: [6]uint64{0: child1, 1: child1, 2: runc}})
	apply(&probe.Record{Type: event.TypeClone, PID: child1, TID: child1, PPID: runc, Res: init, Comm: "runc:[1:CHILD]", Args: [6]uint64{0: init, 1: 1, 2: runc}})
	apply(&probe.Record{Type: event.TypeClone, PID: child1, TID: child1, PPID: runc, Res: plain, Comm: "runc:[1:CHILD]", Args: [6]uint64{0: plain, 1: plain, 2: child1}})
	if th := tab.Get(init); th == nil || th.PPID != runc || th.Parent == nil || th.Parent.PID != runc {
		t.Errorf("CLONE_PARENT child: %+v, want parent %d", th, runc)
	}
	if th := tab.Get(plain); th == nil || th.PPID != child1 || th.Parent == nil || th.Parent.PID != child1 {
		t.Errorf("plain child: %+v, want parent %d", th, child1)
	}
}
