package state

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/probe"
	"golang.org/x/sys/unix"
)

const cid = "3f4b9c2d1e0a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344"

func TestContainerIDFromCgroup(t *testing.T) {
	tests := []struct {
		path, id, runtime string
	}{
		{"/docker/" + cid, cid, RuntimeDocker},
		{"/system.slice/docker-" + cid + ".scope", cid, RuntimeDocker},
		{"docker-" + cid + ".scope", cid, RuntimeDocker},
		{cid, cid, RuntimeDocker},
		{"/kubepods/besteffort/pod0d1e2f3a-1111-2222-3333-444455556666/" + cid, cid, RuntimeContainerd},
		{"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0d1e.slice/cri-containerd-" + cid + ".scope", cid, RuntimeContainerd},
		{"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/crio-" + cid + ".scope", cid, RuntimeCRIO},
		{"/machine.slice/libpod-" + cid + ".scope", cid, RuntimePodman},
		{"/libpod_parent/libpod-" + cid, cid, RuntimePodman},
		{"/machine.slice/libpod-conmon-" + cid + ".scope", "", ""},
		{"/kubepods.slice/crio-conmon-" + cid + ".scope", "", ""},
		{"/user.slice/user-1000.slice/session-2.scope", "", ""},
		{"/", "", ""},
		{"/process_api/24ec6e5cebd1bd22fc518e9094ac2b6a", "", ""},
		{"/docker/" + cid[:63], "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			id, rt := ContainerIDFromCgroup(tt.path)
			if id != tt.id || rt != tt.runtime {
				t.Errorf("got (%q, %q), want (%q, %q)", id, rt, tt.id, tt.runtime)
			}
		})
	}
}

func TestSplitImage(t *testing.T) {
	tests := []struct{ in, repo, tag string }{
		{"nginx:1.25", "nginx", "1.25"},
		{"nginx", "nginx", "latest"},
		{"registry:5000/team/app:2.0", "registry:5000/team/app", "2.0"},
		{"registry:5000/team/app", "registry:5000/team/app", "latest"},
		{"docker.io/library/redis:7@sha256:abcd", "docker.io/library/redis", "7"},
	}
	for _, tt := range tests {
		repo, tag := SplitImage(tt.in)
		if repo != tt.repo || tag != tt.tag {
			t.Errorf("SplitImage(%q) = %q, %q; want %q, %q", tt.in, repo, tag, tt.repo, tt.tag)
		}
	}
}

func TestSeedFindsSelfAndParent(t *testing.T) {
	tab := NewTable(Options{})
	if err := tab.Seed(); err != nil {
		t.Fatal(err)
	}
	self := tab.Lookup(int64(os.Getpid()))
	if self == nil {
		t.Fatalf("own pid %d not in table of %d", os.Getpid(), tab.Len())
	}
	exe, _ := os.Executable()
	wd, _ := os.Getwd()
	if self.ExePath != exe || self.Exe != os.Args[0] || !slices.Equal(self.Args, os.Args[1:]) {
		t.Errorf("exe %q/%q args %q; want %q/%q %q", self.ExePath, self.Exe, self.Args, exe, os.Args[0], os.Args[1:])
	}
	if want := filepath.Base(exe); !strings.HasPrefix(want, self.Comm) || self.Comm == "" {
		t.Errorf("comm %q, want a prefix of %q", self.Comm, want)
	}
	if self.Cwd != wd+"/" {
		t.Errorf("cwd %q, want %q", self.Cwd, wd+"/")
	}
	if self.UID != uint32(os.Getuid()) || (os.Getuid() == 0 && self.User != "root") {
		t.Errorf("uid %d user %q", self.UID, self.User)
	}
	if self.StartTS <= 0 || time.Since(time.Unix(0, self.StartTS)) > time.Hour {
		t.Errorf("start %v", time.Unix(0, self.StartTS))
	}
	if !self.HasResources || self.VMSizeKB == 0 || self.VMRSSKB == 0 || self.PFMinor == 0 || self.FDLimit == 0 || self.FDOpen < 3 {
		t.Errorf("resources %v: vm %d kB rss %d kB minflt %d fds %d of %d", self.HasResources, self.VMSizeKB, self.VMRSSKB, self.PFMinor, self.FDOpen, self.FDLimit)
	}
	// A session or group led from outside our pid namespace reads as 0 (CI's
	// runner is one), so compare with what the kernel tells us.
	pgid, _ := unix.Getpgid(0)
	sid, _ := unix.Getsid(0)
	if self.PGID != int64(pgid) || self.SID != int64(sid) {
		t.Errorf("pgid %d sid %d, want %d %d", self.PGID, self.SID, pgid, sid)
	}
	if self.PPID != int64(os.Getppid()) || self.Parent == nil || self.Parent.PID != int64(os.Getppid()) {
		t.Fatalf("ppid %d parent %+v, want %d", self.PPID, self.Parent, os.Getppid())
	}
	// The chain ends at pid 1 (or the top of a pid namespace).
	n := 0
	for p := self; p.Parent != nil && n < 100; p = p.Parent {
		n++
	}
	if n < 1 {
		t.Errorf("parent chain length %d", n)
	}
	// Published entries are prepared, so ancestor fields extract without
	// allocating per event.
	if !self.Prepared || len(self.ANames) == 0 || self.ANames[0] != self.Parent.Comm {
		t.Errorf("entry not prepared: prepared=%v anames=%q parent comm %q", self.Prepared, self.ANames, self.Parent.Comm)
	}
}

