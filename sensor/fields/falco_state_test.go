package fields

import (
	"net/netip"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// fieldCase is one extraction: the field on the event gives s (String
// fields) or n (others), or is missing.
type fieldCase struct {
	ev      *event.Event
	field   string
	s       string
	n       int64
	missing bool
}

func checkFields(t *testing.T, cases []fieldCase) {
	t.Helper()
	for _, tc := range cases {
		r := mustResolve(t, tc.field)
		v, ok := r.Extract(tc.ev)
		name := tc.ev.Type.String() + " " + tc.field
		switch {
		case tc.missing:
			if ok {
				t.Errorf("%s: got %+v, want missing", name, v)
			}
		case !ok:
			t.Errorf("%s: missing, want %q/%d", name, tc.s, tc.n)
		case r.Type == String:
			if v.S != tc.s {
				t.Errorf("%s: got %q, want %q", name, v.S, tc.s)
			}
		case v.N != tc.n:
			t.Errorf("%s: got %d, want %d", name, v.N, tc.n)
		}
		// The compiler's fast paths must agree with the Value.
		if r.Str != nil {
			if s, sok := r.Str(tc.ev); sok != ok || s != v.S {
				t.Errorf("%s: Str = %q,%v; Extract = %q,%v", name, s, sok, v.S, ok)
			}
		}
		if r.Num != nil {
			if n, nok := r.Num(tc.ev); nok != ok || n != v.N {
				t.Errorf("%s: Num = %d,%v; Extract = %d,%v", name, n, nok, v.N, ok)
			}
		}
	}
}

func TestIOByteCounts(t *testing.T) {
	th := &event.Thread{PID: 10, TID: 10, Comm: "curl"}
	file := event.FD{Num: 3, Type: event.FDFile, Name: "/tmp/x"}
	sock := event.FD{Num: 4, Type: event.FDIPv4, ClientIP: netip.MustParseAddr("10.0.0.2"), ServerIP: netip.MustParseAddr("10.0.0.1")}
	readFile := &event.Event{Type: event.TypeRead, Thread: th, Res: 4096, Data: make([]byte, 80), FD: file}
	writeFile := &event.Event{Type: event.TypeWrite, Thread: th, Res: 12, FD: file}
	recvNet := &event.Event{Type: event.TypeRecvfrom, Thread: th, Res: 900, FD: sock}
	sendNet := &event.Event{Type: event.TypeSendto, Thread: th, Res: 50, FD: sock}
	failed := &event.Event{Type: event.TypeRead, Thread: th, Res: -11, FD: file}
	open := &event.Event{Type: event.TypeOpenat, Thread: th, Res: 3, FD: file}
	checkFields(t, []fieldCase{
		{ev: readFile, field: "evt.buflen", n: 4096},
		{ev: readFile, field: "evt.buflen.in", n: 4096},
		{ev: readFile, field: "evt.buflen.out", missing: true},
		{ev: readFile, field: "evt.buflen.file", n: 4096},
		{ev: readFile, field: "evt.buflen.file.in", n: 4096},
		{ev: readFile, field: "evt.buflen.file.out", missing: true},
		{ev: readFile, field: "evt.buflen.net", missing: true},
		{ev: writeFile, field: "evt.buflen.out", n: 12},
		{ev: writeFile, field: "evt.buflen.file.out", n: 12},
		{ev: writeFile, field: "evt.buflen.in", missing: true},
		{ev: recvNet, field: "evt.buflen.net", n: 900},
		{ev: recvNet, field: "evt.buflen.net.in", n: 900},
		{ev: recvNet, field: "evt.buflen.net.out", missing: true},
		{ev: recvNet, field: "evt.buflen.file", missing: true},
		{ev: sendNet, field: "evt.buflen.net.out", n: 50},
		{ev: sendNet, field: "evt.buflen.out", n: 50},
		{ev: failed, field: "evt.buflen", missing: true},
		{ev: failed, field: "evt.buflen.in", missing: true},
		{ev: open, field: "evt.buflen", missing: true},
		{ev: open, field: "evt.count.procinfo", n: 0},
		{ev: open, field: "evt.count.threadinfo", n: 0},
	})
}

func TestTimeFields(t *testing.T) {
	th := &event.Thread{PID: 10, TID: 10, Comm: "curl"}
	ev := &event.Event{Type: event.TypeOpenat, Thread: th, TS: 5_250_000_000, FirstTS: 2_000_000_000}
	checkFields(t, []fieldCase{
		{ev: ev, field: "evt.reltime", n: 3_250_000_000},
		{ev: ev, field: "evt.reltime.s", n: 3},
		{ev: ev, field: "evt.reltime.ns", n: 250_000_000},
		{ev: &event.Event{Type: event.TypeOpenat, Thread: th, TS: 5}, field: "evt.reltime", missing: true},
		{ev: ev, field: "evt.latency", n: 0},
		{ev: ev, field: "evt.latency.s", n: 0},
		{ev: ev, field: "evt.latency.ns", n: 0},
		{ev: ev, field: "evt.latency.quantized", n: 0},
		{ev: ev, field: "evt.wait_latency", n: 0},
		{ev: ev, field: "evt.latency.human", s: "0ns"},
	})

	// evt.deltatime keeps, per use of the field, the previous event's
	// time: 0 for the first event, then the difference.
	for _, tc := range []struct {
		field string
		want  []int64
	}{
		{"evt.deltatime", []int64{0, 1_500_000_000, 2_000_000_001}},
		{"evt.deltatime.s", []int64{0, 1, 2}},
		{"evt.deltatime.ns", []int64{0, 500_000_000, 1}},
	} {
		r := mustResolve(t, tc.field)
		for i, ts := range []int64{10_000_000_000, 11_500_000_000, 13_500_000_001} {
			v, ok := r.Extract(&event.Event{Type: event.TypeRead, Thread: th, TS: ts})
			if !ok || v.N != tc.want[i] {
				t.Errorf("%s at event %d = %d,%v, want %d", tc.field, i, v.N, ok, tc.want[i])
			}
		}
	}
}

func TestProcessGroupAndNamespaceFields(t *testing.T) {
	initHost := &event.Thread{PID: 1, TID: 1, VPID: 1, Comm: "systemd", StartTS: 100}
	sshd := &event.Thread{PID: 700, TID: 700, VPID: 700, PGID: 700, Comm: "sshd", Exe: "sshd", ExePath: "/usr/sbin/sshd", Parent: initHost, StartTS: 200}
	bash := &event.Thread{PID: 900, TID: 900, VPID: 900, PGID: 900, Comm: "bash", Exe: "-bash", ExePath: "/usr/bin/bash", Parent: sshd}
	// "ls | wc": the pipeline's processes share the group the shell made,
	// led by ls.
	ls := &event.Thread{PID: 950, TID: 950, VPID: 950, PGID: 950, Comm: "ls", Exe: "ls", ExePath: "/usr/bin/ls", Parent: bash}
	wc := &event.Thread{PID: 951, TID: 953, VPID: 951, PGID: 950, Comm: "wc", Exe: "wc", ExePath: "/usr/bin/wc", Parent: bash, ExeInoCtime: 150}
	// A container: its init has vpid 1 and started at 5000.
	cinit := &event.Thread{PID: 3000, TID: 3000, VPID: 1, PGID: 3000, Comm: "sh", Parent: initHost, StartTS: 5000}
	dropped := &event.Thread{PID: 3100, TID: 3100, VPID: 7, PGID: 3000, Comm: "x", Parent: cinit, ExeInoCtime: 5600}
	orphan := &event.Thread{PID: 4000, TID: 4000, VPID: 4000, PGID: 3999, Comm: "y"}
	ev := func(th *event.Thread) *event.Event {
		return &event.Event{Type: event.TypeOpenat, Thread: th, FD: event.FD{Num: 7, Type: event.FDFile, Name: "/x"}}
	}
	checkFields(t, []fieldCase{
		{ev: ev(wc), field: "proc.pgid", n: 950},
		{ev: ev(wc), field: "proc.is_pgid_leader", n: 0},
		{ev: ev(ls), field: "proc.is_pgid_leader", n: 1},
		{ev: ev(wc), field: "proc.pgid.name", s: ""}, // the leader, ls, is not among wc's ancestors
		{ev: ev(ls), field: "proc.pgid.name", s: "ls"},
		{ev: ev(ls), field: "proc.pgid.exepath", s: "/usr/bin/ls"},
		{ev: ev(dropped), field: "proc.pgid.name", s: "sh"},
		{ev: ev(dropped), field: "proc.pgid.exe", s: ""},
		{ev: ev(orphan), field: "proc.pgid.name", s: ""},
		{ev: ev(&event.Thread{PID: 5}), field: "proc.pgid.name", missing: true},
		{ev: ev(wc), field: "proc.pidns_init_start_ts", n: 100},
		{ev: ev(dropped), field: "proc.pidns_init_start_ts", n: 5000},
		{ev: ev(orphan), field: "proc.pidns_init_start_ts", missing: true},
		{ev: ev(dropped), field: "proc.exe_ino.ctime_duration_pidns_start", n: 600},
		{ev: ev(wc), field: "proc.exe_ino.ctime_duration_pidns_start", n: 50},
		{ev: ev(ls), field: "proc.exe_ino.ctime_duration_pidns_start", missing: true},
		{ev: ev(wc), field: "thread.nametid", s: "wc953"},
		// Sessions: the leader's vpid is the sid; without it in the
		// ancestry, the oldest ancestor in the session; else empty.
		{ev: ev(&event.Thread{VPID: 3, SID: 2, Parent: &event.Thread{VPID: 2, SID: 2, Comm: "login"}}), field: "proc.sname", s: "login"},
		{ev: ev(&event.Thread{VPID: 3, SID: 9, Parent: &event.Thread{VPID: 2, SID: 9, Comm: "a", Parent: &event.Thread{VPID: 1, SID: 9, Comm: "b"}}}), field: "proc.sname", s: "b"},
		{ev: ev(&event.Thread{VPID: 3, SID: 9, Comm: "c"}), field: "proc.sname", s: ""},
		{ev: ev(wc), field: "fd.uid", s: "9537"},
		{ev: &event.Event{Type: event.TypeClone, Thread: wc, FD: event.FD{Num: -1}}, field: "fd.uid", missing: true},
	})
}

func TestAncestorEnvAndUserFields(t *testing.T) {
	init1 := &event.Thread{PID: 1, Comm: "systemd", Env: []string{"PATH=/usr/bin", "LANG=C"}}
	sshd := &event.Thread{PID: 700, Comm: "sshd", Env: []string{"PATH=/usr/sbin", "SSH=1"}, Parent: init1}
	bash := &event.Thread{PID: 900, Comm: "bash", Env: []string{"HOME=/home/alice"}, Parent: sshd,
		UID: 1000, User: "alice", HomeDir: "/home/alice", Shell: "/bin/bash"}
	rootNoDB := &event.Thread{PID: 5, Comm: "x", UID: 0}
	ghost := &event.Thread{PID: 6, Comm: "y", UID: 4242}
	ev := func(th *event.Thread) *event.Event { return &event.Event{Type: event.TypeExecve, Thread: th} }
	checkFields(t, []fieldCase{
		{ev: ev(bash), field: "proc.aenv", s: "HOME=/home/alice"},
		{ev: ev(bash), field: "proc.aenv[0]", s: "HOME=/home/alice"},
		{ev: ev(bash), field: "proc.aenv[1]", s: "PATH=/usr/sbin SSH=1"},
		{ev: ev(bash), field: "proc.aenv[2]", s: "PATH=/usr/bin LANG=C"},
		{ev: ev(bash), field: "proc.aenv[3]", missing: true},
		{ev: ev(bash), field: "proc.aenv[PATH]", s: "/usr/sbin"}, // the nearest ancestor
		{ev: ev(bash), field: "proc.aenv[LANG]", s: "C"},
		{ev: ev(bash), field: "proc.aenv[HOME]", s: ""}, // own environment not searched
		{ev: ev(bash), field: "user.homedir", s: "/home/alice"},
		{ev: ev(bash), field: "user.shell", s: "/bin/bash"},
		{ev: ev(rootNoDB), field: "user.homedir", s: "/root"},
		{ev: ev(rootNoDB), field: "user.shell", s: "<NA>"},
		{ev: ev(ghost), field: "user.homedir", s: "<NA>"},
		{ev: &event.Event{Type: event.TypeExecve}, field: "user.shell", missing: true},
	})
}

func TestResourceFields(t *testing.T) {
	main := &event.Thread{PID: 10, TID: 10, HasResources: true, VMSizeKB: 10000, VMRSSKB: 2000, VMSwapKB: 4,
		PFMajor: 7, PFMinor: 321, FDLimit: 1024, FDOpen: 3}
	worker := *main
	worker.TID = 11
	unread := &event.Thread{PID: 12, TID: 12}
	ev := func(th *event.Thread) *event.Event { return &event.Event{Type: event.TypeOpenat, Thread: th} }
	checkFields(t, []fieldCase{
		{ev: ev(main), field: "proc.vmsize", n: 10000},
		{ev: ev(main), field: "proc.vmrss", n: 2000},
		{ev: ev(main), field: "proc.vmswap", n: 4},
		{ev: ev(main), field: "thread.vmsize", n: 10000},
		{ev: ev(main), field: "thread.vmrss", n: 2000},
		{ev: ev(main), field: "thread.vmsize.b", n: 10000 * 1024},
		{ev: ev(main), field: "thread.vmrss.b", n: 2000 * 1024},
		{ev: ev(&worker), field: "thread.vmsize", n: 0},
		{ev: ev(&worker), field: "thread.vmrss.b", n: 0},
		{ev: ev(&worker), field: "proc.vmsize", n: 10000},
		{ev: ev(main), field: "thread.pfmajor", n: 7},
		{ev: ev(main), field: "thread.pfminor", n: 321},
		{ev: ev(main), field: "proc.fdlimit", n: 1024},
		{ev: ev(main), field: "proc.fdopencount", n: 3},
		{ev: ev(unread), field: "proc.vmsize", missing: true},
		{ev: ev(unread), field: "proc.fdlimit", missing: true},
		{ev: &event.Event{Type: event.TypeOpenat}, field: "thread.pfmajor", missing: true},
	})
}

func TestStdFDFields(t *testing.T) {
	shell := &event.Thread{PID: 10, TID: 10, Std: [3]event.StdFD{
		{Type: event.FDIPv4, Name: "10.0.0.2:40000->10.0.0.1:4444"},
		{Type: event.FDPipe, Name: "pipe:[123]"},
		{Type: event.FDFile, Name: "/dev/null"},
	}}
	unread := &event.Thread{PID: 11, TID: 11}
	ev := func(th *event.Thread) *event.Event { return &event.Event{Type: event.TypeExecve, Thread: th} }
	checkFields(t, []fieldCase{
		{ev: ev(shell), field: "proc.stdin.type", s: "ipv4"},
		{ev: ev(shell), field: "proc.stdin.name", s: "10.0.0.2:40000->10.0.0.1:4444"},
		{ev: ev(shell), field: "proc.stdout.type", s: "pipe"},
		{ev: ev(shell), field: "proc.stdout.name", s: "pipe:[123]"},
		{ev: ev(shell), field: "proc.stderr.type", s: "file"},
		{ev: ev(shell), field: "proc.stderr.name", s: "/dev/null"},
		{ev: ev(unread), field: "proc.stdin.type", missing: true},
		{ev: ev(unread), field: "proc.stderr.name", missing: true},
	})
}

func TestFDUsage(t *testing.T) {
	r := mustResolve(t, "proc.fdusage")
	if r.Type.String() != "DOUBLE" {
		t.Errorf("type %s", r.Type)
	}
	for _, tc := range []struct {
		th      *event.Thread
		want    float64
		missing bool
	}{
		{th: &event.Thread{HasResources: true, FDOpen: 3, FDLimit: 1024}, want: 300.0 / 1024},
		{th: &event.Thread{HasResources: true, FDOpen: 900, FDLimit: 1000}, want: 90},
		{th: &event.Thread{HasResources: true, FDOpen: 5, FDLimit: -1}, want: 0}, // unlimited
		{th: &event.Thread{HasResources: true, FDOpen: 20, FDLimit: 10}, want: 100},
		{th: &event.Thread{}, missing: true},
	} {
		v, ok := r.Extract(&event.Event{Type: event.TypeOpenat, Thread: tc.th})
		if ok == tc.missing || v.F != tc.want {
			t.Errorf("%+v: %v,%v, want %v (missing %v)", tc.th, v.F, ok, tc.want, tc.missing)
		}
	}
}
