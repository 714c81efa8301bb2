package prefilter

import (
	"fmt"
	"math/rand/v2"
	"path"
	"strings"
	"testing"

	"github.com/saker-sec/saker/sensor/engine"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/probe"
	"github.com/saker-sec/saker/sensor/rules"
)

const (
	rdonly = 0
	wronly = 1
	rdwr   = 2
)

func load(t testing.TB, yaml string) *engine.Engine {
	t.Helper()
	l := rules.NewLoader(rules.Config{})
	if err := l.Load("test.yaml", []byte(yaml)); err != nil {
		t.Fatal(err)
	}
	rs, err := l.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(rs, engine.Options{})
}

func rule(cond string) string {
	return fmt.Sprintf("- rule: r\n  desc: d\n  condition: %s\n  output: o\n  priority: WARNING\n", cond)
}

type open struct {
	path  string
	flags uint32
	res   int64
	comm  string
}

// TestOpenFilter checks, condition by condition, which opens the derived
// filter sends and which it leaves in the kernel.
func TestOpenFilter(t *testing.T) {
	const macros = `- macro: open_read
  condition: (evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)
- macro: open_write
  condition: (evt.type in (open,openat,openat2) and evt.is_open_write=true and fd.typechar='f' and fd.num>=0)
`
	cases := []struct {
		cond       string
		sent, kept []open // kept: left in the kernel
	}{
		{
			cond: "open_read and fd.name startswith /etc/ and not proc.name in (cat)",
			sent: []open{{"/etc/shadow", rdonly, 3, "x"}, {"/etc/shadow", rdwr, 3, "cat"}, {"/tmp/../etc/shadow", rdonly, 3, "x"}, {"shadow", rdonly, 3, "x"}},
			kept: []open{{"/tmp/x", rdonly, 3, "x"}, {"/etc/shadow", wronly, 3, "x"}, {"/etc/shadow", rdonly, -2, "x"}},
		},
		{
			cond: "open_write and (fd.directory in (/usr/bin, /bin) or fd.name pmatch (/opt/x))",
			sent: []open{{"/usr/bin/ls", wronly, 3, "x"}, {"/opt/x/y", rdwr, 3, "x"}},
			kept: []open{{"/usr/bin/ls", rdonly, 3, "x"}, {"/usr/lib/x", wronly, 3, "x"}, {"/usr/bin/ls", wronly, -13, "x"}},
		},
		{
			cond: "open_read and proc.name=sshd and fd.name contains liblzma",
			sent: []open{{"/lib/liblzma.so", rdonly, 3, "sshd"}, {"/anything", rdonly, 3, "sshd"}},
			kept: []open{{"/lib/liblzma.so", rdonly, 3, "bash"}, {"/lib/liblzma.so", wronly, 3, "sshd"}},
		},
		{
			cond: "evt.type=openat and fd.nameraw contains '../' and fd.name startswith /etc",
			sent: []open{{"/tmp/../etc/passwd", rdonly, 3, "x"}, {"../etc/passwd", wronly, -2, "x"}},
			kept: []open{{"/etc/passwd", rdonly, 3, "x"}},
		},
		{
			cond: "evt.type in (open, openat) and fd.name glob '/proc/*/environ' and evt.failed=false",
			sent: []open{{"/proc/1/environ", rdonly, 3, "x"}},
			kept: []open{{"/sys/x", rdonly, 3, "x"}, {"/proc/1/environ", rdonly, -13, "x"}},
		},
		{
			// A negation of what the kernel cannot decide keeps everything.
			cond: "evt.type=openat and not fd.name startswith /etc",
			sent: []open{{"/etc/x", rdonly, 3, "x"}, {"/tmp/x", wronly, -2, "x"}},
		},
		{
			// A negation of what it decides exactly is kept exact.
			cond: "evt.type=openat and not (evt.is_open_read=true or evt.rawres < 0)",
			sent: []open{{"/tmp/x", wronly, 3, "x"}},
			kept: []open{{"/tmp/x", rdonly, 3, "x"}, {"/tmp/x", rdwr, 3, "x"}, {"/tmp/x", wronly, -2, "x"}},
		},
		{
			// Conditions on other event types do not count for opens.
			cond: "(evt.type=openat and fd.name=/a) or (evt.type=unlinkat and fd.name=/b)",
			sent: []open{{"/a", rdonly, 3, "x"}},
			kept: []open{{"/b", rdonly, 3, "x"}},
		},
		{
			cond: "evt.type=openat and evt.is_open_write=false and fd.num != -1",
			sent: []open{{"/x", rdonly, 3, "x"}},
			kept: []open{{"/x", wronly, 3, "x"}, {"/x", rdonly, -2, "x"}},
		},
	}
	for _, c := range cases {
		t.Run(c.cond, func(t *testing.T) {
			f := Open(load(t, macros+rule(c.cond)))
			for _, o := range c.sent {
				if !f.Wants(o.path, o.flags, o.res, o.comm) {
					t.Errorf("%+v left in the kernel; filter %+v", o, f.Terms)
				}
			}
			for _, o := range c.kept {
				if f.Wants(o.path, o.flags, o.res, o.comm) {
					t.Errorf("%+v sent; filter %+v", o, f.Terms)
				}
			}
		})
	}
}