func TestUsers(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	gr := filepath.Join(dir, "group")
	os.WriteFile(pw, []byte("root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n"), 0o600)
	os.WriteFile(gr, []byte("root:x:0:\nshadow:x:42:\n"), 0o600)
	u := NewUsers(pw, gr)
	if u.User(0) != "root" || u.User(33) != "www-data" || u.User(1000) != "" || u.Group(42) != "shadow" {
		t.Errorf("users %q %q %q group %q", u.User(0), u.User(33), u.User(1000), u.Group(42))
	}
	if a := u.Account(0); a != (Account{Home: "/root", Shell: "/bin/bash"}) {
		t.Errorf("account 0: %+v", a)
	}
	if a := u.Account(33); a != (Account{Home: "/var/www", Shell: "/usr/sbin/nologin"}) {
		t.Errorf("account 33: %+v", a)
	}
	if a := u.Account(1000); a != (Account{}) {
		t.Errorf("account 1000: %+v", a)
	}
}

// TestProcessGroupAccountAndResources reads the host and namespace process
// group and session from /proc, keeps them across an exec (which used to
// reset proc.vpgid and proc.sid to 0), fills the user's home and shell, and
// reads memory, page faults and open files at start and again at exec.
func TestProcessGroupAccountAndResources(t *testing.T) {
	procRoot, etc := t.TempDir(), t.TempDir()
	const pid = 4_000_003
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid pgrp session tty … (20 fields after the comm)
	stat := fmt.Sprintf("%d (sh) S 1 4000001 4000000 0 -1 0 321 0 7 0 0 0 0 0 20 0 1 0 500 0 0", pid)
	os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600)
	os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\tsh\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nNSpid:\t4000003\t12\nNSpgid:\t4000001\t10\nNSsid:\t4000000\t1\nVmSize:\t   10000 kB\nVmRSS:\t    2000 kB\nVmSwap:\t       4 kB\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "limits"), []byte("Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 1048576              files\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "fd"), 0o755)
	for _, fd := range []string{"0", "1", "2"} {
		os.WriteFile(filepath.Join(dir, "fd", fd), nil, 0o600)
	}
	pw := filepath.Join(etc, "passwd")
	os.WriteFile(pw, []byte("alice:x:1000:1000::/home/alice:/bin/zsh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n"), 0o600)
	tab := NewTable(Options{ProcRoot: procRoot, Users: NewUsers(pw, filepath.Join(etc, "group"))})

	th := tab.Get(pid)
	if th == nil {
		t.Fatal("process not read from /proc")
	}
	if th.PGID != 4000001 || th.VPGID != 10 || th.SID != 1 || th.VPID != 12 {
		t.Errorf("pgid %d vpgid %d sid %d vpid %d, want 4000001 10 1 12", th.PGID, th.VPGID, th.SID, th.VPID)
	}
	if th.HomeDir != "/home/alice" || th.Shell != "/bin/zsh" {
		t.Errorf("home %q shell %q", th.HomeDir, th.Shell)
	}
	if !th.HasResources || th.VMSizeKB != 10000 || th.VMRSSKB != 2000 || th.VMSwapKB != 4 || th.PFMinor != 321 || th.PFMajor != 7 || th.FDLimit != 1024 || th.FDOpen != 3 {
		t.Errorf("resources %v: vm %d/%d/%d faults %d/%d fds %d of %d", th.HasResources, th.VMSizeKB, th.VMRSSKB, th.VMSwapKB, th.PFMinor, th.PFMajor, th.FDOpen, th.FDLimit)
	}
	// The exec'd image has other figures: the new entry reads them.
	os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\tcat\nVmSize:\t   20000 kB\nVmRSS:\t    900 kB\n"), 0o600)
	os.Remove(filepath.Join(dir, "fd", "2"))

	var ev event.Event
	r := &probe.Record{Type: event.TypeExecve, PID: pid, TID: pid, PPID: 1, VPID: 12, UID: 1000, GID: 1000, EUID: 1000, EGID: 1000,
		TS: time.Now().UnixNano(), Comm: "cat", Str0: "/usr/bin/cat", Argv: []string{"cat"}}
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if e := ev.Thread; e.PGID != 4000001 || e.VPGID != 10 || e.SID != 1 || e.HomeDir != "/home/alice" {
		t.Errorf("after exec: pgid %d vpgid %d sid %d home %q", e.PGID, e.VPGID, e.SID, e.HomeDir)
	}
	if e := ev.Thread; e.VMSizeKB != 20000 || e.VMRSSKB != 900 || e.FDOpen != 2 || th.VMSizeKB != 10000 {
		t.Errorf("after exec: vm %d/%d fds %d (old entry %d)", e.VMSizeKB, e.VMRSSKB, e.FDOpen, th.VMSizeKB)
	}

	r = &probe.Record{Type: event.TypeSetuid, PID: pid, TID: pid, PPID: 1, VPID: 12, UID: 33, GID: 1000, EUID: 33, EGID: 1000,
		TS: time.Now().UnixNano(), Comm: "cat"}
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if e := ev.Thread; e.User != "www-data" || e.HomeDir != "/var/www" || e.Shell != "/usr/sbin/nologin" || e.PGID != 4000001 {
		t.Errorf("after setuid: user %q home %q shell %q pgid %d", e.User, e.HomeDir, e.Shell, e.PGID)
	}
}

