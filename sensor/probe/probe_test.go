//go:build linux

package probe

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// requireBPF skips when this host cannot load the probe, unless CI demands
// it with SAKER_REQUIRE_BPF=1.
func requireBPF(tb testing.TB) {
	tb.Helper()
	if err := Check(); err != nil {
		if os.Getenv("SAKER_REQUIRE_BPF") == "1" {
			tb.Fatalf("SAKER_REQUIRE_BPF=1 but the probe cannot load: %v", err)
		}
		tb.Skipf("skipping: %v (set SAKER_REQUIRE_BPF=1 to fail instead)", err)
	}
}

func TestLayout(t *testing.T) {
	var e sakerSkEvent
	cases := []struct {
		name      string
		got, want uintptr
	}{
		{"ts", unsafe.Offsetof(e.Ts), offTS},
		{"cgroup_id", unsafe.Offsetof(e.CgroupId), offCgroupID},
		{"res", unsafe.Offsetof(e.Res), offRes},
		{"args", unsafe.Offsetof(e.Args), offArgs},
		{"cap_eff", unsafe.Offsetof(e.CapEff), offCapEff},
		{"pid", unsafe.Offsetof(e.Pid), offPID},
		{"tid", unsafe.Offsetof(e.Tid), offTID},
		{"ppid", unsafe.Offsetof(e.Ppid), offPPID},
		{"vpid", unsafe.Offsetof(e.Vpid), offVPID},
		{"vtid", unsafe.Offsetof(e.Vtid), offVTID},
		{"uid", unsafe.Offsetof(e.Uid), offUID},
		{"gid", unsafe.Offsetof(e.Gid), offGID},
		{"euid", unsafe.Offsetof(e.Euid), offEUID},
		{"egid", unsafe.Offsetof(e.Egid), offEGID},
		{"loginuid", unsafe.Offsetof(e.Loginuid), offLoginUID},
		{"tty", unsafe.Offsetof(e.Tty), offTTY},
		{"sid", unsafe.Offsetof(e.Sid), offSID},
		{"type", unsafe.Offsetof(e.Type), offType},
		{"cpu", unsafe.Offsetof(e.Cpu), offCPU},
		{"len", unsafe.Offsetof(e.Len), offLen},
		{"flags", unsafe.Offsetof(e.Flags), offFlags},
		{"saddr", unsafe.Offsetof(e.Sock) + unsafe.Offsetof(e.Sock.Saddr), offSaddr},
		{"daddr", unsafe.Offsetof(e.Sock) + unsafe.Offsetof(e.Sock.Daddr), offDaddr},
		{"sport", unsafe.Offsetof(e.Sock) + unsafe.Offsetof(e.Sock.Sport), offSport},
		{"dport", unsafe.Offsetof(e.Sock) + unsafe.Offsetof(e.Sock.Dport), offDport},
		{"ino", unsafe.Offsetof(e.Ino), offIno},
		{"utime", unsafe.Offsetof(e.Utime), offUTime},
		{"stime", unsafe.Offsetof(e.Stime), offSTime},
		{"tstart", unsafe.Offsetof(e.Tstart), offTStart},
		{"dev", unsafe.Offsetof(e.Dev), offDev},
		{"nthreads", unsafe.Offsetof(e.Nthreads), offNThreads},
		{"family", unsafe.Offsetof(e.Sock) + unsafe.Offsetof(e.Sock.Family), offFamily},
		{"proto", unsafe.Offsetof(e.Sock) + unsafe.Offsetof(e.Sock.Proto), offProto},
		{"comm", unsafe.Offsetof(e.Comm), offComm},
		{"cap_prm", unsafe.Offsetof(e.CapPrm), offCapPrm},
		{"cap_inh", unsafe.Offsetof(e.CapInh), offCapInh},
		{"sizeof", unsafe.Sizeof(e), headerSize},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("sk_event.%s at %d, decoder uses %d", c.name, c.got, c.want)
		}
	}
}

