//go:build linux

package guard

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/saker-sec/saker/sensor/event"
)

// The test binary doubles as the writer the guard holds: with
// GUARD_TEST_WRITE set it writes "1" to each of the listed files in turn
// (open, write, close) and exits.
func TestMain(m *testing.M) {
	if files := os.Getenv("GUARD_TEST_WRITE"); files != "" {
		for _, f := range filepath.SplitList(files) {
			if err := os.WriteFile(f, []byte("1"), 0o600); err != nil {
				os.Exit(3)
			}
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// openGuard loads the guard or skips (fails under SAKER_REQUIRE_BPF=1).
func openGuard(t *testing.T, opts Options) *Guard {
	t.Helper()
	g, err := Open(opts)
	if err != nil {
		if os.Getenv("SAKER_REQUIRE_BPF") == "1" {
			t.Fatalf("SAKER_REQUIRE_BPF=1 but the guard cannot load: %v", err)
		}
		t.Skipf("skipping: %v (set SAKER_REQUIRE_BPF=1 to fail instead)", err)
	}
	t.Cleanup(func() { g.Close() })
	if err := g.Arm(); err != nil {
		t.Fatal(err)
	}
	return g
}

// startWriter starts the writer on files and returns its pid.
func startWriter(t *testing.T, files ...string) int {
	t.Helper()
	return startWriterIn(t, "", files...)
}

// startWriterIn starts the writer in directory dir.
func startWriterIn(t *testing.T, dir string, files ...string) int {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.StartProcess(exe, []string{exe}, &os.ProcAttr{
		Env:   append(os.Environ(), "GUARD_TEST_WRITE="+strings.Join(files, string(filepath.ListSeparator))),
		Files: []*os.File{nil, os.Stdout, os.Stderr},
		Dir:   dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Kill()
		_, _ = p.Wait()
	})
	return p.Pid
}

// waitStopOrExit waits until pid stops or exits.
func waitStopOrExit(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WUNTRACED, nil); err != nil {
		t.Fatal(err)
	}
	return ws
}

func fileContent(path string) (string, bool) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false
	}
	return string(b), true
}

