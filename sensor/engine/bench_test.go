package engine

import (
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/saker-sec/saker/sensor/event"
)

// benchEvents is a realistic mix: mostly file opens, then process spawns,
// network calls and a few rarer syscalls, from host and container
// processes, including events that match rules.
func benchEvents() []*event.Event {
	ctr := &event.Container{ID: "3ad7b26ded6d", Name: "web", Image: "nginx:1.25", Repository: "docker.io/library/nginx", Tag: "1.25"}
	nginx := inContainer(proc(2051, "nginx", "/usr/sbin/nginx", []string{"-g", "daemon off;"}, shim), ctr)
	sh := inContainer(proc(2100, "sh", "/bin/sh", []string{"-c", "echo hi"}, nginx), ctr)
	sh.TTY = 34816
	sh.Prepare()
	python := proc(1400, "python3", "/usr/bin/python3", []string{"app.py"}, hostBash)
	cat := proc(1300, "cat", "/usr/bin/cat", []string{"/etc/shadow"}, hostBash)
	ls := proc(1310, "ls", "/usr/bin/ls", []string{"-la"}, hostBash)
	gdb := proc(1320, "gdb", "/usr/bin/gdb", []string{"-p", "1400"}, hostBash)

	conn := func(th *event.Thread, c *event.Container, t event.Type, port uint16) *event.Event {
		return &event.Event{Type: t, TS: baseTS, Thread: th, Container: c, FD: event.FD{Num: 4, Type: event.FDIPv4,
			Name: "10.0.0.2:40000->10.0.0.1:443", ClientIP: netip.MustParseAddr("10.0.0.2"), ServerIP: netip.MustParseAddr("10.0.0.1"),
			ClientPort: 40000, ServerPort: port, L4Proto: 6, Connected: true}}
	}
	evs := []*event.Event{
		openEv(nginx, ctr, "/usr/share/nginx/html/index.html", oRDONLY),
		openEv(nginx, ctr, "/var/log/nginx/access.log", oWRONLY|0x400),
		openEv(python, nil, "/home/app/data.db", oRDWR),
		openEv(python, nil, "/usr/lib/python3.12/os.py", oRDONLY),
		openEv(ls, nil, "/etc/ld.so.cache", oRDONLY),
		openEv(ls, nil, "/lib/x86_64-linux-gnu/libc.so.6", oRDONLY),
		openEv(cat, nil, "/etc/shadow", oRDONLY), // matches
		openEv(python, nil, "/tmp/out.json", oWRONLY|oCREAT|oTRUNC),
		execEv(ls, nil),
		execEv(python, nil),
		execEv(sh, ctr), // matches
		conn(python, nil, event.TypeConnect, 443),
		conn(nginx, ctr, event.TypeConnect, 8080),
		conn(python, nil, event.TypeSendto, 53),
		{Type: event.TypeSocket, TS: baseTS, Thread: python, Domain: 2, FD: event.FD{Num: 5, Type: event.FDIPv4}},
		{Type: event.TypeDup2, TS: baseTS, Res: 1, Thread: sh, Container: ctr, FD: event.FD{Num: 1, Type: event.FDFile, Name: "/dev/null"}},
		{Type: event.TypePtrace, TS: baseTS, Thread: gdb, Request: 16, PID: 1400, FD: event.FD{Num: -1}},
		{Type: event.TypeMkdir, TS: baseTS, Thread: python, Path: "/tmp/x", FD: event.FD{Num: -1}},
		{Type: event.TypeClone, TS: baseTS, Thread: python, FD: event.FD{Num: -1}},
	}
	return evs
}

// officialRules are the three official files loaded together.
var officialRules = []string{stableRules, "../rules/testdata/falco-incubating_rules.yaml", "../rules/testdata/falco-sandbox_rules.yaml"}

// BenchmarkEngineStableRules evaluates the full stable ruleset (first
// match, as Falco's default) over the event mix. Run with -cpu 1 for the
// per-core rate.
func BenchmarkEngineStableRules(b *testing.B) { benchEngine(b, stableRules) }

// BenchmarkEngineAllOfficialRules evaluates the stable, incubating and
// sandbox files loaded together (93 rules; those shipped disabled stay
// disabled, as in Falco).
func BenchmarkEngineAllOfficialRules(b *testing.B) { benchEngine(b, officialRules...) }

func benchEngine(b *testing.B, files ...string) {
	eng := New(loadRules(b, files...), Options{})
	evs := benchEvents()
	matched := 0
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if eng.Match(evs[i%len(evs)]) != nil {
			matched++
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// The wall-clock rate understates a core's throughput on a shared,
	// loaded machine; the rate per second of CPU time consumed does not.
	if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu, "events/cpu-s")
	}
	if b.N >= len(evs) && matched == 0 {
		b.Fatal("no event matched: the mix is not exercising the rules")
	}
}

func TestBenchMixMatches(t *testing.T) {
	eng := New(loadRules(t, stableRules), Options{Matching: MatchAll})
	var got []string
	for _, ev := range benchEvents() {
		for _, r := range eng.Match(ev) {
			got = append(got, r.Name)
		}
	}
	want := []string{"Read sensitive file untrusted", "Run shell untrusted", "PTRACE attached to process"}
	if len(got) != len(want) {
		t.Fatalf("matches %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("matches %q, want %q", got, want)
		}
	}
	// Zero allocations per evaluated event, with the stable file and with
	// all three official files.
	evs := benchEvents()
	for _, files := range [][]string{{stableRules}, officialRules} {
		first := New(loadRules(t, files...), Options{})
		allocs := testing.AllocsPerRun(20, func() {
			for _, ev := range evs {
				first.Match(ev)
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %.1f allocations per event mix, want 0", files, allocs)
		}
	}
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