// TestTypeNumbering checks that bpf/saker.h's enum sk_type mirrors
// sensor/event's numbering, name by name.
func TestTypeNumbering(t *testing.T) {
	f, err := os.Open("../../bpf/saker.h")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	re := regexp.MustCompile(`^\s*SK_([A-Z0-9_]+) = (\d+),`)
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		seen++
		if m[1] == "NUM_TYPES" {
			if n != int(event.NumTypes) {
				t.Errorf("SK_NUM_TYPES = %d, event.NumTypes = %d", n, event.NumTypes)
			}
			continue
		}
		want := event.Type(n).String()
		got := map[string]string{"PROC_EXIT": "procexit"}[m[1]]
		if got == "" {
			got = toLower(m[1])
		}
		if got != want {
			t.Errorf("SK_%s = %d but event type %d is %q", m[1], n, n, want)
		}
	}
	if seen != int(event.NumTypes)+1 {
		t.Errorf("saker.h has %d enum entries, want %d", seen, event.NumTypes+1)
	}
	if int(sakerSkTypeSK_NUM_TYPES) != int(event.NumTypes) {
		t.Errorf("generated SK_NUM_TYPES %d is stale (run make generate)", sakerSkTypeSK_NUM_TYPES)
	}
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// captured is a copy of a Record that outlives the reader's buffer.
type captured struct {
	Record
	ev event.Event
}

// capture runs the probe for the given types while fn acts, and returns the
// records of processes in pids (filled in by fn) plus our own.
type capturer struct {
	mu   sync.Mutex
	recs []captured
}

func (c *capturer) find(pred func(*captured) bool) *captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.recs {
		if pred(&c.recs[i]) {
			return &c.recs[i]
		}
	}
	return nil
}

