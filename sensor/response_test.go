//go:build linux

package sensor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/response"
)

// respRule matches the shells the response tests spawn (marked by an
// argument), not any other shell on the machine.
const respRule = `
- rule: Response test shell
  desc: a shell started by the response tests
  condition: evt.type in (execve, execveat) and evt.dir=< and proc.name=sh and proc.args contains "saker-resp-test"
  output: test shell (pid=%proc.pid cmdline=%proc.cmdline)
  priority: WARNING
  tags: [shell]
- rule: Response test pause
  desc: a shell whose container the response tests pause
  condition: evt.type in (execve, execveat) and evt.dir=< and proc.name=sh and proc.args contains "saker-resp-pause"
  output: pause (pid=%proc.pid container=%container.id)
  priority: WARNING
- rule: Response test block
  desc: a shell whose container's network the response tests block
  condition: evt.type in (execve, execveat) and evt.dir=< and proc.name=sh and proc.args contains "saker-resp-block"
  output: block (pid=%proc.pid container=%container.id)
  priority: WARNING
`

// startResponder runs the sensor with respRule and these actions.
func startResponder(tb testing.TB, actions string) *collector {
	tb.Helper()
	return startSensorConfig(tb, responderConfig(tb, actions))
}

// responderConfig is the configuration of respRule with these actions.
func responderConfig(tb testing.TB, actions string) *Config {
	tb.Helper()
	rulesFile := filepath.Join(tb.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(respRule), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := LoadConfig("", nil)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.RulesFiles = []string{rulesFile}
	if cfg.Response, err = response.Parse([]byte(actions)); err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// find waits for the first alert pred accepts.
func (c *collector) find(tb testing.TB, what string, pred func(*alert.Alert) bool) alert.Alert {
	tb.Helper()
	return c.findNth(tb, what, 0, pred)
}

// findNth waits for the n-th (from 0) alert pred accepts.
func (c *collector) findNth(tb testing.TB, what string, n int, pred func(*alert.Alert) bool) alert.Alert {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		c.mu.Lock()
		seen := 0
		for i := range c.alerts {
			if pred(&c.alerts[i]) {
				if seen == n {
					a := c.alerts[i]
					c.mu.Unlock()
					return a
				}
				seen++
			}
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var rules []string
	for _, a := range c.alerts {
		rules = append(rules, a.Rule)
	}
	tb.Fatalf("no alert for %s; got %d alerts: %v", what, len(c.alerts), rules)
	return alert.Alert{}
}

// of matches the alerts (of rule, or action records) about pid.
func of(rule string, pid int) func(*alert.Alert) bool {
	return func(a *alert.Alert) bool {
		return a.Rule == rule && fmt.Sprint(a.OutputFields["proc.pid"]) == strconv.Itoa(pid)
	}
}

// spawnShell starts a marked shell (in its own process group, with a
// sleeping child) and returns it.
func spawnShell(tb testing.TB, i int) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command("sh", "-c", "sleep 10; : saker-resp-test", fmt.Sprint(i))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd
}

// killedBySensor waits for the shell to end and checks it was SIGKILLed;
// it returns the event→kill delay the action record reports.
func killedBySensor(tb testing.TB, c *collector, cmd *exec.Cmd) time.Duration {
	tb.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		tb.Fatalf("shell ended with %v, want SIGKILL from the sensor", err)
	}
	rec := c.find(tb, "action record", of(response.RecordRule, cmd.Process.Pid))
	if rec.OutputFields["response.result"] != response.ResultDone {
		tb.Fatalf("record %v", rec.OutputFields)
	}
	trigger := c.find(tb, "alert", of("Response test shell", cmd.Process.Pid))
	if trigger.UUID == "" || rec.OutputFields["response.alert_id"] != trigger.UUID {
		tb.Fatalf("record answers alert %v, the shell's alert is %q", rec.OutputFields["response.alert_id"], trigger.UUID)
	}
	return time.Duration(rec.OutputFields["response.delay_us"].(int64)) * time.Microsecond
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(float64(len(s)-1)*p)]
}

// TestResponseKillsShell: shells matching a rule are killed with their
// process group, and the action records answer their alerts.
func TestResponseKillsShell(t *testing.T) {
	c := startResponder(t, "- {match: {rule: Response test shell}, action: kill, process_group: true}\n")
	var delays []time.Duration
	for i := range 20 {
		cmd := spawnShell(t, i)
		delays = append(delays, killedBySensor(t, c, cmd))
		// The sleep child, in the shell's group, was killed too (it may
		// stay a zombie until init reaps it).
		// SIGKILL takes effect when the member next runs: poll briefly.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			pids := liveGroupMembers(t, cmd.Process.Pid)
			if len(pids) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("process group %d still has live members %v", cmd.Process.Pid, pids)
			}
		}
	}
	t.Logf("event→kill delay over %d shells: p50 %v p99 %v", len(delays), percentile(delays, 0.5), percentile(delays, 0.99))
}

// liveGroupMembers lists the processes of group pgid that are not zombies.
func liveGroupMembers(t *testing.T, pgid int) []string {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var live []string
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			live = append(live, d.Name())
		}
	}
	return live
}

