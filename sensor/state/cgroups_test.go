package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCgroupsRendering(t *testing.T) {
	procRoot := t.TempDir()
	cgfs := filepath.Join(procRoot, "1", "root", "sys", "fs", "cgroup")
	// A cgroup v2 tree: the root offers four controllers; system.slice
	// enables cpu, memory and pids below it; docker-x.scope has memory
	// and pids enabled (its parent's subtree_control), not cpu.
	for dir, ctrls := range map[string]string{
		"":                              "cpuset cpu memory pids\n",
		"system.slice":                  "cpu memory pids\n",
		"system.slice/docker-abc.scope": "memory pids\n",
	} {
		if err := os.MkdirAll(filepath.Join(cgfs, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cgfs, dir, "cgroup.controllers"), []byte(ctrls), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := newCgroupLister(procRoot)
	for _, tc := range []struct{ name, proc, want string }{
		{"v2", "0::/system.slice/docker-abc.scope\n",
			"cpuset=/ cpu=/system.slice memory=/system.slice/docker-abc.scope pids=/system.slice/docker-abc.scope"},
		{"v2 root", "0::/\n", "cpuset=/ cpu=/ memory=/ pids=/"},
		{"v1 in kernel order, name= skipped", "9:name=systemd:/\n8:pids:/\n4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n1:cpuset:/\n0::/\n",
			"cpuset=/ cpu=/docker/abc cpuacct=/docker/abc memory=/docker/abc pids=/"},
		{"empty", "", ""},
	} {
		if got := l.render(tc.proc); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// A v2 line on a host whose cgroupfs cannot be read adds nothing.
	if got := newCgroupLister(t.TempDir()).render("0::/x\n3:memory:/x\n"); got != "memory=/x" {
		t.Errorf("unreadable cgroupfs: %q, want %q", got, "memory=/x")
	}
}

// TestCgroupsOfARealProcess: this process's thread.cgroups holds each
// controller /proc/self/cgroup lists for it (this host's hierarchy,
// whichever version).
func TestCgroupsOfARealProcess(t *testing.T) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Skip(err)
	}
	got := newCgroupLister("/proc").render(string(b))
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[1] == "" || strings.HasPrefix(f[1], "name=") {
			continue
		}
		for _, ctrl := range strings.Split(f[1], ",") {
			if !strings.Contains(" "+got+" ", " "+ctrl+"="+f[2]+" ") {
				t.Errorf("thread.cgroups %q lacks %s=%s", got, ctrl, f[2])
			}
		}
	}
	if got == "" && !strings.Contains(string(b), "0::") {
		t.Errorf("no cgroups rendered from %q", b)
	}
}
