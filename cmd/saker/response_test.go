package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/response"
)

// TestResponseReleaseCommand: `saker response list` shows a block the
// sensor set, `release` lifts it, `release -all` the rest.
func TestResponseReleaseCommand(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (bpffs, cgroups)")
	}
	dir := t.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		t.Fatalf("mount bpffs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, 0) })
	mount, err := response.Cgroup2Mount()
	if err != nil {
		t.Fatal(err)
	}
	var cgroups []string
	for i := range 2 {
		cg := "/saker-cmd-test-" + strconv.Itoa(os.Getpid()) + "-" + strconv.Itoa(i)
		if err := os.Mkdir(filepath.Join(mount, cg), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(filepath.Join(mount, cg)) })
		cgroups = append(cgroups, cg)
	}
	b, err := response.NewNetBlocker(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b1, err := b.Block(cgroups[0], 0, "")
	if err != nil {
		t.Fatal(err)
	}
	b2, err := b.Block(cgroups[1], time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = b.Release(b1.Name); _, _ = b.Release(b2.Name) })

	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := responseCmd(&out, args); err != nil {
			t.Fatalf("saker response %v: %v", args, err)
		}
		return out.String()
	}
	out := run("list", "-dir", dir)
	if !strings.Contains(out, b1.Name+"  "+cgroups[0]+"  on release") || !strings.Contains(out, b2.Name) || !strings.Contains(out, cgroups[1]) {
		t.Fatalf("list:\n%s", out)
	}
	if out := run("release", "-dir", dir, b1.Name); out != "released "+b1.Name+"\n" {
		t.Fatalf("release: %q", out)
	}
	if err := responseCmd(&bytes.Buffer{}, []string{"release", "-dir", dir, b1.Name}); err == nil || !strings.Contains(err.Error(), "no block") {
		t.Fatalf("second release: %v, want no block", err)
	}
	run("release", "-dir", dir, "-all")
	if out := run("list", "-dir", dir); strings.Count(out, "\n") != 1 {
		t.Fatalf("after release -all:\n%s", out)
	}
}
