package fields

import (
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// TestOfficialRulesFields resolves every field the official stable rules
// name, in conditions and outputs, as the compiler and formatter will.
func TestOfficialRulesFields(t *testing.T) {
	// The official stable rules, kept in the repository as test data.
	data, err := os.ReadFile("../rules/testdata/falco_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\b((?:evt|proc|thread|user|group|fd|container|k8s)\.[a-zA-Z0-9_.]*[a-zA-Z0-9_])(\[[^\]\s]+\])?`)
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			name, arg := m[1], m[2]
			if name == "user.log" || strings.HasPrefix(name, "k8s.io") || strings.Contains(line, "registry.k8s.io") && strings.HasPrefix(name, "k8s.") && !strings.HasPrefix(name, "k8s.ns") {
				continue
			}
			key := name + arg
			if seen[key] {
				continue
			}
			seen[key] = true
			var err error
			if arg != "" {
				_, err = Resolve(name, arg[1:len(arg)-1], true)
			} else {
				_, err = Resolve(name, "", false)
			}
			if err != nil {
				t.Errorf("%s: %v", key, err)
			}
		}
	}
	if len(seen) < 60 {
		t.Fatalf("only %d distinct fields found; the scan is broken", len(seen))
	}
}

func TestEveryFieldDescribed(t *testing.T) {
	for _, f := range All() {
		if f.Desc == "" || !strings.Contains(f.Name, ".") {
			t.Errorf("field %q: missing description or bad name", f.Name)
		}
	}
}

func mustResolve(t testing.TB, ref string) Resolved {
	t.Helper()
	name, arg, has := ref, "", false
	if i := strings.IndexByte(ref, '['); i > 0 && strings.HasSuffix(ref, "]") {
		name, arg, has = ref[:i], ref[i+1:len(ref)-1], true
	}
	r, err := Resolve(name, arg, has)
	if err != nil {
		t.Fatalf("resolve %s: %v", ref, err)
	}
	return r
}

// world builds a small process tree: systemd(1) -> sshd(100) -> bash(200)
// -> cat(300) in an nginx container.
func world() (*event.Thread, *event.Container) {
	initT := &event.Thread{PID: 1, TID: 1, Comm: "systemd", Exe: "/sbin/init", ExePath: "/usr/lib/systemd/systemd", StartTS: 1}
	initT.Prepare()
	sshd := &event.Thread{PID: 100, TID: 100, PPID: 1, Comm: "sshd", Exe: "/usr/sbin/sshd", ExePath: "/usr/sbin/sshd", Args: []string{"-D"}, Parent: initT, StartTS: 1_000_000_000}
	sshd.Prepare()
	bash := &event.Thread{PID: 200, TID: 200, PPID: 100, VPID: 7, VPGID: 7, SID: 7, Comm: "bash", Exe: "-bash", ExePath: "/usr/bin/bash", Parent: sshd, StartTS: 2_000_000_000, TTY: 34816}
	bash.Prepare()
	cat := &event.Thread{PID: 300, TID: 300, PPID: 200, VPID: 9, VPGID: 9, SID: 7, Comm: "cat", Exe: "cat", ExePath: "/usr/bin/cat",
		Args: []string{"/etc/shadow", "-n"}, Cwd: "/root/", Parent: bash, StartTS: 5_000_000_000, TTY: 34816,
		UID: 0, GID: 0, LoginUID: 1000, LoginUser: "alice", Env: []string{"HOME=/root", "TERM=xterm"},
		CapEffective: 1<<21 | 1<<1 | 1<<16, ExeUpperLayer: true, ExeIno: 42, ExeInoCtime: 4_000_000_000, ContainerID: "abcdef012345"}
	cat.Prepare()
	c := &event.Container{ID: "abcdef012345", FullID: "abcdef012345" + strings.Repeat("0", 52), Name: "web", Image: "nginx:1.25",
		Repository: "docker.io/library/nginx", Tag: "1.25", Privileged: true, StartTS: 3_000_000_000,
		Labels:  map[string]string{"app": "web", "io.kubernetes.sandbox.id": "0123456789abcdef"},
		Mounts:  []event.Mount{{Source: "/proc", Dest: "/host/proc", Mode: "ro", RW: false}, {Source: "/var/lib/x", Dest: "/data", RW: true}},
		PodName: "web-7d4", PodUID: "u-1", Namespace: "prod", PodLabels: map[string]string{"tier": "front"}}
	return cat, c
}