func TestApplyForkExecExit(t *testing.T) {
	tab := NewTable(Options{ProcRoot: t.TempDir()}) // empty /proc: only records count
	const parent, child = 4_000_001, 4_000_002
	now := time.Now().UnixNano()
	rec := func(typ event.Type, pid uint32, res int64) *probe.Record {
		return &probe.Record{Type: typ, PID: pid, TID: pid, PPID: 1, VPID: pid, UID: 0, TS: now, Comm: "bash", Res: res}
	}
	var ev event.Event

	r := rec(event.TypeClone, parent, child)
	r.Args[1] = 7
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if ev.Thread == nil || ev.Thread.PID != parent {
		t.Fatalf("clone thread %+v", ev.Thread)
	}
	c := tab.Lookup(child)
	if c == nil || c.PPID != parent || c.Parent != ev.Thread || c.Comm != "bash" || c.VPID != 7 {
		t.Fatalf("child %+v", c)
	}

	r = rec(event.TypeExecve, child, 0)
	r.PPID = parent
	r.Comm = "cat"
	r.Str0 = "/usr/bin/cat"
	r.Argv = []string{"cat", "/etc/shadow"}
	r.Env = []string{"LD_PRELOAD=/tmp/x.so"}
	r.Seg2 = []byte("docker-" + cid + ".scope\x00")
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	th := ev.Thread
	if th.Comm != "cat" || th.Exe != "cat" || th.ExePath != "/usr/bin/cat" || !slices.Equal(th.Args, []string{"/etc/shadow"}) || !slices.Equal(th.Env, r.Env) {
		t.Errorf("exec thread %+v", th)
	}
	if th.Parent == nil || th.Parent.PID != parent || th.Parent.Comm != "bash" {
		t.Errorf("exec parent %+v", th.Parent)
	}
	if th.ContainerID != cid[:12] || ev.Container == nil || ev.Container.ID != cid[:12] || ev.Container.Runtime != RuntimeDocker {
		t.Errorf("container id %q container %+v", th.ContainerID, ev.Container)
	}
	if tab.Lookup(child) != th {
		t.Error("exec did not publish the new entry")
	}

	r = rec(event.TypeOpenat, child, 3)
	r.Comm = "cat" // the kernel's comm after the exec
	r.Str0 = "/etc/shadow"
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if ev.Thread != th || ev.FD.Name != "/etc/shadow" {
		t.Errorf("open thread %p want %p, fd %+v", ev.Thread, th, ev.FD)
	}

	r = rec(event.TypeSetuid, child, 0)
	r.UID, r.EUID = 33, 33
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if ev.Thread.UID != 33 || ev.Thread.Exe != "cat" || th.UID != 0 {
		t.Errorf("after setuid uid %d (old entry %d)", ev.Thread.UID, th.UID)
	}

	r = rec(event.TypeProcExit, child, 0)
	r.UID, r.EUID = 33, 33
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if ev.Thread == nil || ev.Thread.PID != child || tab.Lookup(child) != nil {
		t.Errorf("exit: thread %+v, still in table %v", ev.Thread, tab.Lookup(child) != nil)
	}
}