// officialEngine loads the three official rules files (copies kept in
// sensor/rules/testdata).
func officialEngine(t testing.TB) *engine.Engine {
	t.Helper()
	rs, err := rules.LoadFiles(rules.Config{}, "../rules/testdata/falco_rules.yaml",
		"../rules/testdata/falco-incubating_rules.yaml", "../rules/testdata/falco-sandbox_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return engine.New(rs, engine.Options{})
}

// literals collects the string values the conditions of the open rules
// compare with: the paths and names an open that matches is made of.
func literals(eng *engine.Engine) (paths, names, comms []string) {
	seen := map[string]bool{}
	for _, t := range OpenTypes {
		for _, r := range eng.Candidates(t) {
			rules.Walk(r.AST, func(n rules.Node) {
				b, ok := n.(*rules.Binary)
				if !ok || b.Left == nil {
					return
				}
				for _, v := range b.Values {
					if seen[b.Left.Name+"\x00"+v] {
						continue
					}
					seen[b.Left.Name+"\x00"+v] = true
					switch {
					case b.Left.Name == "proc.name":
						comms = append(comms, v)
					case strings.HasPrefix(v, "/"):
						paths = append(paths, strings.ReplaceAll(v, "*", "x"))
					case v != "" && !strings.ContainsAny(v, " ="):
						names = append(names, strings.ReplaceAll(v, "*", "x"))
					}
				}
			})
		}
	}
	return paths, names, comms
}

// TestOfficialRulesConservative generates opens from the official rules'
// own paths, names and process names, in and out of a container, and
// checks that every open some rule matches is one the filter sends. It
// also checks that the filter leaves the benchmark's opens in the kernel,
// and that the test notices a filter missing the terms that need a process
// name.
func TestOfficialRulesConservative(t *testing.T) {
	eng := officialEngine(t)
	f := Open(eng)
	paths, names, comms := literals(eng)
	comms = append(comms, "bash", "cat", "python3")
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	gen := func() string {
		switch rng.IntN(6) {
		case 0:
			return pick(paths)
		case 1:
			return path.Join(pick(paths), pick(names))
		case 2:
			return "/home/u/" + pick(names)
		case 3:
			return "/root/" + pick(names)
		case 4:
			return path.Join(pick(paths), "x")
		}
		return "/tmp/" + pick(names)
	}
	// Process names the filter itself distinguishes come up half the time.
	noComm := &probe.OpenFilter{}
	var termComms []string
	for _, tm := range f.Terms {
		if tm.Comms == nil {
			noComm.Terms = append(noComm.Terms, tm)
		}
		termComms = append(termComms, tm.Comms...)
	}
	pickComm := func() string {
		if rng.IntN(2) == 0 {
			return pick(termComms)
		}
		return pick(comms)
	}
	ctr := &event.Container{ID: "0123456789ab", Name: "c", Image: "i"}
	matched, missedByNoComm := 0, 0
	for i := 0; i < 200000; i++ {
		p := gen()
		typ := OpenTypes[rng.IntN(len(OpenTypes))]
		flags := uint32(rng.IntN(3)) | uint32(rng.IntN(2))*0o100 | uint32(rng.IntN(2))*0o1000
		res := int64(3)
		if rng.IntN(4) == 0 {
			res = -2
		}
		th := &event.Thread{PID: 100, TID: 100, Comm: pickComm(), Exe: "x", ExePath: "/usr/bin/x", Cwd: "/"}
		th.Parent = &event.Thread{PID: 1, TID: 1, Comm: pick(comms)}
		th.Prepare()
		ev := &event.Event{Type: typ, Res: res, Flags: flags, Path: p, Thread: th,
			FD: event.FD{Num: -1, Type: event.FDFile, Name: path.Clean(p), Flags: flags}}
		if p != path.Clean(p) {
			ev.FD.NameRaw = p
		}
		if res >= 0 {
			ev.FD.Num = res
		}
		if rng.IntN(2) == 0 {
			ev.Container = ctr
		}
		if m := eng.MatchAppend(nil, ev); len(m) > 0 {
			matched++
			if !f.Wants(p, flags, res, th.Comm) {
				t.Fatalf("%v %q flags %#o res %d comm %s matches %q but the filter leaves it in the kernel",
					typ, p, flags, res, th.Comm, m[0].Name)
			}
			if !noComm.Wants(p, flags, res, th.Comm) {
				missedByNoComm++
			}
		}
	}
	t.Logf("%d generated opens matched a rule; a filter without its process-name terms would have lost %d", matched, missedByNoComm)
	if matched < 1000 || missedByNoComm == 0 {
		t.Errorf("%d matches, %d lost without process names: the generated opens no longer exercise the rules", matched, missedByNoComm)
	}
	// The benchmark's loop: a read of a file under /tmp by a process no
	// rule names.
	if f.Wants("/tmp/benchsensor123/f", 0, 3, "benchsensor") {
		t.Errorf("the benchmark's open is sent; filter %+v", f.Terms)
	}
}
