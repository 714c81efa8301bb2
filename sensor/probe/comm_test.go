//go:build linux

package probe

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// TestNameIsTheNameAtExecOrFork: a record names its process as libsinsp
// does — the main thread's comm at its last exec, or at the fork that made
// it — not the name it gave itself since (prctl(PR_SET_NAME) or a write
// to /proc/PID/comm, which Falco never sees). runc's init renames itself
// "runc:[2:INIT]" after runc:[1:CHILD] forked it; Falco reports it as
// "runc:[1:CHILD]", which is what the official rules' runc exclusions test.
// The open filter judges the same name: an open under a prefix only the
// exec name may open is kept after the rename.
func TestNameIsTheNameAtExecOrFork(t *testing.T) {
	dir := t.TempDir()
	f := &OpenFilter{Terms: []OpenTerm{{Prefix: dir + "/", Outcomes: OpenAny, Comms: []string{"sh", "renamed-parent"}}}}
	c, _ := startProbeWith(t, Options{Types: []event.Type{event.TypeOpenat, event.TypeOpen}, OpenFilter: f})

	// sh renames itself, opens a file, then forks a subshell (no exec)
	// that opens another, renames itself in turn and opens a third.
	script := `printf renamed-parent > /proc/$$/comm
: < "$1/after-rename"
{ : < "$1/forked"; printf renamed-child > /proc/$(cut -d' ' -f4 /proc/self/stat)/comm 2>/dev/null; : < "$1/child-after-rename"; } &
wait`
	for _, n := range []string{"after-rename", "forked", "child-after-rename"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sh := exec.Command("/bin/sh", "-c", script, "sh", dir)
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("sh: %v %s", err, out)
	}
	opened := func(name string) *captured {
		return c.waitFor(t, "open of "+name, func(r *captured) bool {
			return (r.Type == event.TypeOpenat || r.Type == event.TypeOpen) && r.ev.FD.Name == filepath.Join(dir, name)
		})
	}
	if r := opened("after-rename"); r.Comm != "sh" {
		t.Errorf("open after the shell renamed itself: comm %q, want its name at exec %q", r.Comm, "sh")
	}
	if r := opened("forked"); r.Comm != "renamed-parent" {
		t.Errorf("open by the forked subshell: comm %q, want the name it was forked with %q", r.Comm, "renamed-parent")
	}
	if r := opened("child-after-rename"); r.Comm != "renamed-parent" {
		t.Errorf("open by the subshell after its own rename: comm %q, want %q", r.Comm, "renamed-parent")
	}
}

// TestExecCarriesExeInode: an exec record carries the executable's inode
// number (the header's ino) and its ctime and mtime in ns (args 4 and 5),
// read from the exec'd file in the kernel: proc.exe_ino,
// proc.exe_ino.ctime and proc.exe_ino.mtime, which "Drop and execute new
// binary in container" prints.
func TestExecCarriesExeInode(t *testing.T) {
	c := startProbe(t, event.TypeExecve)
	exe := filepath.Join(t.TempDir(), "saker-exe-ino")
	src, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, src, 0o755); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(exe, &st); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	r := c.waitFor(t, "exec of the copy", func(r *captured) bool {
		return r.Type == event.TypeExecve && r.PID == uint32(cmd.Process.Pid) && r.Res == 0
	})
	if r.Ino != st.Ino {
		t.Errorf("ino %d, want %d", r.Ino, st.Ino)
	}
	if got, want := int64(r.Args[4]), st.Ctim.Nano(); got != want {
		t.Errorf("ctime %d, want %d", got, want)
	}
	if got, want := int64(r.Args[5]), st.Mtim.Nano(); got != want {
		t.Errorf("mtime %d, want %d", got, want)
	}
}
