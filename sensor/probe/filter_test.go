//go:build linux

package probe

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// TestOpenFilterMatchesKernel opens files of every kind the open filter
// judges and checks that the probe's program sends exactly the opens
// OpenFilter.Wants says it sends: prefixes, access modes, results, process
// names, and the paths it must keep unjudged.
func TestOpenFilterMatchesKernel(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"keep", "w", "c", "n", "other"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	self := strings.TrimSpace(string(comm))
	f := &OpenFilter{Terms: []OpenTerm{
		{Prefix: dir + "/keep", Outcomes: OpenReading},
		{Prefix: dir + "/w", Outcomes: OpenWriting & OpenSucceeded},
		{Prefix: dir + "/c", Outcomes: OpenAny, Comms: []string{"sshd", self}},
		{Prefix: dir + "/n", Outcomes: OpenAny, Comms: []string{"sshd"}},
		{Prefix: dir + "/keep/deeper", Outcomes: OpenWriteOnly, Comms: []string{"tar"}},
	}}
	c, p := startProbeWith(t, Options{Types: []event.Type{event.TypeOpenat, event.TypeOpen, event.TypeCreat, event.TypeOpenat2}, OpenFilter: f})
	dirfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirfd)

	type open struct {
		path  string
		flags int
		at    int // dirfd
	}
	cases := []open{
		{dir + "/keep/a", unix.O_RDONLY | unix.O_CREAT, unix.AT_FDCWD},
		{dir + "/keep/a", unix.O_WRONLY, unix.AT_FDCWD},
		{dir + "/keep/deeper", unix.O_RDWR | unix.O_CREAT, unix.AT_FDCWD}, // read side of the shorter prefix
		{dir + "/keep/missing/x", unix.O_RDONLY, unix.AT_FDCWD},           // failed read: kept
		{dir + "/w/x", unix.O_WRONLY | unix.O_CREAT, unix.AT_FDCWD},
		{dir + "/w/missing/x", unix.O_WRONLY | unix.O_CREAT, unix.AT_FDCWD}, // failed write: dropped
		{dir + "/w/x", unix.O_RDONLY, unix.AT_FDCWD},
		{dir + "/c/x", unix.O_RDONLY | unix.O_CREAT, unix.AT_FDCWD},
		{dir + "/n/x", unix.O_RDONLY | unix.O_CREAT, unix.AT_FDCWD},
		{dir + "/other/x", unix.O_RDONLY | unix.O_CREAT, unix.AT_FDCWD},
		{dir + "/other/../keep/a", unix.O_RDONLY, unix.AT_FDCWD},                   // ".." component: kept
		{dir + "//other/x", unix.O_RDONLY, unix.AT_FDCWD},                          // doubled slash: kept
		{dir + "/other/./x", unix.O_RDONLY, unix.AT_FDCWD},                         // "." component: kept
		{"other/x", unix.O_RDONLY, dirfd},                                          // relative: kept
		{dir + "/other/" + strings.Repeat("y", 260), unix.O_RDONLY, unix.AT_FDCWD}, // too long: kept
	}
	type done struct {
		typ   event.Type
		path  string
		flags uint32
		res   int64
	}
	var ops []done
	sys := func(typ event.Type, path string, flags uint32, nr uintptr, a0, a1, a2, a3 uintptr) {
		r, _, errno := unix.Syscall6(nr, a0, a1, a2, a3, 0, 0)
		res := int64(r)
		if errno != 0 {
			res = -int64(errno)
		} else {
			unix.Close(int(r))
		}
		ops = append(ops, done{typ, path, flags, res})
	}
	ptr := func(s string) uintptr {
		b, err := unix.BytePtrFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		return uintptr(unsafe.Pointer(b))
	}
	for _, o := range cases {
		fl := uint32(o.flags | unix.O_CLOEXEC)
		sys(event.TypeOpenat, o.path, fl, unix.SYS_OPENAT, uintptr(o.at), ptr(o.path), uintptr(fl), 0o600)
	}
	// creat and open(2) take the same filter.
	for _, p := range []string{dir + "/other/created", dir + "/w/created", dir + "/w/missing/created"} {
		sys(event.TypeCreat, p, unix.O_WRONLY, unix.SYS_CREAT, ptr(p), 0o600, 0, 0)
	}
	for _, p := range []string{dir + "/other/x", dir + "/keep/a", dir + "/n/x", dir + "/c/x"} {
		sys(event.TypeOpen, p, unix.O_RDONLY, unix.SYS_OPEN, ptr(p), unix.O_RDONLY, 0, 0)
	}
	// openat2 with no resolve flags is judged; with them it is sent.
	cwd := unix.AT_FDCWD
	for _, res := range []uint64{0, unix.RESOLVE_NO_SYMLINKS} {
		how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: res}
		p := dir + "/other/x"
		r, _, errno := unix.Syscall6(unix.SYS_OPENAT2, uintptr(cwd), ptr(p), uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		if errno != 0 {
			t.Fatalf("openat2: %v", errno)
		}
		unix.Close(int(r))
	}
	end := dir + "/keep/end"
	if fd, err := unix.Open(end, unix.O_RDONLY|unix.O_CREAT, 0o600); err == nil {
		unix.Close(fd)
	}
	pid := uint32(os.Getpid())
	c.waitFor(t, "marker open", func(r *captured) bool { return r.PID == pid && r.Str0 == end })

	// What arrived, per (type, path, access, failed); records of one thread
	// arrive in order, so everything before the marker is in.
	type key struct {
		typ    event.Type
		path   string
		flags  uint32
		failed bool
	}
	got := map[key]bool{}
	c.mu.Lock()
	for _, r := range c.recs {
		if r.PID == pid && strings.HasPrefix(r.Str0, dir) || r.Str0 == "other/x" {
			got[key{r.Type, r.Str0, r.ev.Flags & 3, r.Res < 0}] = true
		}
	}
	c.mu.Unlock()
	check := func(typ event.Type, path string, flags uint32, res int64) {
		t.Helper()
		want := f.Wants(path, flags, res, self)
		if have := got[key{typ, path, flags & 3, res < 0}]; have != want {
			t.Errorf("%v %s flags %#o res %d: sent %v, Wants %v", typ, path, flags, res, have, want)
		}
	}
	for _, o := range ops {
		check(o.typ, o.path, o.flags, o.res)
	}
	if !got[key{event.TypeOpenat2, dir + "/other/x", 0, false}] {
		t.Errorf("openat2 with resolve flags not sent")
	}
	if len(got) < 10 || len(got) >= len(ops) {
		t.Errorf("%d of %d opens sent: the cases no longer test the filter", len(got), len(ops))
	}

	counts, err := p.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if counts.TotalFiltered() == 0 {
		t.Errorf("the filter left no open in the kernel")
	}
}