// TestGuardHoldsWriterBeforeItWrites: a process opening a file for
// writing below a guarded prefix is stopped at that open — the file
// exists (O_CREAT ran) but is empty, the second file does not exist —
// and runs to its end when resumed.
func TestGuardHoldsWriterBeforeItWrites(t *testing.T) {
	dir := t.TempDir()
	guarded := filepath.Join(dir, "etc")
	if err := os.Mkdir(guarded, 0o700); err != nil {
		t.Fatal(err)
	}
	g := openGuard(t, Options{
		Spec:       Spec{Types: []event.Type{event.TypeOpen, event.TypeOpenat, event.TypeOpenat2, event.TypeCreat}, WriteOnly: true, Prefixes: []string{guarded + "/"}},
		ExemptPIDs: []int{os.Getpid()},
	})
	holds := make(chan Hold, 16)
	go func() { _ = g.Run(t.Context(), func(h Hold) { holds <- h }) }()

	first, second := filepath.Join(guarded, "one"), filepath.Join(guarded, "two")
	start := time.Now()
	pid := startWriter(t, first, second)
	ws := waitStopOrExit(t, pid)
	if !ws.Stopped() || ws.StopSignal() != syscall.SIGSTOP {
		t.Fatalf("writer: status %v, want stopped by SIGSTOP", ws)
	}
	if c, ok := fileContent(first); !ok || c != "" {
		t.Fatalf("first file: exists %v content %q, want created and empty", ok, c)
	}
	if _, ok := fileContent(second); ok {
		t.Fatal("second file exists: the writer was not held at its first open")
	}
	h := <-holds
	if h.PID != pid || h.Path != first {
		t.Fatalf("hold %+v, want pid %d path %s", h, pid, first)
	}
	if h.At.Before(start.Add(-time.Second)) || h.At.After(time.Now().Add(time.Second)) {
		t.Fatalf("hold time %v is not now (%v)", h.At, start)
	}
	if at, ok := g.Claim(pid, time.Time{}); !ok || !at.Equal(h.At) {
		t.Fatalf("claim: %v %v, want the hold at %v", at, ok, h.At)
	}
	if _, ok := g.Claim(pid, time.Time{}); ok {
		t.Fatal("a hold was claimed twice")
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// Resumed, it is held again at its second file (the guard holds every
	// guarded open); resume that one too.
	ws = waitStopOrExit(t, pid)
	if !ws.Stopped() {
		t.Fatalf("writer: status %v, want held at its second open", ws)
	}
	if _, ok := g.Claim(pid, time.Time{}); !ok {
		t.Fatal("no hold at the second open")
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if ws = waitStopOrExit(t, pid); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("writer: status %v, want exit 0", ws)
	}
	for _, f := range []string{first, second} {
		if c, _ := fileContent(f); c != "1" {
			t.Fatalf("%s: %q after resume, want 1", f, c)
		}
	}
	c, err := g.Counts()
	if err != nil {
		t.Fatal(err)
	}
	if c.Held < 2 || c.SignalFailed != 0 {
		t.Fatalf("counts %+v", c)
	}
}

// TestGuardLetsOthersPass: nothing is held before the guard is armed;
// writes outside the prefixes (one sharing the prefix but for its slash)
// and processes exempt by name are not held.
func TestGuardLetsOthersPass(t *testing.T) {
	dir := t.TempDir()
	guarded := filepath.Join(dir, "etc")
	other := filepath.Join(dir, "etcetera") // shares the prefix without its slash
	for _, d := range []string{guarded, other} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	comm := filepath.Base(exe)
	spec := Spec{Types: []event.Type{event.TypeOpenat}, WriteOnly: true, Prefixes: []string{guarded + "/"}}

	// Disarmed (as the sensor loads it, before its probe): nothing is held.
	g, err := Open(Options{Spec: spec, ExemptPIDs: []int{os.Getpid()}})
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	pid := startWriter(t, filepath.Join(guarded, "a"))
	if ws := waitStopOrExit(t, pid); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("writer under a disarmed guard: %v, want exit 0", ws)
	}
	g.Close()

	g = openGuard(t, Options{Spec: spec, ExemptPIDs: []int{os.Getpid()}})
	pid = startWriter(t, filepath.Join(other, "a"), filepath.Join(dir, "b"))
	if ws := waitStopOrExit(t, pid); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("writer outside the prefix: %v, want exit 0", ws)
	}
	g.Close()

	// Exempt by name: writes below the prefix pass.
	g = openGuard(t, Options{Spec: spec, ExemptPIDs: []int{os.Getpid()}, ExemptComms: []string{comm}})
	pid = startWriter(t, filepath.Join(guarded, "a"))
	if ws := waitStopOrExit(t, pid); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("exempt writer: %v, want exit 0", ws)
	}
	if len(g.Held()) != 0 {
		t.Fatalf("held %v", g.Held())
	}
}

// TestGuardResolvesRelativePaths: a relative path is judged by the file
// it opened (here from a working directory below the prefix).
func TestGuardResolvesRelativePaths(t *testing.T) {
	guarded := filepath.Join(t.TempDir(), "etc")
	if err := os.MkdirAll(filepath.Join(guarded, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	g := openGuard(t, Options{
		Spec:       Spec{Types: []event.Type{event.TypeOpenat}, WriteOnly: true, Prefixes: []string{guarded + "/"}},
		ExemptPIDs: []int{os.Getpid()},
	})
	pid := startWriterIn(t, filepath.Join(guarded, "sub"), "rel")
	if ws := waitStopOrExit(t, pid); !ws.Stopped() {
		t.Fatalf("writer: status %v, want stopped", ws)
	}
	if _, ok := g.Claim(pid, time.Time{}); !ok {
		t.Fatal("no hold")
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if ws := waitStopOrExit(t, pid); !ws.Exited() {
		t.Fatalf("writer: status %v, want exit", ws)
	}
}
