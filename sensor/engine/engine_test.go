package engine

import (
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/output"
	"github.com/saker-sec/saker/sensor/rules"
)

const stableRules = "../rules/testdata/falco_rules.yaml"

func loadRules(t testing.TB, paths ...string) *rules.Ruleset {
	t.Helper()
	rs, err := rules.LoadFiles(rules.Config{}, paths...)
	if err != nil {
		t.Fatalf("load %v: %v", paths, err)
	}
	return rs
}

// Open flags as the kernel defines them.
const (
	oRDONLY = 0x0
	oWRONLY = 0x1
	oRDWR   = 0x2
	oCREAT  = 0x40
	oTRUNC  = 0x200
)

var baseTS = time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC).UnixNano()

// proc builds a prepared process-table entry.
func proc(pid int64, comm, exe string, args []string, parent *event.Thread) *event.Thread {
	t := &event.Thread{
		TID: pid, PID: pid, VTID: pid, VPID: pid, Comm: comm, Exe: exe, ExePath: exe, Args: args,
		User: "root", Group: "root", LoginUID: -1, Cwd: "/", Parent: parent,
	}
	if parent != nil {
		t.PPID = parent.PID
	}
	t.Prepare()
	return t
}

func inContainer(t *event.Thread, c *event.Container) *event.Thread {
	t.ContainerID = c.ID
	return t
}

var (
	hostInit = proc(1, "systemd", "/usr/lib/systemd/systemd", nil, nil)
	hostSSHD = proc(800, "sshd", "/usr/sbin/sshd", []string{"-D"}, hostInit)
	hostBash = proc(1200, "bash", "/usr/bin/bash", nil, hostSSHD)

	nginxCtr = &event.Container{ID: "3ad7b26ded6d", FullID: "3ad7b26ded6d" + strings.Repeat("0", 52), Name: "web",
		Image: "docker.io/library/nginx:1.25", Repository: "docker.io/library/nginx", Tag: "1.25", Runtime: "docker"}
	shim = proc(2000, "containerd-shim", "/usr/bin/containerd-shim-runc-v2", []string{"-namespace", "moby"}, hostInit)
)

func execEv(th *event.Thread, c *event.Container) *event.Event {
	return &event.Event{Num: 1, Type: event.TypeExecve, TS: baseTS, Thread: th, Container: c, FD: event.FD{Num: -1}}
}

func openEv(th *event.Thread, c *event.Container, path string, flags uint32) *event.Event {
	return &event.Event{Num: 2, Type: event.TypeOpenat, TS: baseTS, Res: 3, Thread: th, Container: c, Flags: flags, Path: path,
		FD: event.FD{Num: 3, Type: event.FDFile, Name: path, Flags: flags}}
}

// scenario is a synthetic event sequence and the alerts it must raise.
type scenario struct {
	name   string
	events []*event.Event
	// want lists, per event, the matching rules (rule_matching: all) and
	// their text lines.
	want [][]string
}