func TestExtractors(t *testing.T) {
	cat, ctr := world()
	openEv := &event.Event{Num: 7, Type: event.TypeOpenat, TS: 6_000_000_000, Res: 3, Thread: cat, Container: ctr,
		Flags: 0o1101, Mode: 0o644, Path: "/etc/shadow", DirFD: -100,
		FD: event.FD{Num: 3, Type: event.FDFile, Name: "/etc/shadow", NameRaw: "../etc/shadow"}}
	failed := &event.Event{Type: event.TypeOpenat, Res: -2, Thread: cat, Path: "/nope/x", FD: event.FD{Num: -1, Type: event.FDFile, Name: "/nope/x"}}
	hostEv := &event.Event{Type: event.TypeExecve, Thread: &event.Thread{Comm: "ls", UID: 1000, LoginUID: -1, Args: nil}, FD: event.FD{Num: -1}}
	// dup2(5, 1) of a connected socket, as the probe fills it: the event's
	// fd is the new one, described as the old.
	dup := &event.Event{Type: event.TypeDup2, Thread: cat, Res: 1, Args: []event.Arg{{Name: "oldfd", Value: "5"}, {Name: "newfd", Value: "1"}},
		FD: event.FD{Num: 1, Type: event.FDIPv4, Name: "10.0.0.2:40000->1.2.3.4:4444", ClientIP: netip.MustParseAddr("10.0.0.2"), ServerIP: netip.MustParseAddr("1.2.3.4"),
			ClientPort: 40000, ServerPort: 4444, L4Proto: 6, LocalIsClient: true, Connected: true}}
	conn := &event.Event{Type: event.TypeConnect, Res: 0, Thread: cat, Container: ctr,
		FD: event.FD{Num: 5, Type: event.FDIPv4, Name: "10.0.0.2:40000->1.2.3.4:443", ClientIP: netip.MustParseAddr("10.0.0.2"), ServerIP: netip.MustParseAddr("1.2.3.4"),
			ClientPort: 40000, ServerPort: 443, L4Proto: 6, LocalIsClient: true, Connected: true}}
	ptrace := &event.Event{Type: event.TypePtrace, Thread: cat, Request: 16, PID: 1}
	sock := &event.Event{Type: event.TypeSocket, Thread: cat, Domain: 17, Flags: 3, Res: 4}
	sym := &event.Event{Type: event.TypeSymlinkat, Thread: cat, Path: "/etc/shadow", Target: "/tmp/s"}
	exec := &event.Event{Type: event.TypeExecve, Thread: cat, Container: ctr}

	type want struct {
		s       string
		n       int64
		list    []string
		ip      string
		missing bool
	}
	tests := []struct {
		ev    *event.Event
		field string
		want  want
	}{
		{openEv, "proc.name", want{s: "cat"}},
		{openEv, "proc.exe", want{s: "cat"}},
		{openEv, "proc.exepath", want{s: "/usr/bin/cat"}},
		{openEv, "proc.cmdline", want{s: "cat /etc/shadow -n"}},
		{openEv, "proc.args", want{s: "/etc/shadow -n"}},
		{openEv, "proc.args[1]", want{s: "-n"}},
		{openEv, "proc.args[2]", want{missing: true}},
		{openEv, "proc.exeline", want{s: "cat /etc/shadow -n"}},
		{openEv, "proc.cwd", want{s: "/root/"}},
		{openEv, "proc.env", want{s: "HOME=/root TERM=xterm"}},
		{openEv, "proc.env[TERM]", want{s: "xterm"}},
		{openEv, "proc.env[TER]", want{missing: true}},
		{openEv, "proc.pid", want{n: 300}},
		{openEv, "proc.vpid", want{n: 9}},
		{openEv, "proc.ppid", want{n: 200}},
		{openEv, "proc.tty", want{n: 34816}},
		{openEv, "proc.pname", want{s: "bash"}},
		{openEv, "proc.pexe", want{s: "-bash"}},
		{openEv, "proc.pexepath", want{s: "/usr/bin/bash"}},
		{openEv, "proc.pcmdline", want{s: "bash"}},
		{openEv, "proc.aname[0]", want{s: "cat"}},
		{openEv, "proc.aname[1]", want{s: "bash"}},
		{openEv, "proc.aname[2]", want{s: "sshd"}},
		{openEv, "proc.aname[3]", want{s: "systemd"}},
		{openEv, "proc.aname[4]", want{missing: true}},
		{openEv, "proc.aname", want{list: []string{"bash", "sshd", "systemd"}}},
		{openEv, "proc.apid[2]", want{n: 100}},
		{openEv, "proc.apid", want{list: []string{"200", "100", "1"}}},
		{openEv, "proc.aexepath[2]", want{s: "/usr/sbin/sshd"}},
		{openEv, "proc.acmdline[2]", want{s: "sshd -D"}},
		{openEv, "proc.aexe", want{list: []string{"-bash", "/usr/sbin/sshd", "/sbin/init"}}},
		{openEv, "proc.sname", want{s: "bash"}},
		{openEv, "proc.vpgid.name", want{s: "cat"}}, // its own group's leader
		{openEv, "proc.sid.exepath", want{s: "/usr/bin/bash"}},
		{openEv, "proc.is_vpgid_leader", want{n: 1}},
		{openEv, "proc.is_sid_leader", want{n: 0}},
		{openEv, "proc.duration", want{n: 1_000_000_000}},
		{openEv, "proc.ppid.duration", want{n: 4_000_000_000}},
		{openEv, "proc.is_exe_upper_layer", want{n: 1}},
		{openEv, "proc.is_exe_from_memfd", want{n: 0}},
		{openEv, "proc.exe_ino", want{n: 42}},
		{openEv, "proc.exe_ino.ctime", want{n: 4_000_000_000}},
		{openEv, "proc.exe_ino.ctime_duration_proc_start", want{n: 1_000_000_000}},
		{openEv, "thread.cap_effective", want{s: "CAP_DAC_OVERRIDE CAP_SYS_MODULE CAP_SYS_ADMIN"}},
		{openEv, "user.name", want{s: "root"}},
		{openEv, "user.uid", want{n: 0}},
		{openEv, "user.loginuid", want{n: 1000}},
		{openEv, "user.loginname", want{s: "alice"}},
		{openEv, "group.name", want{s: "root"}},
		{hostEv, "user.name", want{missing: true}},
		{hostEv, "user.loginuid", want{n: -1}},
		{hostEv, "user.loginname", want{missing: true}},
		{hostEv, "proc.cmdline", want{s: "ls"}},
		{hostEv, "proc.args", want{s: ""}},
		{hostEv, "proc.pname", want{missing: true}},
		{hostEv, "container.id", want{s: "host"}},
		{hostEv, "container.name", want{s: "host"}},
		{hostEv, "container.image.repository", want{s: ""}},
		{hostEv, "container.privileged", want{n: 0}},
		{openEv, "container.labels", want{s: "app:web"}},
		{&event.Event{Type: event.TypeOpen, Thread: cat, Container: &event.Container{ID: "x", Labels: map[string]string{"io.kubernetes.pod.name": "p1", "io.kubernetes.pod.namespace": "ns1"}}}, "k8s.pod.name", want{s: "p1"}},
		{&event.Event{Type: event.TypeOpen, Thread: cat, Container: &event.Container{ID: "x", Labels: map[string]string{"io.kubernetes.pod.name": "p1", "io.kubernetes.pod.namespace": "ns1"}}}, "k8s.ns.name", want{s: "ns1"}},
		{&event.Event{Type: event.TypeOpen, Thread: cat}, "container.id", want{s: "abcdef012345"}},
		{&event.Event{Type: event.TypeOpen, Thread: cat}, "container.name", want{missing: true}},
		{&event.Event{Type: event.TypeOpen, Thread: cat}, "container.privileged", want{missing: true}},
		{hostEv, "k8s.ns.name", want{missing: true}},
		{hostEv, "fd.name", want{missing: true}},
		{hostEv, "fd.num", want{missing: true}},
		{dup, "fd.num", want{n: 1}},
		{dup, "fd.type", want{s: "ipv4"}},
		{dup, "fd.rport", want{n: 4444}},
		{dup, "evt.arg.oldfd", want{s: "5"}},
		{dup, "evt.arg.newfd", want{s: "1"}},
		{dup, "evt.args", want{s: "res=1 oldfd=5 newfd=1"}},
		{dup, "evt.rawres", want{n: 1}},
		{openEv, "evt.type", want{s: "openat"}},
		{openEv, "evt.num", want{n: 7}},
		{openEv, "evt.time", want{n: 6_000_000_000}},
		{openEv, "evt.dir", want{s: "<"}},
		{openEv, "evt.res", want{s: "SUCCESS"}},
		{openEv, "evt.rawres", want{n: 3}},
		{failed, "evt.res", want{s: "ENOENT"}},
		{failed, "evt.rawres", want{n: -2}},
		{failed, "evt.failed", want{n: 1}},
		{failed, "fd.num", want{n: -1}},
		{failed, "fd.typechar", want{s: "f"}},
		{failed, "fd.name", want{s: "/nope/x"}},
		{openEv, "evt.arg.flags", want{s: "O_TRUNC|O_CREAT|O_WRONLY"}},
		{openEv, "evt.arg.name", want{s: "/etc/shadow"}},
		{openEv, "evt.arg.mode", want{s: "0644"}},
		{openEv, "evt.arg.fd", want{s: "3"}},
		{openEv, "evt.arg[3]", want{s: "O_TRUNC|O_CREAT|O_WRONLY"}},
		{openEv, "evt.arg[9]", want{missing: true}},
		{openEv, "evt.arg.nope", want{missing: true}},
		{openEv, "evt.rawarg.flags", want{n: 0o1101}},
		{openEv, "evt.is_open_write", want{n: 1}},
		{openEv, "evt.is_open_read", want{n: 0}},
		{openEv, "evt.is_open_create", want{n: 1}},
		{openEv, "evt.is_open_exec", want{n: 0}},
		{exec, "evt.is_open_read", want{n: 0}},
		{exec, "evt.arg.flags", want{s: "EXE_UPPER_LAYER"}},
		{openEv, "evt.args", want{s: "fd=3(<f>/etc/shadow) dirfd=-100(AT_FDCWD) name=/etc/shadow flags=577(O_TRUNC|O_CREAT|O_WRONLY) mode=0644"}},
		{openEv, "evt.category", want{s: "file"}},
		{ptrace, "evt.arg.request", want{s: "PTRACE_ATTACH"}},
		{sock, "evt.arg.domain", want{s: "AF_PACKET"}},
		{sock, "evt.arg.type", want{s: "SOCK_RAW"}},
		{sym, "evt.arg.target", want{s: "/etc/shadow"}},
		{sym, "evt.arg.linkpath", want{s: "/tmp/s"}},
		{openEv, "fd.name", want{s: "/etc/shadow"}},
		{openEv, "fd.nameraw", want{s: "../etc/shadow"}},
		{openEv, "fd.directory", want{s: "/etc"}},
		{openEv, "fd.filename", want{s: "shadow"}},
		{openEv, "fd.typechar", want{s: "f"}},
		{openEv, "fd.type", want{s: "file"}},
		{openEv, "fd.num", want{n: 3}},
		{openEv, "fd.types[3]", want{s: "file"}},
		{openEv, "fd.types[0]", want{missing: true}},
		{openEv, "fd.sip", want{missing: true}},
		{openEv, "fd.l4proto", want{missing: true}},
		{conn, "fd.sip", want{ip: "1.2.3.4"}},
		{conn, "fd.cip", want{ip: "10.0.0.2"}},
		{conn, "fd.lip", want{ip: "10.0.0.2"}},
		{conn, "fd.rip", want{ip: "1.2.3.4"}},
		{conn, "fd.snet", want{ip: "1.2.3.4"}},
		{conn, "fd.sport", want{n: 443}},
		{conn, "fd.cport", want{n: 40000}},
		{conn, "fd.lport", want{n: 40000}},
		{conn, "fd.rport", want{n: 443}},
		{conn, "fd.l4proto", want{s: "tcp"}},
		{conn, "fd.typechar", want{s: "4"}},
		{conn, "fd.type", want{s: "ipv4"}},
		{conn, "fd.ip", want{ip: "10.0.0.2"}},
		{conn, "fd.port", want{n: 40000}},
		{conn, "fd.connected", want{n: 1}},
		{conn, "fd.name_changed", want{n: 0}},
		{conn, "fd.directory", want{missing: true}},
		{conn, "fd.sip.name", want{missing: true}},
		{openEv, "container.id", want{s: "abcdef012345"}},
		{openEv, "container.name", want{s: "web"}},
		{openEv, "container.image", want{s: "nginx:1.25"}},
		{openEv, "container.image.repository", want{s: "docker.io/library/nginx"}},
		{openEv, "container.image.tag", want{s: "1.25"}},
		{openEv, "container.privileged", want{n: 1}},
		{openEv, "container.start_ts", want{n: 3_000_000_000}},
		{openEv, "container.label[app]", want{s: "web"}},
		{openEv, "container.label[nope]", want{missing: true}},
		{openEv, "container.mount.dest[/proc*]", want{s: "/host/proc"}},
		{openEv, "container.mount.dest[/var/lib/*]", want{s: "/data"}},
		{openEv, "container.mount.dest[/mnt*]", want{s: "N/A"}},
		{openEv, "container.mount.dest[1]", want{s: "/data"}},
		{openEv, "container.mount.source[/data]", want{s: "/var/lib/x"}},
		{openEv, "container.mounts", want{s: "/proc:/host/proc:ro:false:,/var/lib/x:/data::true:"}},
		{openEv, "k8s.ns.name", want{s: "prod"}},
		{openEv, "k8s.pod.name", want{s: "web-7d4"}},
		{openEv, "k8s.pod.uid", want{s: "u-1"}},
		{openEv, "k8s.pod.label[tier]", want{s: "front"}},
		{openEv, "k8s.pod.sandbox_id", want{s: "0123456789ab"}},
		{&event.Event{Type: event.TypeOpen, Thread: cat, FD: event.FD{Type: event.FDFile, Name: "/x"}}, "fd.directory", want{s: "/"}},
		// The chmod family renders mode as libs' chmod_mode names.
		{&event.Event{Type: event.TypeFchmodat, Thread: cat, Mode: 0o4600, Path: "/tmp/x"}, "evt.arg.mode", want{s: "S_IWUSR|S_IRUSR|S_ISUID"}},
		{&event.Event{Type: event.TypeChmod, Thread: cat, Mode: 0o755, Path: "/tmp/x"}, "evt.arg.mode", want{s: "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR"}},
		{openEv, "evt.arg.mode", want{s: "0644"}},
		// Fields added for Falco parity (falco_more.go).
		{openEv, "syscall.type", want{s: "openat"}},
		{&event.Event{Type: event.TypeProcExit, Thread: cat}, "syscall.type", want{missing: true}},
		{openEv, "evt.type.is.openat", want{n: 1}},
		{openEv, "evt.type.is[open]", want{n: 0}},
		{openEv, "evt.count", want{n: 1}},
		{failed, "evt.count.error", want{n: 1}},
		{failed, "evt.count.error.file", want{n: 1}},
		{failed, "evt.count.error.net", want{n: 0}},
		{openEv, "evt.count.error", want{n: 0}},
		{conn, "fd.sockfamily", want{s: "ip"}},
		{openEv, "fd.sockfamily", want{missing: true}},
		{&event.Event{Type: event.TypeSendto, Thread: cat, Data: []byte("hi"), FD: event.FD{Num: 3, Type: event.FDUnix, Name: "/dev/log"}}, "evt.is_syslog", want{n: 1}},
		{&event.Event{Type: event.TypeSendto, Thread: cat, Data: []byte("hi"), FD: event.FD{Num: 3, Type: event.FDUnix, Name: "/dev/log"}}, "evt.io_dir", want{s: "w"}},
		{&event.Event{Type: event.TypeSendto, Thread: cat, Data: []byte("hi"), FD: event.FD{Num: 3, Type: event.FDUnix, Name: "/dev/log"}}, "fd.sockfamily", want{s: "unix"}},
		// evt.buflen is the bytes transferred (the result), not the
		// captured head: it used to report len(Data), 2 here.
		{&event.Event{Type: event.TypeSendto, Thread: cat, Res: 1500, Data: []byte("hi"), FD: event.FD{Num: 3, Type: event.FDUnix, Name: "/dev/log"}}, "evt.buflen", want{n: 1500}},
		{openEv, "evt.buffer", want{missing: true}},
		// Flags-type and enumerated arguments render with libs' names.
		{&event.Event{Type: event.TypeMmap, Thread: cat, Mode: 0x7, Flags: 0x22}, "evt.arg.prot", want{s: "PROT_READ|PROT_WRITE|PROT_EXEC"}},
		{&event.Event{Type: event.TypeMmap, Thread: cat, Mode: 0x7, Flags: 0x22}, "evt.arg.flags", want{s: "MAP_PRIVATE|MAP_ANONYMOUS"}},
		{&event.Event{Type: event.TypeMmap, Thread: cat, Mode: 0x7, Flags: 0x22}, "evt.rawarg.prot", want{n: 7}},
		{&event.Event{Type: event.TypeMprotect, Thread: cat}, "evt.arg.prot", want{s: "PROT_NONE"}},
		{&event.Event{Type: event.TypeKill, Thread: cat, Request: 9}, "evt.arg.sig", want{s: "SIGKILL"}},
		{&event.Event{Type: event.TypeKill, Thread: cat, Request: 64}, "evt.arg.sig", want{s: "64"}},
		{&event.Event{Type: event.TypeBpf, Thread: cat, Request: 5}, "evt.arg.cmd", want{s: "BPF_PROG_LOAD"}},
		{&event.Event{Type: event.TypePrctl, Thread: cat, Request: 15}, "evt.arg.option", want{s: "PR_SET_NAME"}},
		{&event.Event{Type: event.TypeUnlinkat, Thread: cat, Flags: 0x200, DirFD: 5}, "evt.arg.flags", want{s: "AT_REMOVEDIR"}},
		{&event.Event{Type: event.TypeUnlinkat, Thread: cat, Flags: 0x200, DirFD: 5}, "evt.arg.dirfd", want{s: "5"}},
		{&event.Event{Type: event.TypeRenameat2, Thread: cat, Flags: 1, DirFD: -100, NewDirFD: 4}, "evt.arg.flags", want{s: "RENAME_NOREPLACE"}},
		{&event.Event{Type: event.TypeRenameat2, Thread: cat, Flags: 1, DirFD: -100, NewDirFD: 4}, "evt.arg.newdirfd", want{s: "4"}},
		{&event.Event{Type: event.TypeRenameat2, Thread: cat, Flags: 1, DirFD: -100, NewDirFD: 4}, "evt.arg.olddirfd", want{s: "-100(AT_FDCWD)"}},
		{&event.Event{Type: event.TypeOpenat2, Thread: cat, Request: 0x18}, "evt.arg.resolve", want{s: "RESOLVE_BENEATH|RESOLVE_IN_ROOT"}},
		{&event.Event{Type: event.TypeRead, Thread: cat, Data: []byte("\xca\xfe\x01ok\n")}, "evt.arg.data", want{s: "...ok."}},
		{&event.Event{Type: event.TypeWrite, Thread: cat, Data: []byte("x")}, "evt.is_io_write", want{n: 1}},
		{&event.Event{Type: event.TypeRead, Thread: cat, Data: []byte("x")}, "evt.io_dir", want{s: "r"}},
		{&event.Event{Type: event.TypeRecvfrom, Thread: cat}, "evt.is_io_read", want{n: 1}},
		{openEv, "evt.is_io", want{n: 0}},
		{openEv, "evt.io_dir", want{missing: true}},
		{openEv, "proc.loginshellid", want{n: 200}},
		{hostEv, "proc.loginshellid", want{missing: true}},
		{openEv, "proc.ppid.ts", want{n: 2_000_000_000}},
		{openEv, "proc.aargs[2]", want{s: "-D"}},
		{openEv, "fd.containername", want{s: "abcdef012345:/etc/shadow"}},
		{openEv, "fd.containerdirectory", want{s: "abcdef012345:/etc"}},
		{openEv, "fs.path.name", want{s: "/etc/shadow"}},
		{openEv, "fs.path.nameraw", want{s: "../etc/shadow"}},
		{failed, "fs.path.name", want{missing: true}},
		{sym, "fs.path.source", want{s: "/tmp/s"}},
		{sym, "fs.path.target", want{s: "/etc/shadow"}},
		{sym, "evt.abspath.dst", want{s: "/etc/shadow"}},
		{&event.Event{Type: event.TypeRenameat2, Thread: cat, Path: "/a", Target: "/b"}, "fs.path.target", want{s: "/b"}},
		{&event.Event{Type: event.TypeMkdirat, Thread: cat, Path: "/tmp/d"}, "evt.abspath", want{s: "/tmp/d"}},
		{&event.Event{Type: event.TypeMkdirat, Thread: cat, Path: "/tmp/d"}, "fs.path.source", want{missing: true}},
		{&event.Event{Type: event.TypeContainer, Container: ctr}, "evt.is_async", want{n: 1}},
		{&event.Event{Type: event.TypeContainer, Container: ctr}, "evt.asynctype", want{s: "container"}},
		{openEv, "evt.pluginname", want{missing: true}},
		{&event.Event{Type: event.TypeOpen, Thread: &event.Thread{CgroupPath: "/system.slice/x.service"}}, "thread.cgroup.cpu", want{s: "/system.slice/x.service"}},
		{&event.Event{Type: event.TypeOpen, Thread: cat, FD: event.FD{Type: event.FDFile, Name: "/x"}}, "fd.filename", want{s: "x"}},
	}
	for _, tc := range tests {
		r := mustResolve(t, tc.field)
		v, ok := r.Extract(tc.ev)
		name := tc.ev.Type.String() + " " + tc.field
		if tc.want.missing {
			if ok {
				t.Errorf("%s: got %+v, want missing", name, v)
			}
			continue
		}
		if !ok {
			t.Errorf("%s: missing, want %+v", name, tc.want)
			continue
		}
		switch {
		case tc.want.list != nil:
			if !r.Multi || strings.Join(v.List, ",") != strings.Join(tc.want.list, ",") {
				t.Errorf("%s: got list %q (multi %v), want %q", name, v.List, r.Multi, tc.want.list)
			}
		case tc.want.ip != "":
			if v.IP.String() != tc.want.ip {
				t.Errorf("%s: got ip %v, want %s", name, v.IP, tc.want.ip)
			}
		case r.Type == String:
			if v.S != tc.want.s {
				t.Errorf("%s: got %q, want %q", name, v.S, tc.want.s)
			}
		default:
			if v.N != tc.want.n {
				t.Errorf("%s: got %d, want %d", name, v.N, tc.want.n)
			}
		}
	}
}