// dockerServer serves the Docker Engine API's JSON shapes on a unix socket.
func dockerServer(t *testing.T, name *atomic.Value, starts chan string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containers/{id}/json", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != cid {
			http.Error(w, `{"message":"No such container"}`, http.StatusNotFound)
			return
		}
		fmt.Fprintf(w, `{
  "Id": %q, "Created": "2026-11-23T09:00:00.1Z", "Name": "/%s",
  "Image": "sha256:5f2b0d7a9e",
  "State": {"Status": "running", "Running": true, "StartedAt": "2026-11-23T09:00:01.5Z"},
  "HostConfig": {"Privileged": true, "NetworkMode": "bridge"},
  "Config": {"Image": "nginx:1.25", "Labels": {"app": "web",
    "io.kubernetes.pod.name": "web-7d9f", "io.kubernetes.pod.namespace": "prod", "io.kubernetes.pod.uid": "0d1e2f3a"}},
  "Mounts": [{"Type": "bind", "Source": "/etc", "Destination": "/host/etc", "Mode": "ro", "RW": false, "Propagation": "rprivate"}]
}`, cid, name.Load().(string))
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Query().Get("filters"), `"start"`) {
			http.Error(w, "missing filters", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case id := <-starts:
				json.NewEncoder(w).Encode(map[string]any{"Type": "container", "Action": "start", "status": "start", "id": id, "Actor": map[string]any{"ID": id}})
				w.(http.Flusher).Flush()
			}
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sock
}