func TestGoldenScenarios(t *testing.T) {
	rs := loadRules(t, stableRules, "testdata/scenario_rules.yaml")
	eng := New(rs, Options{Matching: MatchAll})
	formatters := map[string]*output.Formatter{}
	for _, r := range eng.Rules() {
		f, err := output.CompileWith(r.Output, output.Options{Location: time.UTC, Hostname: "node1"})
		if err != nil {
			t.Fatalf("rule %q output: %v", r.Name, err)
		}
		formatters[r.Name] = f
	}

	ctrShell := inContainer(proc(2100, "bash", "/bin/bash", nil, shim), nginxCtr)
	ctrShell.TTY = 34816
	ctrShell.Prepare()
	ctrCurl := inContainer(proc(2101, "curl", "/usr/bin/curl", []string{"http://example.com"}, proc(2050, "nginx", "/usr/sbin/nginx", nil, shim)), nginxCtr)
	ctrNginx := inContainer(proc(2051, "nginx", "/usr/sbin/nginx", []string{"-g", "daemon off;"}, shim), nginxCtr)
	hostCat := proc(1300, "cat", "/usr/bin/cat", []string{"/etc/shadow"}, hostBash)
	hostVi := proc(1301, "vi", "/usr/bin/vi", []string{"/etc/hosts"}, hostBash)
	hostTouch := proc(1302, "touch", "/usr/bin/touch", []string{"/dev/evil"}, hostBash)
	hostEvil := proc(1303, "evil", "/tmp/evil", nil, hostBash)
	hostDocker := proc(1304, "nsenter", "/usr/bin/nsenter", []string{"-t", "1"}, hostBash)
	hostApt := proc(1305, "apt-get", "/usr/bin/apt-get", []string{"install", "x"}, hostBash)

	procMountCtr := &event.Container{ID: "b1946ac92492", Name: "snoop", Image: "alpine:3.20", Repository: "docker.io/library/alpine", Tag: "3.20",
		Mounts: []event.Mount{{Source: "/proc", Dest: "/host/proc", Mode: "ro"}, {Source: "/var/lib/app", Dest: "/data", RW: true}}}
	privCtr := &event.Container{ID: "591e5a1bcd7c", Name: "priv", Image: "busybox:1.36", Repository: "docker.io/library/busybox", Tag: "1.36", Privileged: true}
	plainCtr := &event.Container{ID: "7d3f0c0f9a11", Name: "plain", Image: "busybox:1.36", Repository: "docker.io/library/busybox", Tag: "1.36"}
	ctrInit := func(c *event.Container) *event.Thread { return inContainer(proc(3000, "sh", "/bin/sh", nil, shim), c) }
	ctrEv := func(c *event.Container) *event.Event {
		return &event.Event{Num: 9, Type: event.TypeContainer, TS: baseTS, Thread: ctrInit(c), Container: c, FD: event.FD{Num: -1}}
	}
	setnsEv := func(th *event.Thread) *event.Event {
		return &event.Event{Num: 10, Type: event.TypeSetns, TS: baseTS, Thread: th, FD: event.FD{Num: 5, Type: event.FDFile, Name: "/proc/1/ns/net"}}
	}

	extra := " container_id=%s container_name=%s container_image_repository=%s container_image_tag=%s k8s_pod_name=<NA> k8s_ns_name=<NA>"
	hostSuffix := " container_id=host container_name=host container_image_repository= container_image_tag= k8s_pod_name=<NA> k8s_ns_name=<NA>"
	nginxSuffix := strings.Replace(strings.Replace(strings.Replace(strings.Replace(extra, "%s", nginxCtr.ID, 1), "%s", nginxCtr.Name, 1), "%s", nginxCtr.Repository, 1), "%s", nginxCtr.Tag, 1)

	shellExec := execEv(ctrShell, nginxCtr)
	shellExec.Flags = event.ExeLowerLayer
	scenarios := []scenario{
		{"shell in container with terminal", []*event.Event{shellExec}, [][]string{{
			"Terminal shell in container",
			"10:00:00.123456789: Notice A shell was spawned in a container with an attached terminal | evt_type=execve user=root user_uid=0 user_loginuid=-1 process=bash proc_exepath=/bin/bash parent=containerd-shim command=bash terminal=34816 exe_flags=EXE_LOWER_LAYER" + nginxSuffix,
			"Unauthorized process on nginx containers",
			"10:00:00.123456789: Warning Unauthorized process (bash) running in (3ad7b26ded6d)" + nginxSuffix,
		}}},
		{"non-nginx process in nginx container", []*event.Event{execEv(ctrNginx, nginxCtr), execEv(ctrCurl, nginxCtr)}, [][]string{nil, {
			"Unauthorized process on nginx containers",
			"10:00:00.123456789: Warning Unauthorized process (curl http://example.com) running in (3ad7b26ded6d)" + nginxSuffix,
		}}},
		{"write below /usr /bin /etc", []*event.Event{
			openEv(hostVi, nil, "/etc/hosts", oWRONLY|oTRUNC),
			openEv(hostVi, nil, "/usr/bin/ls", oRDWR),
			openEv(hostVi, nil, "/etc/hosts", oRDONLY),
			openEv(hostVi, nil, "/etcetera/x", oWRONLY),
			openEv(hostApt, nil, "/usr/bin/x", oWRONLY|oCREAT),
		}, [][]string{{
			"Write below binary dir or etc",
			"10:00:00.123456789: Error File below a known binary directory or /etc opened for writing (file=/etc/hosts pcmdline=bash command=vi /etc/hosts)" + hostSuffix,
		}, {
			"Write below binary dir or etc",
			"10:00:00.123456789: Error File below a known binary directory or /etc opened for writing (file=/usr/bin/ls pcmdline=bash command=vi /etc/hosts)" + hostSuffix,
		}, nil, nil, nil}},
		{"read /etc/shadow by untrusted program", []*event.Event{openEv(hostCat, nil, "/etc/shadow", oRDONLY), openEv(hostCat, nil, "/etc/passwd", oRDONLY)}, [][]string{{
			"Read sensitive file untrusted",
			"", // line checked by prefix below: the stable output is long
		}, nil}},
		{"container with sensitive mount", []*event.Event{ctrEv(procMountCtr), ctrEv(plainCtr)}, [][]string{{
			"Launch Sensitive Mount Container",
			"10:00:00.123456789: Informational Container with sensitive mount started (image=docker.io/library/alpine mounts=/proc:/host/proc:ro:false:,/var/lib/app:/data::true:) container_id=b1946ac92492 container_name=snoop container_image_repository=docker.io/library/alpine container_image_tag=3.20 k8s_pod_name=<NA> k8s_ns_name=<NA>",
		}, nil}},
		{"privileged container", []*event.Event{ctrEv(privCtr), ctrEv(plainCtr)}, [][]string{{
			"Launch Privileged Container",
			"10:00:00.123456789: Informational Privileged container started (image=docker.io/library/busybox:1.36) container_id=591e5a1bcd7c container_name=priv container_image_repository=docker.io/library/busybox container_image_tag=1.36 k8s_pod_name=<NA> k8s_ns_name=<NA>",
		}, nil}},
		{"file created below /dev", []*event.Event{openEv(hostTouch, nil, "/dev/evil", oWRONLY|oCREAT), openEv(hostTouch, nil, "/dev/null", oWRONLY|oCREAT), openEv(hostTouch, nil, "/dev/evil", oRDONLY)}, [][]string{{
			"Create files below dev",
			"10:00:00.123456789: Error File created below /dev by untrusted program (file=/dev/evil command=touch /dev/evil)" + hostSuffix,
		}, nil, nil}},
		{"setns by unexpected program", []*event.Event{setnsEv(hostEvil), setnsEv(hostDocker)}, [][]string{{
			"Change thread namespace",
			"10:00:00.123456789: Notice Namespace change (setns) by unexpected program (command=evil pid=1303)" + hostSuffix,
		}, nil}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for i, ev := range sc.events {
				var got []string
				for _, r := range eng.Match(ev) {
					got = append(got, r.Name, formatters[r.Name].Line(ev, r.Priority))
				}
				want := sc.want[i]
				if len(got) != len(want) {
					t.Errorf("event %d (%s): got %q, want %q", i, ev.Type, got, want)
					continue
				}
				for j := range got {
					if want[j] == "" {
						continue
					}
					if got[j] != want[j] {
						t.Errorf("event %d (%s):\n got %s\nwant %s", i, ev.Type, got[j], want[j])
					}
				}
			}
		})
	}
	// The stable rule's full line, checked separately for its key parts.
	ev := openEv(hostCat, nil, "/etc/shadow", oRDONLY)
	m := eng.Match(ev)
	if len(m) != 1 {
		t.Fatalf("shadow read: %d matches", len(m))
	}
	line := formatters[m[0].Name].Line(ev, m[0].Priority)
	for _, part := range []string{"10:00:00.123456789: Warning Sensitive file opened for reading by non-trusted program", "file=/etc/shadow", "process=cat", "command=cat /etc/shadow", "container_id=host"} {
		if !strings.Contains(line, part) {
			t.Errorf("line %q lacks %q", line, part)
		}
	}
	a := formatters[m[0].Name].Alert(ev, m[0].Name, m[0].Priority, m[0].Tags)
	if a.Rule != "Read sensitive file untrusted" || a.Priority != alert.PriorityWarning || a.OutputFields["fd.name"] != "/etc/shadow" {
		t.Errorf("alert %+v", a)
	}
}