func TestEitherEnd(t *testing.T) {
	conn := &event.Event{Type: event.TypeConnect, FD: event.FD{Type: event.FDIPv6, ClientIP: netip.MustParseAddr("::1"),
		ServerIP: netip.MustParseAddr("fe80::1"), ClientPort: 5000, ServerPort: 22}}
	for _, f := range []string{"fd.ip", "fd.net", "fd.port"} {
		r := mustResolve(t, f)
		v, ok := r.Extract(conn)
		if !ok || !v.Either || r.Multi || v.IP.String() != "::1" || v.IP2.String() != "fe80::1" || v.N != 5000 || v.N2 != 22 {
			t.Errorf("%s: %+v ok=%v multi=%v", f, v, ok, r.Multi)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	for _, tc := range []struct {
		name, arg string
		has       bool
	}{
		{"proc.nope", "", false},
		{"proc.name", "1", true},
		{"proc.aname", "x", true},
		{"proc.aname", "-1", true},
		{"container.label", "", false},
		{"evt.arg", "", false},
		{"fd.types", "a", true},
	} {
		if _, err := Resolve(tc.name, tc.arg, tc.has); err == nil {
			t.Errorf("Resolve(%q,%q,%v): want error", tc.name, tc.arg, tc.has)
		}
	}
	r, err := Resolve("evt.arg.flags", "", false)
	if err != nil || r.Field.Name != "evt.arg" || r.Arg != "flags" {
		t.Fatalf("dotted argument: %+v %v", r, err)
	}
	r, err = Resolve("evt.rawarg.name", "", false)
	if err != nil || r.Type != String {
		t.Fatalf("rawarg.name type: %v %v", r.Type, err)
	}
}

func TestRenderings(t *testing.T) {
	for f, want := range map[uint32]string{
		0:                      "O_RDONLY",
		0o2000000:              "O_RDONLY|O_CLOEXEC",
		2 | 0o100:              "O_CREAT|O_RDWR",
		1 | 0o100 | 0o1000:     "O_TRUNC|O_CREAT|O_WRONLY",
		0o200000 | 0o2000000:   "O_DIRECTORY|O_RDONLY|O_CLOEXEC",
		1 | 0o2000 | 0o2000000: "O_APPEND|O_WRONLY|O_CLOEXEC",
	} {
		if got := renderOpenFlags(f); got != want {
			t.Errorf("open flags %#o: %q, want %q", f, got, want)
		}
	}
	for res, want := range map[int64]string{0: "SUCCESS", 5: "SUCCESS", -1: "EPERM", -13: "EACCES", -115: "EINPROGRESS", -999: "E999"} {
		if got := errnoName(res); got != want {
			t.Errorf("errno %d: %q, want %q", res, got, want)
		}
	}
	if got := renderBits(cloneFlagNames, 0x20000000|0x00020000); got != "CLONE_NEWNS|CLONE_NEWPID" {
		t.Errorf("clone flags: %q", got)
	}
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"/proc*", "/proc", true}, {"/proc*", "/proc/sys/x", true}, {"/pro?", "/proc", true},
		{"/proc*", "/prod", false}, {"*docker.sock", "/var/run/docker.sock", true}, {"/[a-c]x", "/bx", true}, {"/[!a-c]x", "/bx", false},
	} {
		if got := globMatch(tc.p, tc.s); got != tc.want {
			t.Errorf("glob %q %q = %v", tc.p, tc.s, got)
		}
	}
}