// TestRecordCarriesProcessName: a thread that names itself apart still
// reports its process's name (the main thread's comm), which the process
// table and the open filter both use as proc.name.
func TestRecordCarriesProcessName(t *testing.T) {
	c := startProbe(t, event.TypeOpenat)
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "from-thread")
	tid := make(chan int)
	for tries := 0; tries < 20; tries++ {
		go func() {
			// The thread is renamed and never unlocked: it ends with
			// the goroutine, so the runtime never reuses it.
			runtime.LockOSThread()
			if unix.Gettid() == os.Getpid() {
				tid <- 0
				return
			}
			if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("own-name\x00")[0])), 0, 0, 0); err != nil {
				t.Error(err)
			}
			if fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600); err == nil {
				unix.Close(fd)
			}
			tid <- unix.Gettid()
		}()
		if n := <-tid; n != 0 {
			r := c.waitFor(t, "open from the renamed thread", func(r *captured) bool { return r.Str0 == path })
			if r.TID != uint32(n) || r.Comm != strings.TrimSpace(string(comm)) {
				t.Errorf("record of thread %d (named own-name): tid %d comm %q, want the process's %q", n, r.TID, r.Comm, strings.TrimSpace(string(comm)))
			}
			return
		}
	}
	t.Fatal("no goroutine ran off the main thread")
}
