//go:build linux

package response

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/hub/alert"
)

// TestHelperDial is not a test: run as a child (SAKER_TEST_DIAL=addr) it
// sends a UDP datagram to addr, then connects to addr over TCP. It exits
// 3 when the send fails with EPERM (a cgroup_skb egress drop fails it at
// once; a dropped TCP SYN would only time out), 0 when both work, 4
// otherwise.
func TestHelperDial(t *testing.T) {
	addr := os.Getenv("SAKER_TEST_DIAL")
	if addr == "" {
		t.Skip("helper process only")
	}
	u, err := net.Dial("udp", addr)
	if err != nil {
		os.Exit(4)
	}
	if _, err := u.Write([]byte("x")); errors.Is(err, syscall.EPERM) {
		os.Exit(3)
	} else if err != nil {
		os.Exit(4)
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		os.Exit(4)
	}
	c.Close()
	os.Exit(0)
}

// blockEnv is a bpffs for the pins, a fresh cgroup v2 and a loopback
// listener, all removed when the test ends.
type blockEnv struct {
	dir    string // bpffs mount
	cgroup string // v2 path, "/saker-test-…"
	cgDir  string
	addr   string
}

func newBlockEnv(t *testing.T) *blockEnv {
	t.Helper()
	requireRoot(t)
	e := &blockEnv{dir: t.TempDir()}
	if err := unix.Mount("bpf", e.dir, "bpf", 0, ""); err != nil {
		t.Fatalf("mount bpffs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(e.dir, 0) })
	root, err := Cgroup2Mount()
	if err != nil {
		t.Fatal(err)
	}
	e.cgroup = "/saker-test-" + strconv.Itoa(os.Getpid()) + "-" + filepath.Base(t.Name())
	e.cgDir = filepath.Join(root, e.cgroup)
	if err := os.Mkdir(e.cgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(e.cgDir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	// The helper's datagram goes to the same port: it needs no reader.
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	e.addr = ln.Addr().String()
	return e
}

// dial runs the dial helper in the test cgroup and returns its exit code.
func (e *blockEnv) dial(t *testing.T) int {
	t.Helper()
	fd, err := unix.Open(e.cgDir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDial$")
	cmd.Env = append(os.Environ(), "SAKER_TEST_DIAL="+e.addr)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func TestNetBlockRelease(t *testing.T) {
	e := newBlockEnv(t)
	b, err := NewNetBlocker(e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if c := e.dial(t); c != 0 {
		t.Fatalf("before the block: dial exit %d, want 0", c)
	}
	blk, err := b.Block(e.cgroup, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = b.Release(blk.Name) })
	if c := e.dial(t); c != 3 {
		t.Fatalf("blocked: dial exit %d, want 3 (EPERM)", c)
	}
	list, err := b.List()
	if err != nil || len(list) != 1 || list[0].Name != blk.Name || list[0].Cgroup != e.cgroup || !list[0].Expires.IsZero() {
		t.Fatalf("List = %+v, %v; want one block %s of %s without expiry", list, err, blk.Name, e.cgroup)
	}
	// A second blocker on the same directory (the `saker response release`
	// command, or a restarted sensor) lifts it.
	b2, err := NewNetBlocker(e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b2.Release(blk.Name); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	if c := e.dial(t); c != 0 {
		t.Fatalf("released: dial exit %d, want 0", c)
	}
	if list, _ := b.List(); len(list) != 0 {
		t.Fatalf("after release: %+v", list)
	}
}

func TestNetBlockTTL(t *testing.T) {
	e := newBlockEnv(t)
	b, err := NewNetBlocker(e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	expired := make(chan Block, 1)
	b.OnExpire = func(blk Block) { expired <- blk }
	// A TTL long enough to see the block hold, then re-blocked with a
	// short one: the new expiry replaces the old.
	blk, err := b.Block(e.cgroup, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = b.Release(blk.Name) })
	if c := e.dial(t); c != 3 {
		t.Fatalf("blocked: dial exit %d, want 3 (EPERM)", c)
	}
	if _, err := b.Block(e.cgroup, 200*time.Millisecond, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-expired:
		if got.Name != blk.Name {
			t.Fatalf("expired %s, want %s", got.Name, blk.Name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("block did not expire")
	}
	if c := e.dial(t); c != 0 {
		t.Fatalf("expired: dial exit %d, want 0", c)
	}
}

// TestNetBlockSurvivesRestart: a block pinned by one sensor holds after
// it closes; the next one re-arms its TTL, or lifts it when the TTL
// passed while no sensor ran.
func TestNetBlockSurvivesRestart(t *testing.T) {
	e := newBlockEnv(t)
	b, err := NewNetBlocker(e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := b.Block(e.cgroup, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = b.Release(blk.Name) })
	b.Close() // the sensor stops
	if c := e.dial(t); c != 3 {
		t.Fatalf("after the sensor stopped: dial exit %d, want 3 (EPERM)", c)
	}
	// A restarted sensor finds the block and keeps it (its TTL is ahead).
	restart := func() {
		t.Helper()
		b, err := NewNetBlocker(e.dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		if err := b.Restore(); err != nil {
			t.Fatal(err)
		}
	}
	restart()
	if c := e.dial(t); c != 3 {
		t.Fatalf("after restart: dial exit %d, want 3 (EPERM)", c)
	}
	// A TTL that passed while no sensor ran: the pins are renamed into the
	// past, as if the sensor had been down past the expiry.
	for _, dir := range []string{"ingress", "egress"} {
		if err := os.Rename(filepath.Join(e.dir, pinName(blk.Name, blk.Expires, blk.AlertID, dir)), filepath.Join(e.dir, pinName(blk.Name, time.Unix(1, 0), blk.AlertID, dir))); err != nil {
			t.Fatal(err)
		}
	}
	restart()
	if c := e.dial(t); c != 0 {
		t.Fatalf("restored past its TTL: dial exit %d, want 0", c)
	}
}

// TestBlockNetworkAction: the action blocks the cgroup of the alert's
// process and records how to lift it; dry-run only records.
func TestBlockNetworkAction(t *testing.T) {
	e := newBlockEnv(t)
	fd, err := unix.Open(e.cgDir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	proc := spawn(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd})
	r, rec := newResponder(t, `
block_dir: `+e.dir+`
matching: all
actions:
  - match: {rule: Dry}
    action: block_network
    dry_run: true
  - match: {rule: Shell}
    action: block_network
    ttl: 1h
`)
	respond(r, eventOf(proc.Process.Pid, "sleep"), "Dry")
	if got := rec.next(t, 1); field(got, "response.result") != ResultDryRun || !strings.Contains(field(got, "response.detail"), "would block network of cgroup "+e.cgroup) {
		t.Fatalf("dry-run record: %v", got.OutputFields)
	}
	if c := e.dial(t); c != 0 {
		t.Fatalf("after dry-run: dial exit %d, want 0", c)
	}
	a := respond(r, eventOf(proc.Process.Pid, "sleep"), "Shell")
	got := rec.next(t, 2)
	if field(got, "response.result") != ResultDone || field(got, "response.action") != ActionBlockNetwork || field(got, "response.alert_id") != a.UUID {
		t.Fatalf("record: %v", got.OutputFields)
	}
	blocks, err := r.blocker.List()
	if err != nil || len(blocks) != 1 {
		t.Fatalf("blocks %+v, %v", blocks, err)
	}
	t.Cleanup(func() { _, _ = r.blocker.Release(blocks[0].Name) })
	if !strings.Contains(field(got, "response.detail"), "saker response release "+blocks[0].Name) {
		t.Fatalf("detail %q does not say how to release", field(got, "response.detail"))
	}
	if c := e.dial(t); c != 3 {
		t.Fatalf("blocked: dial exit %d, want 3 (EPERM)", c)
	}
	if ok, err := r.blocker.Release(blocks[0].Name); !ok || err != nil {
		t.Fatalf("Release = %v, %v", ok, err)
	}
	if c := e.dial(t); c != 0 {
		t.Fatalf("released: dial exit %d, want 0", c)
	}
}

// TestBlockNetworkRefusals: never the root cgroup, PID 1, or the sensor's
// own cgroup.
func TestBlockNetworkRefusals(t *testing.T) {
	e := newBlockEnv(t)
	r, rec := newResponder(t, `
block_dir: `+e.dir+`
actions:
  - match: {rule: Shell}
    action: block_network
`)
	self, err := CgroupOf(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	respond(r, eventOf(1, "init"), "Shell")
	respond(r, eventOf(os.Getpid(), "response.test"), "Shell")
	for i, want := range []string{"never blocks PID 1", map[bool]string{true: "root cgroup", false: "sensor's cgroup"}[self == "/"]} {
		got := rec.next(t, i+1)
		if field(got, "response.result") != ResultSkipped || !strings.Contains(field(got, "response.detail"), want) {
			t.Fatalf("record %d: %v, want skipped: %s", i+1, got.OutputFields, want)
		}
	}
	// A path from another cgroup namespace is never cleaned into one of ours.
	act := &r.cfg.Actions[0]
	if why := r.refuse(act, target{pid: 4242, cgroup: "/../../kubepods/pod1"}); !strings.Contains(why, "outside the sensor's cgroup namespace") {
		t.Fatalf("refuse(/../..) = %q", why)
	}
	if blocks, _ := r.blocker.List(); len(blocks) != 0 {
		t.Fatalf("blocks set: %+v", blocks)
	}
}

// TestBlockNetworkLiftedRecords: the end of a block is recorded, answering
// the alert that set it — its TTL passing, a release by another process
// (as `saker response release` does), and a TTL that passed while no
// sensor ran (the alert id comes from the pin names).
func TestBlockNetworkLiftedRecords(t *testing.T) {
	e := newBlockEnv(t)
	fd, err := unix.Open(e.cgDir, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	proc := spawn(t, &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd})
	doc := `
block_dir: ` + e.dir + `
actions:
  - {match: {rule: Short}, action: block_network, ttl: 300ms}
  - {match: {rule: Long}, action: block_network}
  - {match: {rule: Hour}, action: block_network, ttl: 1h}
`
	r, rec := newResponder(t, doc)
	lifted := func(n int, a *alert.Alert, result string) alert.Alert {
		t.Helper()
		got := rec.next(t, n)
		if field(got, "response.action") != ActionBlockNetwork || field(got, "response.result") != result ||
			field(got, "response.alert_id") != a.UUID || got.Source != Source {
			t.Fatalf("record %d: %v, want %s answering %s", n, got.OutputFields, result, a.UUID)
		}
		return got
	}

	a := respond(r, eventOf(proc.Process.Pid, "sleep"), "Short")
	lifted(1, a, ResultDone)
	got := lifted(2, a, ResultExpired)
	if field(got, "response.rule") != "Short" || field(got, "proc.pid") != strconv.Itoa(proc.Process.Pid) || !strings.Contains(field(got, "response.detail"), "ttl passed") {
		t.Fatalf("expiry record: %v", got.OutputFields)
	}
	if c := e.dial(t); c != 0 {
		t.Fatalf("after expiry: dial exit %d, want 0", c)
	}

	a = respond(r, eventOf(proc.Process.Pid, "sleep"), "Long")
	lifted(3, a, ResultDone)
	cli, err := NewNetBlocker(e.dir, nil) // another process's view, like the CLI's
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := cli.List()
	if err != nil || len(blocks) != 1 || blocks[0].AlertID != a.UUID {
		t.Fatalf("blocks %+v, %v; want one for alert %s", blocks, err, a.UUID)
	}
	if ok, err := cli.Release(blocks[0].Name); !ok || err != nil {
		t.Fatalf("release: %v %v", ok, err)
	}
	got = lifted(4, a, ResultReleased)
	if field(got, "response.rule") != "Long" || !strings.Contains(field(got, "response.detail"), "saker response release") {
		t.Fatalf("release record: %v", got.OutputFields)
	}

	// A block whose TTL passes while no sensor runs.
	a = respond(r, eventOf(proc.Process.Pid, "sleep"), "Hour")
	lifted(5, a, ResultDone)
	r.Close()
	pins, err := filepath.Glob(filepath.Join(e.dir, "cg*"))
	if err != nil || len(pins) != 2 {
		t.Fatalf("pins %v, %v", pins, err)
	}
	for _, p := range pins {
		parts := strings.Split(filepath.Base(p), "_")
		parts[1] = "1" // expired in 1970
		if err := os.Rename(p, filepath.Join(e.dir, strings.Join(parts, "_"))); err != nil {
			t.Fatal(err)
		}
	}
	_, rec = newResponder(t, doc)
	got = rec.next(t, 1)
	if field(got, "response.result") != ResultExpired || field(got, "response.alert_id") != a.UUID {
		t.Fatalf("record at restart: %v, want expired answering %s", got.OutputFields, a.UUID)
	}
	if c := e.dial(t); c != 0 {
		t.Fatalf("after restart: dial exit %d, want 0", c)
	}
}