// TestResponseContainer: a shell started by `docker exec` is killed (the
// event→kill delay logged), and a container is paused through the Docker
// Engine API.
func TestResponseContainer(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("probe hooks are x86-64 syscalls")
	}
	const image = "busybox:saker-response-e2e"
	c := startResponder(t, `rate_limit: {per_second: 100, burst: 100}
actions:
- {match: {rule: Response test shell}, action: kill}
- {match: {rule: Response test pause}, action: container_pause}
`)
	requireImage(t, image, "sh", "sleep")
	name := fmt.Sprintf("saker-response-e2e-%d", os.Getpid())
	id := runContainer(t, name, image, "/bin/sleep", "300")

	var delays []time.Duration
	for i := range 10 {
		out, err := exec.Command("docker", "exec", name, "sh", "-c", "sleep 10; : saker-resp-test", fmt.Sprint(i)).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGKILL) {
			t.Fatalf("docker exec sh: %v (%s), want it killed (exit 137)", err, out)
		}
		rec := c.findNth(t, "action record", i, func(a *alert.Alert) bool {
			return a.Rule == response.RecordRule && a.OutputFields["container.id"] == id && a.OutputFields["response.action"] == response.ActionKill
		})
		if rec.OutputFields["response.result"] != response.ResultDone {
			t.Fatalf("record %v", rec.OutputFields)
		}
		delays = append(delays, time.Duration(rec.OutputFields["response.delay_us"].(int64))*time.Microsecond)
	}
	t.Logf("docker exec shell: event→kill delay over %d execs: p50 %v p99 %v", len(delays), percentile(delays, 0.5), percentile(delays, 0.99))

	pauser := exec.Command("docker", "exec", name, "sh", "-c", "sleep 1; : saker-resp-pause")
	if err := pauser.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pauser.Process.Kill(); _ = pauser.Wait() }()
	rec := c.find(t, "pause record", func(a *alert.Alert) bool {
		return a.Rule == response.RecordRule && a.OutputFields["response.action"] == response.ActionContainerPause
	})
	if rec.OutputFields["response.result"] != response.ResultDone || rec.OutputFields["container.id"] != id {
		t.Fatalf("record %v", rec.OutputFields)
	}
	if out, err := exec.Command("docker", "inspect", "-f", "{{.State.Paused}}", name).Output(); err != nil || strings.TrimSpace(string(out)) != "true" {
		t.Fatalf("container paused = %q (%v), want true", out, err)
	}
}

// TestResponseBlocksContainerNetwork: a shell started by `docker exec`
// gets its container's network blocked (the container's cgroup: a ping
// inside it, on its own loopback, fails with EPERM) until the block is
// released, as `saker response release` does.
func TestResponseBlocksContainerNetwork(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("probe hooks are x86-64 syscalls")
	}
	const image = "busybox:saker-response-net"
	requireImage(t, image, "sh", "sleep", "ping")
	blockDir := t.TempDir()
	if err := unix.Mount("bpf", blockDir, "bpf", 0, ""); err != nil {
		t.Fatalf("mount bpffs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(blockDir, 0) })
	c := startResponder(t, `block_dir: `+blockDir+`
actions:
- {match: {rule: Response test block}, action: block_network, ttl: 1h}
`)
	name := fmt.Sprintf("saker-response-net-%d", os.Getpid())
	id := runContainer(t, name, image, "/bin/sleep", "300")
	ping := func() ([]byte, error) {
		return exec.Command("docker", "exec", name, "ping", "-c", "1", "-W", "5", "127.0.0.1").CombinedOutput()
	}
	if out, err := ping(); err != nil {
		t.Fatalf("ping before the block: %v: %s", err, out)
	}
	// The shell lives on, so its cgroup is read from a live process.
	sh := exec.Command("docker", "exec", name, "sh", "-c", "sleep 300; : saker-resp-block")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sh.Process.Kill(); _ = sh.Wait() }()
	rec := c.find(t, "block record", func(a *alert.Alert) bool {
		return a.Rule == response.RecordRule && a.OutputFields["response.action"] == response.ActionBlockNetwork
	})
	if rec.OutputFields["response.result"] != response.ResultDone || rec.OutputFields["container.id"] != id {
		t.Fatalf("record %v", rec.OutputFields)
	}
	b, err := response.NewNetBlocker(blockDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	blocks, err := b.List()
	if err != nil || len(blocks) != 1 || !strings.Contains(blocks[0].Cgroup, id) {
		t.Fatalf("blocks %+v (%v), want one of container %s", blocks, err, id)
	}
	t.Cleanup(func() { _, _ = b.Release(blocks[0].Name) })
	if out, err := ping(); err == nil || !strings.Contains(string(out), "not permitted") {
		t.Fatalf("ping while blocked: %v: %s; want it refused (EPERM)", err, out)
	}
	if ok, err := b.Release(blocks[0].Name); !ok || err != nil {
		t.Fatalf("release: %v %v", ok, err)
	}
	if out, err := ping(); err != nil {
		t.Fatalf("ping after release: %v: %s", err, out)
	}
}

// TestLoadConfigResponse: the config file's response key reaches the
// typed response config (durations included) and is validated.
func TestLoadConfigResponse(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "falco.yaml")
	if err := os.WriteFile(good, []byte(`
response:
  dry_run: true
  matching: all
  actions:
  - {match: {rule: Terminal shell in container}, action: kill, process_group: true}
  - {match: {priority: critical}, action: webhook, url: "http://127.0.0.1:1/", timeout: 3s}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(good, []string{"response.rate_limit.burst=7"})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Response
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if !r.Active() || !r.DryRun || r.Matching != response.MatchAll || r.RateLimit.Burst != 7 || len(r.Actions) != 2 ||
		!r.Actions[0].ProcessGroup || r.Actions[1].Timeout != 3*time.Second {
		t.Fatalf("response config %+v", r)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("response:\n  actions:\n  - {match: {rule: x}, action: reboot}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = LoadConfig(bad, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Response.Validate(); err == nil || !strings.Contains(err.Error(), `actions[0]: unknown action "reboot"`) {
		t.Fatalf("validate: %v", err)
	}
}
