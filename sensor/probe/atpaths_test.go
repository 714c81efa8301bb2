//go:build linux

package probe

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
)

// TestAtPathsCarryBaseDir: the path syscalls other than open record, for a
// relative path, the directory it starts from (the dirfd's, or the working
// directory), read at the event like open's: user space resolving it later
// from /proc may meet the fd number reused or the process gone.
func TestAtPathsCarryBaseDir(t *testing.T) {
	c := startProbe(t, event.TypeMkdirat, event.TypeUnlinkat, event.TypeFchmodat, event.TypeFchownat,
		event.TypeRenameat, event.TypeRenameat2, event.TypeLinkat, event.TypeSymlinkat,
		event.TypeMkdir, event.TypeRmdir, event.TypeUnlink, event.TypeChmod, event.TypeRename, event.TypeLink, event.TypeSymlink)
	dir, other := t.TempDir(), t.TempDir()
	for _, d := range []string{dir, other} { // resolved names, as the kernel walks them
		if r, err := filepath.EvalSymlinks(d); err == nil && r != d {
			t.Fatalf("temp dir %s is behind a symlink (%s)", d, r)
		}
	}
	dfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dfd)
	ofd, err := unix.Open(other, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ofd)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("mkdirat", unix.Mkdirat(dfd, "sub", 0o755))
	must("create f", os.WriteFile(filepath.Join(dir, "f"), nil, 0o600))
	must("fchmodat", unix.Fchmodat(dfd, "f", 0o640, 0))
	must("fchownat", unix.Fchownat(dfd, "f", os.Getuid(), os.Getgid(), 0))
	must("linkat", unix.Linkat(dfd, "f", ofd, "hard", 0))
	must("symlinkat", unix.Symlinkat("f", dfd, "soft"))
	must("renameat", unix.Renameat(dfd, "soft", dfd, "soft2"))
	must("renameat2", unix.Renameat2(dfd, "soft2", ofd, "soft3", 0))
	must("unlinkat", unix.Unlinkat(ofd, "soft3", 0))
	must("unlinkat dir", unix.Unlinkat(dfd, "sub", unix.AT_REMOVEDIR))

	pid := uint32(os.Getpid())
	type want struct {
		typ          event.Type
		str0         string
		base0, base1 string
	}
	wants := []want{
		{event.TypeMkdirat, "sub", dir, ""},
		{event.TypeFchmodat, "f", dir, ""},
		{event.TypeFchownat, "f", dir, ""},
		{event.TypeLinkat, "f", dir, other}, // each path with its own dirfd
		{event.TypeSymlinkat, "f", "", dir},
		{event.TypeRenameat, "soft", dir, dir},
		{event.TypeRenameat2, "soft2", dir, other},
		{event.TypeUnlinkat, "soft3", other, ""},
		{event.TypeUnlinkat, "sub", dir, ""},
	}
	for _, w := range wants {
		r := c.waitFor(t, w.typ.String()+" "+w.str0, func(r *captured) bool {
			return r.PID == pid && r.Type == w.typ && r.Str0 == w.str0
		})
		if r.BaseDir != w.base0 || r.BaseDir1 != w.base1 {
			t.Errorf("%v %q: base dirs %q, %q; want %q, %q", w.typ, w.str0, r.BaseDir, r.BaseDir1, w.base0, w.base1)
		}
	}
	// An absolute first path leaves the directory to the second.
	must("renameat abs", unix.Renameat(dfd, filepath.Join(dir, "f"), ofd, "moved"))
	r := c.waitFor(t, "renameat with an absolute old path", func(r *captured) bool {
		return r.PID == pid && r.Type == event.TypeRenameat && r.Str1 == "moved"
	})
	if r.BaseDir != "" || r.BaseDir1 != other {
		t.Errorf("renameat %q -> moved: base dirs %q, %q; want \"\", %q", r.Str0, r.BaseDir, r.BaseDir1, other)
	}
}