func TestDockerInspectAndRefresh(t *testing.T) {
	var name atomic.Value
	name.Store("web")
	starts := make(chan string, 1)
	sock := dockerServer(t, &name, starts)
	d := DockerIfPresent(sock)
	if d == nil {
		t.Fatal("socket not detected")
	}
	c, err := d.Inspect(context.Background(), cid)
	if err != nil {
		t.Fatal(err)
	}
	want := event.Container{
		ID: cid[:12], FullID: cid, Name: "web", Image: "nginx:1.25", Repository: "nginx", Tag: "1.25",
		ImageID: "5f2b0d7a9e", Runtime: RuntimeDocker, Privileged: true,
		StartTS: time.Date(2026, 11, 23, 9, 0, 1, 5e8, time.UTC).UnixNano(),
		PodName: "web-7d9f", Namespace: "prod", PodUID: "0d1e2f3a",
	}
	got := *c
	got.Labels, got.Mounts = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("container\n got %+v\nwant %+v", got, want)
	}
	if c.Labels["app"] != "web" || len(c.Mounts) != 1 || c.Mounts[0] != (event.Mount{Source: "/etc", Dest: "/host/etc", Mode: "ro", RW: false, Propagation: "rprivate"}) {
		t.Errorf("labels %v mounts %+v", c.Labels, c.Mounts)
	}
	if _, err := d.Inspect(context.Background(), strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), ErrNotFound.Error()) {
		t.Errorf("unknown id: %v", err)
	}

	cs := NewContainers(d, nil)
	if c := cs.Get(cid, RuntimeDocker); c == nil || c.Name != "web" {
		t.Fatalf("cached %+v", c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go cs.Run(ctx)
	name.Store("web-restarted")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && cs.Get(cid, RuntimeDocker).Name != "web-restarted" {
		select {
		case starts <- cid:
		default:
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := cs.Get(cid, RuntimeDocker).Name; got != "web-restarted" {
		t.Errorf("after start event name %q", got)
	}
}

func TestContainersWithoutRuntime(t *testing.T) {
	cs := NewContainers(nil, nil)
	c := cs.Get(cid, RuntimeCRIO)
	if c == nil || c.ID != cid[:12] || c.FullID != cid || c.Runtime != RuntimeCRIO {
		t.Errorf("got %+v", c)
	}
	if DockerIfPresent(filepath.Join(t.TempDir(), "none.sock")) != nil {
		t.Error("absent socket detected")
	}
}

// TestApplyFollowsCapsAndName: a process started after the sensor (no
// /proc entry read at start-up) gets its capabilities from each record, and
// its entry follows capset and prctl(PR_SET_NAME) as runc does when it
// renames itself "runc:[1:CHILD]". (Every record carries the main thread's
// name, whichever thread called: TestRecordCarriesProcessName in
// sensor/probe.)
func TestApplyFollowsCapsAndName(t *testing.T) {
	tab := NewTable(Options{ProcRoot: t.TempDir()})
	const pid = 4_100_001
	const sysAdmin = 1 << 21
	var ev event.Event
	apply := func(r *probe.Record) *event.Thread {
		r.Fill(&ev)
		tab.Apply(r, &ev, probe.AtFDCWD)
		return ev.Thread
	}
	base := probe.Record{Type: event.TypeOpenat, PID: pid, TID: pid, PPID: 1, Comm: "runc", CapEff: sysAdmin, CapPrm: sysAdmin, LoginUID: 0xffffffff}
	r := base
	th := apply(&r)
	if th.CapPermitted != sysAdmin || th.CapEffective != sysAdmin || th.Comm != "runc" {
		t.Fatalf("first record: %+v", th)
	}

	r = base
	r.Type, r.Comm = event.TypePrctl, "runc:[1:CHILD]"
	if th = apply(&r); th.Comm != "runc:[1:CHILD]" || tab.Lookup(pid).Comm != "runc:[1:CHILD]" {
		t.Errorf("after PR_SET_NAME: comm %q", th.Comm)
	}

	r = base
	r.Type, r.Comm, r.CapEff, r.CapPrm, r.CapInh = event.TypeCapset, "runc:[1:CHILD]", 0, 0, 0
	if th = apply(&r); th.CapPermitted != 0 || th.CapEffective != 0 {
		t.Errorf("after capset: caps %x/%x", th.CapEffective, th.CapPermitted)
	}

	r = base
	r.Type, r.TID, r.Comm, r.CapEff, r.CapPrm = event.TypeOpenat, pid+1, "runc:[2:INIT]", 0, 0
	if th = apply(&r); th.Comm != "runc:[2:INIT]" {
		t.Errorf("a rename seen first in another thread's record: comm %q", th.Comm)
	}

	r = base
	r.Type, r.Comm, r.CapEff, r.CapPrm, r.LoginUID = event.TypeOpenat, "runc:[1:CHILD]", 0, 0, 0
	if th = apply(&r); th.LoginUID != 0 {
		t.Errorf("loginuid %d, want 0", th.LoginUID)
	}
}

// TestApplyResolvesPathSyscalls: the path syscalls other than open get
// absolute, clean paths from the directories the probe read at the event;
// a symlink's content stays as written.
func TestApplyResolvesPathSyscalls(t *testing.T) {
	tab := NewTable(Options{ProcRoot: t.TempDir()})
	cases := []struct {
		rec                probe.Record
		absPath, absTarget string
	}{
		{probe.Record{Type: event.TypeUnlinkat, Str0: "../x", BaseDir: "/tmp/d"}, "/tmp/x", ""},
		{probe.Record{Type: event.TypeMkdir, Str0: "/a//b/"}, "/a/b", ""},
		{probe.Record{Type: event.TypeFchmodat, Str0: "f", BaseDir: "/etc"}, "/etc/f", ""},
		{probe.Record{Type: event.TypeRenameat2, Str0: "a", Str1: "b", BaseDir: "/x", BaseDir1: "/y"}, "/x/a", "/y/b"},
		{probe.Record{Type: event.TypeRenameat, Str0: "/abs", Str1: "b", BaseDir1: "/y"}, "/abs", "/y/b"},
		{probe.Record{Type: event.TypeLinkat, Str0: "old", Str1: "new", BaseDir: "/x", BaseDir1: "/x"}, "/x/old", "/x/new"},
		{probe.Record{Type: event.TypeSymlinkat, Str0: "../content", Str1: "link", BaseDir1: "/x"}, "", "/x/link"},
	}
	for _, c := range cases {
		c.rec.PID, c.rec.TID = 4_100_002, 4_100_002
		var ev event.Event
		dirfd := c.rec.Fill(&ev)
		tab.Apply(&c.rec, &ev, dirfd)
		if ev.AbsPath != c.absPath || ev.AbsTarget != c.absTarget {
			t.Errorf("%v %q %q: abs %q %q, want %q %q", c.rec.Type, c.rec.Str0, c.rec.Str1, ev.AbsPath, ev.AbsTarget, c.absPath, c.absTarget)
		}
		if c.rec.Type == event.TypeSymlinkat && ev.Path != "../content" {
			t.Errorf("symlink content %q changed", ev.Path)
		}
	}
}
