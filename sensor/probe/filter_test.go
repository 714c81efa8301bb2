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
	// Names of every length the program's name read cuts differently:
	// its NUL in the first or the second word, or none (15 bytes).
	names := []string{"abc", "abcdefg", "abcdefgh", "abcdefghijklmn", "abcdefghijklmno"}
	f := &OpenFilter{Terms: []OpenTerm{
		{Prefix: dir + "/keep", Outcomes: OpenReading},
		{Prefix: dir + "/w", Outcomes: OpenWriting & OpenSucceeded},
		{Prefix: dir + "/c", Outcomes: OpenAny, Comms: []string{"sshd", self}},
		{Prefix: dir + "/n", Outcomes: OpenAny, Comms: []string{"sshd"}},
		{Prefix: dir + "/keep/deeper", Outcomes: OpenWriteOnly, Comms: []string{"tar"}},
		{Prefix: dir + "/names", Outcomes: OpenReadOnly, Comms: names[1:4]},
		// Paths outside dir: failed reads by this process anywhere (the
		// root prefix, judged without the trie when no longer prefix
		// starts like the path) and failures below "/d" (a two-byte
		// prefix: every path starting "/d" goes through the trie).
		{Prefix: "", Outcomes: OpenReadOnly & OpenFailed, Comms: []string{self}},
		{Prefix: "/d", Outcomes: OpenFailed},
	}}
	c, p := startProbeWith(t, Options{Types: []event.Type{event.TypeOpenat, event.TypeOpen, event.TypeCreat, event.TypeOpenat2}, OpenFilter: f})
	// One CPU for the whole sequence, so that each path is copied over the
	// previous one in the program's per-CPU scratch: a shorter path must
	// not be judged on the bytes a longer one left after its end. The
	// thread stays locked and ends with the test.
	runtime.LockOSThread()
	var allowed, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		t.Fatal(err)
	}
	for cpu := 0; cpu < 1024; cpu++ {
		if allowed.IsSet(cpu) {
			one.Set(cpu)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Fatal(err)
	}
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
	// "/.", "//" and "./" at every offset within the program's 8-byte
	// words, each after a longer path on the same CPU, next to the same
	// paths without them.
	var dotted []open
	for n := 1; n <= 9; n++ {
		name := strings.Repeat("a", n)
		for _, d := range []string{"other/" + name, "other/" + name + "."} {
			if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, d, "f"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		base := dir + "/other/" + name
		for _, p := range []string{base + "/./f", base + "/f", base + "//f", base + "/f", base + "/../" + name + "/f",
			base + "./f", base + "/f", base + "/f/./", base + "/f", base + "/f", base + "./", base} {
			dotted = append(dotted, open{p, unix.O_RDONLY, unix.AT_FDCWD})
		}
	}
	if err := os.Mkdir(dir+"/names", 0o755); err != nil {
		t.Fatal(err)
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
		// outside dir: the root prefix and the two-byte prefix "/d"
		{"/", unix.O_RDONLY, unix.AT_FDCWD},
		{"/d", unix.O_RDONLY, unix.AT_FDCWD},
		{"/e", unix.O_RDONLY, unix.AT_FDCWD},
		{"/dev/null", unix.O_RDONLY, unix.AT_FDCWD},
		{"/dev/saker-missing", unix.O_RDONLY, unix.AT_FDCWD},
		{"/dsaker-missing", unix.O_WRONLY, unix.AT_FDCWD},
		{"/saker-missing/x", unix.O_RDONLY, unix.AT_FDCWD},
		{"/saker-missing/x", unix.O_WRONLY, unix.AT_FDCWD},
		{"/proc/self/stat", unix.O_RDONLY, unix.AT_FDCWD},
	}
	cases = append(cases, dotted...)
	type done struct {
		typ   event.Type
		path  string
		flags uint32
		res   int64
		comm  string
	}
	var ops []done
	name := self
	sys := func(typ event.Type, path string, flags uint32, nr uintptr, a0, a1, a2, a3 uintptr) {
		r, _, errno := unix.Syscall6(nr, a0, a1, a2, a3, 0, 0)
		res := int64(r)
		if errno != 0 {
			res = -int64(errno)
		} else {
			unix.Close(int(r))
		}
		ops = append(ops, done{typ, path, flags, res, name})
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
	// The process's name (its main thread's, which /proc/self/comm sets)
	// at every length, against the names the filter classes.
	setName := func(n string) {
		t.Helper()
		if err := os.WriteFile("/proc/self/comm", []byte(n), 0); err != nil {
			t.Fatal(err)
		}
		name = truncComm(n)
	}
	t.Cleanup(func() { setName(self) })
	atCWD := unix.AT_FDCWD
	for _, n := range append(names, "abcdefghijklmnop", "abcdefgh1", "ab") {
		setName(n)
		p := dir + "/names/x"
		fl := uint32(unix.O_RDONLY | unix.O_CREAT | unix.O_CLOEXEC)
		sys(event.TypeOpenat, p, fl, unix.SYS_OPENAT, uintptr(atCWD), ptr(p), uintptr(fl), 0o600)
	}
	setName(self)
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
	type named struct {
		key
		comm string
	}
	opened := map[string]bool{}
	for _, o := range ops {
		opened[o.path] = true
	}
	got := map[named]bool{}
	c.mu.Lock()
	for _, r := range c.recs {
		if r.PID == pid && opened[r.Str0] {
			got[named{key{r.Type, r.Str0, r.ev.Flags & 3, r.Res < 0}, r.Comm}] = true
		}
	}
	c.mu.Unlock()
	for _, o := range ops {
		want := f.Wants(o.path, o.flags, o.res, o.comm)
		if have := got[named{key{o.typ, o.path, o.flags & 3, o.res < 0}, o.comm}]; have != want {
			t.Errorf("%v %s flags %#o res %d by %q: sent %v, Wants %v", o.typ, o.path, o.flags, o.res, o.comm, have, want)
		}
	}
	if !got[named{key{event.TypeOpenat2, dir + "/other/x", 0, false}, self}] {
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

// TestPrefixHeads: the bitmap that lets the program skip the trie marks
// exactly the heads of the prefixes longer than "/", and the root outcomes
// are those of "/" (merged with "") or of "".
func TestPrefixHeads(t *testing.T) {
	f := &OpenFilter{Terms: []OpenTerm{
		{Prefix: "", Outcomes: OpenFailed},
		{Prefix: "/d", Outcomes: OpenWriting},
		{Prefix: "/etc/shadow", Outcomes: OpenReading},
		{Prefix: "/e", Outcomes: OpenWriting}, // covers "/etc/shadow" too
		{Prefix: "/proc/", Outcomes: OpenAny},
	}}
	prefixes, _ := f.tables()
	heads := prefixHeads(prefixes)
	isSet := func(c1, c2 byte) bool { h := int(c1)<<8 | int(c2); return heads[h/64]&(1<<(h%64)) != 0 }
	var n int
	for _, w := range heads {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	if n != 2*256+1 {
		t.Errorf("%d heads set, want 513 (every \"/d?\" and \"/e?\", \"/pr\")", n)
	}
	for _, h := range [][2]byte{{'d', 0}, {'d', 'e'}, {'e', 't'}, {'e', 0}, {'p', 'r'}} {
		if !isSet(h[0], h[1]) {
			t.Errorf("head %q not set", h)
		}
	}
	for _, h := range [][2]byte{{'p', 0}, {'p', 'x'}, {'t', 'm'}, {0, 0}} {
		if isSet(h[0], h[1]) {
			t.Errorf("head %q set", h)
		}
	}
	if root := rootPrefix(prefixes); root == nil || root[0] != uint8(OpenFailed) {
		t.Errorf("root outcomes %v, want %#b for any name", root, OpenFailed)
	}
	f.Terms = append(f.Terms, OpenTerm{Prefix: "/", Outcomes: OpenReadOnly})
	prefixes, _ = f.tables()
	if root := rootPrefix(prefixes); root == nil || root[0] != uint8(OpenFailed|OpenReadOnly) {
		t.Errorf("root outcomes with \"/\" %v, want %#b", root, OpenFailed|OpenReadOnly)
	}
	if rootPrefix(map[string]*[commClasses]uint8{"/x": {}}) != nil {
		t.Errorf("a root without \"\" or \"/\"")
	}
}