// waitFor polls until pred matches a record or the deadline passes.
func (c *capturer) waitFor(t *testing.T, what string, pred func(*captured) bool) *captured {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if r := c.find(pred); r != nil {
			return r
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s event captured", what)
	return nil
}

func startProbe(t *testing.T, types ...event.Type) *capturer {
	t.Helper()
	c, _ := startProbeWith(t, Options{Types: types})
	return c
}

func startProbeWith(t *testing.T, opts Options) (*capturer, *Probe) {
	t.Helper()
	requireBPF(t)
	p, err := Open(opts)
	if err != nil {
		t.Fatalf("open probe: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &capturer{}
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(r *Record) {
			cp := captured{Record: *r}
			cp.Argv = slices.Clone(r.Argv)
			cp.Env = slices.Clone(r.Env)
			cp.Seg2 = slices.Clone(r.Seg2)
			cp.seg2 = cp.Seg2
			cp.seg1 = nil
			cp.Data = slices.Clone(r.Data)
			cp.data = nil
			cp.Polled = slices.Clone(r.Polled)
			cp.fdList = nil
			cp.Fill(&cp.ev)
			c.mu.Lock()
			if len(c.recs) < 200000 {
				c.recs = append(c.recs, cp)
			}
			c.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		p.Close()
	})
	return c, p
}

func TestCapture(t *testing.T) {
	c := startProbe(t, event.TypeOpenat, event.TypeOpen, event.TypeMkdirat, event.TypeMkdir,
		event.TypeUnlinkat, event.TypeUnlink, event.TypeConnect, event.TypeAccept4, event.TypeAccept,
		event.TypeSetns, event.TypeRenameat2, event.TypeRenameat, event.TypeRename, event.TypeSocket)
	self := uint32(os.Getpid())
	dir := t.TempDir()

	t.Run("openat for write", func(t *testing.T) {
		path := filepath.Join(dir, "written")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o640)
		if err != nil {
			t.Fatal(err)
		}
		fd := int64(f.Fd())
		f.Close()
		r := c.waitFor(t, "openat "+path, func(r *captured) bool {
			return r.Type == event.TypeOpenat && r.PID == self && r.Str0 == path
		})
		if r.ev.Flags&(unix.O_WRONLY|unix.O_CREAT) != unix.O_WRONLY|unix.O_CREAT {
			t.Errorf("flags %#x lack O_WRONLY|O_CREAT", r.ev.Flags)
		}
		if r.ev.Mode != 0o640 || r.Res != fd || r.ev.FD.Num != fd || r.ev.FD.Name != path {
			t.Errorf("mode %o res %d fd %+v, want 0640, %d", r.ev.Mode, r.Res, r.ev.FD, fd)
		}
		if r.Comm == "" || r.TID == 0 || r.PPID != uint32(os.Getppid()) {
			t.Errorf("header comm %q tid %d ppid %d (want ppid %d)", r.Comm, r.TID, r.PPID, os.Getppid())
		}
		if d := time.Since(time.Unix(0, r.TS)); d < 0 || d > time.Minute {
			t.Errorf("timestamp %v is %v from now", time.Unix(0, r.TS), d)
		}
	})

	t.Run("cat /etc/shadow", func(t *testing.T) {
		cmd := exec.Command("cat", "/etc/shadow")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		child := uint32(cmd.Process.Pid)
		fork := c.waitFor(t, "clone", func(r *captured) bool { return r.Type == event.TypeClone && r.Res == int64(child) })
		if fork.PID != self {
			t.Errorf("clone reported by pid %d, want parent %d", fork.PID, self)
		}
		ex := c.waitFor(t, "execve", func(r *captured) bool { return r.Type == event.TypeExecve && r.PID == child })
		if ex.Str0 != "/usr/bin/cat" && ex.Str0 != "/bin/cat" {
			t.Errorf("exec filename %q", ex.Str0)
		}
		if !slices.Equal(ex.Argv, []string{"cat", "/etc/shadow"}) || ex.PPID != self || ex.Comm != "cat" || ex.Res != 0 {
			t.Errorf("exec argv %q ppid %d comm %q res %d", ex.Argv, ex.PPID, ex.Comm, ex.Res)
		}
		op := c.waitFor(t, "openat /etc/shadow", func(r *captured) bool {
			return r.Type == event.TypeOpenat && r.PID == child && r.Str0 == "/etc/shadow"
		})
		if op.ev.Flags&unix.O_ACCMODE != unix.O_RDONLY || op.Res < 0 || op.Comm != "cat" {
			t.Errorf("open flags %#x res %d comm %q", op.ev.Flags, op.Res, op.Comm)
		}
		c.waitFor(t, "procexit", func(r *captured) bool { return r.Type == event.TypeProcExit && r.PID == child })
	})

	t.Run("exec /bin/true with args", func(t *testing.T) {
		cmd := exec.Command("/bin/true", "--alpha", "two words", "")
		cmd.Env = []string{"SAKER_TEST=1", "LD_PRELOAD=/tmp/x.so"}
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		ex := c.waitFor(t, "execve true", func(r *captured) bool {
			return r.Type == event.TypeExecve && r.PID == uint32(cmd.Process.Pid)
		})
		if ex.Str0 != "/bin/true" || ex.ExeMemfd || !slices.Equal(ex.Argv, []string{"/bin/true", "--alpha", "two words", ""}) {
			t.Errorf("exec %q argv %q", ex.Str0, ex.Argv)
		}
		if !slices.Equal(ex.Env, cmd.Env) {
			t.Errorf("exec env %q, want %q", ex.Env, cmd.Env)
		}
		if len(ex.Seg2) == 0 {
			t.Errorf("exec record carries no cgroup name")
		}
	})

	t.Run("exec from memfd", func(t *testing.T) {
		// Fileless execution: /bin/true copied into a memfd and exec'd
		// through its /proc fd link, as runc and droppers do.
		fd, err := unix.MemfdCreate("saker_test", 0)
		if err != nil {
			t.Fatal(err)
		}
		mf := os.NewFile(uintptr(fd), "memfd")
		defer mf.Close()
		bin, err := os.ReadFile("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mf.Write(bin); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd))
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		ex := c.waitFor(t, "execve from memfd", func(r *captured) bool {
			return r.Type == event.TypeExecve && r.PID == uint32(cmd.Process.Pid)
		})
		if !ex.ExeMemfd || ex.Str0 != "memfd:saker_test" {
			t.Errorf("memfd exec: flag %v exepath %q", ex.ExeMemfd, ex.Str0)
		}
	})

	t.Run("failed exec", func(t *testing.T) {
		missing := filepath.Join(dir, "no-such-binary")
		_ = exec.Command(missing).Run()
		// Go's os/exec looks the path up with stat before execve, so use
		// a file that exists but is not executable.
		nx := filepath.Join(dir, "not-exec")
		os.WriteFile(nx, []byte("x"), 0o600)
		cmd := exec.Command(nx)
		_ = cmd.Run()
		r := c.waitFor(t, "failed execve", func(r *captured) bool {
			return r.Type == event.TypeExecve && r.Str0 == nx && r.Res < 0
		})
		if r.Res != -int64(unix.EACCES) {
			t.Errorf("res %d, want -EACCES", r.Res)
		}
	})

	t.Run("connect and accept on loopback", func(t *testing.T) {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		accepted := make(chan net.Conn, 1)
		go func() {
			conn, err := ln.Accept()
			if err == nil {
				accepted <- conn
			}
		}()
		conn, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		(<-accepted).Close()
		local := conn.LocalAddr().(*net.TCPAddr)
		lo := netip.MustParseAddr("127.0.0.1")
		r := c.waitFor(t, "connect", func(r *captured) bool {
			return r.Type == event.TypeConnect && r.PID == self && r.ev.FD.ServerPort == port
		})
		fd := r.ev.FD
		if fd.Type != event.FDIPv4 || fd.ServerIP != lo || fd.ClientIP != lo || fd.ClientPort != uint16(local.Port) || fd.L4Proto != unix.IPPROTO_TCP || !fd.LocalIsClient {
			t.Errorf("connect fd %+v, client port want %d", fd, local.Port)
		}
		want := "127.0.0.1:" + strconv.Itoa(local.Port) + "->127.0.0.1:" + strconv.Itoa(int(port))
		if fd.Name != want {
			t.Errorf("connect fd.name %q, want %q", fd.Name, want)
		}
		a := c.waitFor(t, "accept", func(r *captured) bool {
			return (r.Type == event.TypeAccept4 || r.Type == event.TypeAccept) && r.PID == self && r.ev.FD.ServerPort == port && r.Res >= 0
		})
		if a.ev.FD.Name != want || a.ev.FD.LocalIsClient {
			t.Errorf("accept fd %+v, want name %q", a.ev.FD, want)
		}
	})

	t.Run("mkdir rename unlink", func(t *testing.T) {
		d := filepath.Join(dir, "sub")
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(d, "f")
		os.WriteFile(f, nil, 0o600)
		g := filepath.Join(d, "g")
		if err := os.Rename(f, g); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(g); err != nil {
			t.Fatal(err)
		}
		m := c.waitFor(t, "mkdirat", func(r *captured) bool { return r.Type == event.TypeMkdirat && r.Str0 == d })
		if m.ev.Mode != 0o750 || m.Res != 0 {
			t.Errorf("mkdirat mode %o res %d", m.ev.Mode, m.Res)
		}
		rn := c.waitFor(t, "rename", func(r *captured) bool {
			return (r.Type == event.TypeRenameat || r.Type == event.TypeRenameat2 || r.Type == event.TypeRename) && r.Str0 == f
		})
		if rn.ev.Target != g {
			t.Errorf("rename target %q, want %q", rn.ev.Target, g)
		}
		c.waitFor(t, "unlinkat", func(r *captured) bool { return r.Type == event.TypeUnlinkat && r.Str0 == g && r.Res == 0 })
	})

	t.Run("setns from a child", func(t *testing.T) {
		cmd := exec.Command("nsenter", "--net=/proc/self/ns/net", "true")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("nsenter: %v %s", err, out)
		}
		r := c.waitFor(t, "setns", func(r *captured) bool { return r.Type == event.TypeSetns && r.PID == uint32(cmd.Process.Pid) })
		if r.ev.Flags != unix.CLONE_NEWNET || r.Res != 0 || r.Comm != "nsenter" {
			t.Errorf("setns nstype %#x res %d comm %q", r.ev.Flags, r.Res, r.Comm)
		}
	})
}

// TestFilteredTypesAreSilent checks the in-kernel filter: with only execve
// wanted, an openat produces nothing.
func TestFilteredTypesAreSilent(t *testing.T) {
	c := startProbe(t)
	path := filepath.Join(t.TempDir(), "quiet")
	os.WriteFile(path, nil, 0o600)
	cmd := exec.Command("/bin/true")
	cmd.Run()
	c.waitFor(t, "execve", func(r *captured) bool { return r.Type == event.TypeExecve && r.PID == uint32(cmd.Process.Pid) })
	if r := c.find(func(r *captured) bool { return r.Type == event.TypeOpenat }); r != nil {
		t.Errorf("openat captured though not wanted: %+v", r.Record)
	}
}
