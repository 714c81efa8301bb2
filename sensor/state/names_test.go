package state

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/probe"
)

// TestContainerUsersFromTheContainer: a process in a container gets the
// names of its image's /etc/passwd and /etc/group (read through
// /proc/PID/root), as in Falco; a host process the host's.
func TestContainerUsersFromTheContainer(t *testing.T) {
	procRoot, etc := t.TempDir(), t.TempDir()
	write := func(path, s string) { writeFile(t, path, s) }
	write(filepath.Join(etc, "passwd"), "alice:x:1000:1000::/home/alice:/bin/zsh\n")
	write(filepath.Join(etc, "group"), "staff:x:1000:\n")
	cid := strings.Repeat("ab", 32)
	proc := func(pid int, cgroup string) string {
		dir := filepath.Join(procRoot, strconv.Itoa(pid))
		write(filepath.Join(dir, "stat"), strconv.Itoa(pid)+" (app) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0")
		write(filepath.Join(dir, "status"), "Name:\tapp\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n")
		write(filepath.Join(dir, "cgroup"), cgroup)
		return dir
	}
	const inCtr, onHost = 4_000_201, 4_000_202
	dir := proc(inCtr, "0::/system.slice/docker-"+cid+".scope\n")
	write(filepath.Join(dir, "root", "etc", "passwd"), "app:x:1000:1000::/srv/app:/bin/sh\n")
	write(filepath.Join(dir, "root", "etc", "group"), "appgrp:x:1000:\n")
	proc(onHost, "0::/user.slice/session-1.scope\n")

	tab := NewTable(Options{ProcRoot: procRoot, Users: NewUsers(filepath.Join(etc, "passwd"), filepath.Join(etc, "group"))})
	c, h := tab.Get(inCtr), tab.Get(onHost)
	if c == nil || h == nil {
		t.Fatal("processes not read from /proc")
	}
	if c.ContainerID == "" || c.User != "app" || c.Group != "appgrp" || c.HomeDir != "/srv/app" {
		t.Errorf("container process: container %q user %q group %q home %q; want app appgrp /srv/app", c.ContainerID, c.User, c.Group, c.HomeDir)
	}
	if h.User != "alice" || h.Group != "staff" || h.HomeDir != "/home/alice" {
		t.Errorf("host process: user %q group %q home %q; want alice staff /home/alice", h.User, h.Group, h.HomeDir)
	}

	// A child the container's process forks and execs, after the first
	// process is gone from /proc: the container's names stay.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	var ev event.Event
	r := &probe.Record{Type: event.TypeExecve, PID: 4_000_203, TID: 4_000_203, PPID: inCtr, UID: 1000, GID: 1000, EUID: 1000, EGID: 1000,
		TS: time.Now().UnixNano(), Comm: "id", Str0: "/usr/bin/id", Argv: []string{"id"}}
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if e := ev.Thread; e.ContainerID != c.ContainerID || e.User != "app" || e.Group != "appgrp" {
		t.Errorf("exec in the container: container %q user %q group %q; want app appgrp", e.ContainerID, e.User, e.Group)
	}
}

// TestContainerUsersReadThroughALiveProcess: the container's names are read
// through a process of it that /proc still shows, and only once it has the
// container's root. The first process the sensor sees may be gone (a short
// command, the sensor behind), or be the runtime before pivot_root (whose
// root is the host's, like PID 1's): neither fixes the container's names,
// and the next process of the container gives them.
func TestContainerUsersReadThroughALiveProcess(t *testing.T) {
	procRoot, hostRoot, ctrRoot := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(path, s string) { writeFile(t, path, s) }
	write(filepath.Join(hostRoot, "etc", "passwd"), "hostuser:x:1:1::/:/bin/sh\n")
	write(filepath.Join(ctrRoot, "etc", "passwd"), "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
	write(filepath.Join(ctrRoot, "etc", "group"), "daemon:x:1:\n")
	if err := os.MkdirAll(filepath.Join(procRoot, "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(hostRoot, filepath.Join(procRoot, "1", "root")); err != nil {
		t.Fatal(err)
	}
	tab := NewTable(Options{ProcRoot: procRoot, Users: NewUsers(filepath.Join(hostRoot, "etc", "passwd"), filepath.Join(hostRoot, "etc", "group"))})
	cid := strings.Repeat("cd", 32)
	leaf := []byte("/system.slice/docker-" + cid + ".scope\x00")
	exec := func(pid uint32, root string) *event.Thread {
		t.Helper()
		if root != "" {
			dir := filepath.Join(procRoot, strconv.Itoa(int(pid)))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(root, filepath.Join(dir, "root")); err != nil {
				t.Fatal(err)
			}
		}
		var ev event.Event
		r := &probe.Record{Type: event.TypeExecve, PID: pid, TID: pid, PPID: 1, UID: 1, GID: 1, EUID: 1, EGID: 1,
			TS: time.Now().UnixNano(), Comm: "login", Str0: "/bin/login", Argv: []string{"login"}, Seg2: leaf}
		r.Fill(&ev)
		tab.Apply(r, &ev, probe.AtFDCWD)
		if ev.Thread.ContainerID == "" {
			t.Fatalf("pid %d: not in the container", pid)
		}
		return ev.Thread
	}
	if th := exec(4_000_301, ""); th.User != "" {
		t.Errorf("a container process gone from /proc: user %q, want none", th.User)
	}
	if th := exec(4_000_302, hostRoot); th.User != "" {
		t.Errorf("a container process still in the host's root: user %q, want none (not the host's names)", th.User)
	}
	if th := exec(4_000_303, ctrRoot); th.User != "daemon" || th.Group != "daemon" {
		t.Errorf("a live container process: user %q group %q, want the image's daemon", th.User, th.Group)
	}
}

// writeFile writes s to path, making its directories.
func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