func TestMatchFirstAndAll(t *testing.T) {
	l := rules.NewLoader(rules.Config{MinPriority: alert.PriorityNotice})
	err := l.Load("r.yaml", []byte(`
- rule: a
  desc: d
  condition: evt.type = openat and fd.name startswith /etc
  output: a %fd.name
  priority: WARNING
- rule: b
  desc: d
  condition: evt.type in (openat, execve) and proc.name = cat
  output: b
  priority: ERROR
- rule: disabled
  desc: d
  condition: evt.type = openat
  output: c
  priority: ERROR
  enabled: false
- rule: low
  desc: d
  condition: evt.type = openat
  output: c
  priority: INFO
- rule: conn
  desc: d
  condition: evt.type = connect and fd.sip = 10.0.0.1 and fd.sport = https
  output: c
  priority: ERROR
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	cat := proc(10, "cat", "/usr/bin/cat", nil, nil)
	ev := openEv(cat, nil, "/etc/passwd", oRDONLY)
	first := New(rs, Options{})
	if m := first.Match(ev); len(m) != 1 || m[0].Name != "a" {
		t.Errorf("first: %v", names(m))
	}
	all := New(rs, Options{Matching: MatchAll})
	if m := all.Match(ev); strings.Join(names(m), ",") != "a,b" {
		t.Errorf("all: %v", names(m))
	}
	var types []string
	for _, ty := range all.EventTypes() {
		types = append(types, ty.String())
	}
	if strings.Join(types, ",") != "execve,openat,connect" {
		t.Errorf("event types %v", types)
	}
	if len(all.Candidates(event.TypeOpenat)) != 2 {
		t.Errorf("openat candidates %v", names(all.Candidates(event.TypeOpenat)))
	}
	conn := &event.Event{Type: event.TypeConnect, Thread: cat, FD: event.FD{Num: 4, Type: event.FDIPv4,
		ClientIP: netip.MustParseAddr("10.0.0.2"), ServerIP: netip.MustParseAddr("10.0.0.1"), ClientPort: 40000, ServerPort: 443, L4Proto: 6}}
	if m := first.Match(conn); len(m) != 1 || m[0].Name != "conn" {
		t.Errorf("connect: %v", names(m))
	}
	if m := first.Match(&event.Event{Type: event.TypeMkdir, Thread: cat}); m != nil {
		t.Errorf("mkdir matched %v", names(m))
	}
	if _, err := ParseMatching("some"); err == nil {
		t.Error("bad rule_matching accepted")
	}
}

func names(rs []*rules.Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func TestStableEngineEventTypes(t *testing.T) {
	eng := New(loadRules(t, stableRules), Options{})
	var got []string
	for _, ty := range eng.EventTypes() {
		got = append(got, ty.String())
	}
	sort.Strings(got)
	want := "connect dup dup2 dup3 execve execveat finit_module init_module link linkat open openat openat2 ptrace sendmsg sendto socket symlink symlinkat"
	if strings.Join(got, " ") != want {
		t.Errorf("event types %v", got)
	}
	if len(eng.Rules()) != 25 {
		t.Errorf("%d rules", len(eng.Rules()))
	}
}

// TestSensitiveMountNeedsTheMount: "Launch Sensitive Mount Container"
// fires for a container that mounts /proc, not for every container (a
// mount lookup that found nothing made `not … in ("<NA>","N/A")` true).
func TestSensitiveMountNeedsTheMount(t *testing.T) {
	rs := loadRules(t, officialRules...)
	var rule *rules.Rule
	for _, r := range rs.Rules {
		if r.Name == "Launch Sensitive Mount Container" {
			rule = r
		}
	}
	if rule == nil {
		t.Fatal("rule not loaded")
	}
	start := func(mounts ...event.Mount) *event.Event {
		c := &event.Container{ID: "5b1e2c3d4e5f", Name: "app", Image: "app:1", Repository: "app", Tag: "1", Mounts: mounts}
		init := inContainer(proc(3000, "sleep", "/bin/sleep", []string{"60"}, shim), c)
		init.VPID, init.VTID = 1, 1
		return &event.Event{Num: 1, Type: event.TypeExecve, TS: baseTS, Thread: init, Container: c}
	}
	if rule.Filter(start(event.Mount{Source: "/work/bin/tool", Dest: "/bin/tool", Mode: "ro"})) {
		t.Error("fired for a container without a sensitive mount")
	}
	if !rule.Filter(start(event.Mount{Source: "/proc", Dest: "/host/proc", Mode: "ro"})) {
		t.Error("did not fire for a container mounting /proc")
	}
}
