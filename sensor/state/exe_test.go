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