// TestCommonPathAllocs checks that the fields rules evaluate on every event
// extract without allocating once threads are prepared.
func TestCommonPathAllocs(t *testing.T) {
	cat, ctr := world()
	ev := &event.Event{Type: event.TypeOpenat, Res: 3, Thread: cat, Container: ctr, Flags: 0o1101, Path: "/etc/shadow",
		FD: event.FD{Num: 3, Type: event.FDFile, Name: "/etc/shadow"}}
	var rs []Resolved
	for _, f := range []string{"proc.name", "proc.cmdline", "proc.args", "proc.pname", "proc.pcmdline", "proc.aname[2]", "proc.aname",
		"proc.exepath", "proc.tty", "user.name", "user.loginuid", "fd.name", "fd.directory", "fd.filename", "fd.typechar", "fd.num",
		"evt.type", "evt.res", "evt.rawres", "evt.is_open_write", "evt.arg.flags", "container.id", "container.image.repository",
		"thread.cap_effective", "k8s.ns.name", "container.mount.dest[/proc*]", "fd.ip", "fd.net", "fd.port", "fd.sip", "fd.lport"} {
		rs = append(rs, mustResolve(t, f))
	}
	for _, r := range rs { // warm the flag caches
		r.Extract(ev)
	}
	conn := &event.Event{Type: event.TypeConnect, Thread: cat, Container: ctr, FD: event.FD{Num: 5, Type: event.FDIPv4,
		ClientIP: netip.MustParseAddr("10.0.0.2"), ServerIP: netip.MustParseAddr("1.2.3.4"), ClientPort: 1, ServerPort: 2, L4Proto: 6}}
	allocs := testing.AllocsPerRun(100, func() {
		for _, r := range rs {
			r.Extract(ev)
			r.Extract(conn)
		}
	})
	if allocs != 0 {
		t.Fatalf("common-path extraction allocates %.1f times per event", allocs)
	}
}

func BenchmarkExtractCommon(b *testing.B) {
	cat, ctr := world()
	ev := &event.Event{Type: event.TypeOpenat, Res: 3, Thread: cat, Container: ctr, Flags: 0o1101, Path: "/etc/shadow",
		FD: event.FD{Num: 3, Type: event.FDFile, Name: "/etc/shadow"}}
	var rs []Resolved
	for _, f := range []string{"proc.name", "proc.cmdline", "proc.aname[2]", "fd.directory", "evt.arg.flags", "container.id", "user.name"} {
		rs = append(rs, mustResolve(b, f))
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, r := range rs {
			r.Extract(ev)
		}
	}
}
