package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSensorContainerBlocksNetwork runs the sensor as docker-compose.yml
// runs it — the product image, the sensor service's user, capabilities,
// pid namespace and volumes — in its own cgroup namespace (Docker's
// default on cgroup v2 hosts; here, on cgroup v1, it is asked for), with a
// block_network action. A `docker exec` shell in another container gets
// that container's network blocked (ping inside fails with "Operation
// not permitted"), `saker response release -all` inside the sensor's
// container lifts it, and the sensor records the release. The host's
// /sys/fs/bpf is replaced by a bpffs the test mounts (this host has none
// mounted there, and the test must not change the host's).
func TestSensorContainerBlocksNetwork(t *testing.T) {
	requireDocker(t, "builds the image and runs containers")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sh := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.WaitDelay = 10 * time.Second // dockerd started by a script must not hold our pipes
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	sh("bash", "e2e/ensure-dockerd.sh")
	tag := fmt.Sprintf("saker-e2e/saker:netblock-%d", os.Getpid())
	cmd := exec.CommandContext(ctx, "bash", "build-image.sh", tag)
	cmd.Env = append(os.Environ(), "SAKER_BUILD_REUSE_CACHE=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build-image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
	target := "saker-e2e/busybox:netblock"
	sh("bash", "e2e/images.sh", "busybox", target)

	bpffs := t.TempDir()
	if err := unix.Mount("bpf", bpffs, "bpf", 0, ""); err != nil {
		t.Fatalf("mount bpffs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(bpffs, unix.MNT_DETACH) })
	files := t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "rules.yaml"), []byte(`
- rule: Container test block
  desc: a shell whose container's network the test blocks
  condition: evt.type in (execve, execveat) and evt.dir=< and proc.name=sh and proc.args contains "saker-netblock-e2e"
  output: block (pid=%proc.pid container=%container.id)
  priority: WARNING
- rule: Host test kill
  desc: a shell of an unprivileged host user the sensor must be able to kill
  condition: evt.type in (execve, execveat) and evt.dir=< and proc.name=sh and proc.args contains "saker-kill-e2e"
  output: kill (pid=%proc.pid user=%user.name)
  priority: WARNING
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "actions.yaml"), []byte(`
- {match: {rule: Container test block}, action: block_network}
- {match: {rule: Host test kill}, action: kill}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	cf, _ := loadCompose(t)
	sen := cf.Services["sensor"]
	name := fmt.Sprintf("saker-netblock-sensor-%d", os.Getpid())
	args := []string{"run", "-d", "--name", name, "--cgroupns", "private", "--user", sen.User, "--pid", sen.Pid}
	for _, c := range sen.CapDrop {
		args = append(args, "--cap-drop", c)
	}
	for _, c := range sen.CapAdd {
		args = append(args, "--cap-add", c)
	}
	for k, v := range sen.Environment {
		if v != nil {
			args = append(args, "-e", k+"="+*v)
		}
	}
	mountsBPF := false
	for _, v := range sen.Volumes {
		src, rest, _ := strings.Cut(v, ":")
		switch {
		case !strings.HasPrefix(src, "/"):
			continue // named volumes (the spool)
		case src == "/sys/fs/bpf":
			src, mountsBPF = bpffs, true
		}
		args = append(args, "-v", src+":"+rest)
	}
	if !mountsBPF {
		t.Fatal("docker-compose.yml's sensor does not mount /sys/fs/bpf")
	}
	args = append(args, "-v", files+":/etc/saker-test:ro", tag,
		"sensor", "-r", "/etc/saker-test/rules.yaml", "--actions", "/etc/saker-test/actions.yaml", "-o", "json_output=true")
	sh("docker", args...)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "60", name).CombinedOutput()
			t.Logf("sensor logs:\n%s", out)
		}
		_ = exec.Command("docker", "rm", "-f", name).Run()
	})
	logs := func() string {
		out, _ := exec.CommandContext(ctx, "docker", "logs", name).CombinedOutput()
		return string(out)
	}
	waitLog := func(what, substr string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !strings.Contains(logs(), substr); time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("sensor: no %s in its logs", what)
			}
		}
	}
	waitLog("start", "sensor started")

	ctr := fmt.Sprintf("saker-netblock-target-%d", os.Getpid())
	sh("docker", "run", "-d", "--name", ctr, target, "sleep", "300")
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", ctr).Run() })
	ping := func() (string, error) {
		out, err := exec.CommandContext(ctx, "docker", "exec", ctr, "ping", "-c", "1", "-W", "1", "127.0.0.1").CombinedOutput()
		return string(out), err
	}
	if out, err := ping(); err != nil {
		t.Fatalf("ping before the block: %v %s", err, out)
	}
	sh("docker", "exec", ctr, "sh", "-c", ": saker-netblock-e2e")
	waitLog("block record", `"response.result":"done"`)
	out, err := ping()
	if err == nil || !strings.Contains(out, "Operation not permitted") {
		t.Fatalf("ping after the block: %v %s; want Operation not permitted", err, out)
	}
	id := strings.TrimSpace(sh("docker", "inspect", "-f", "{{.Id}}", ctr))
	list := sh("docker", "exec", name, "/usr/bin/saker", "response", "list")
	if !strings.Contains(list, id) {
		t.Fatalf("saker response list in the sensor's container:\n%s", list)
	}
	sh("docker", "exec", name, "/usr/bin/saker", "response", "release", "-all")
	if out, err := ping(); err != nil {
		t.Fatalf("ping after release: %v %s", err, out)
	}
	waitLog("release record", `"response.result":"released"`)

	// kill of another user's process needs CAP_KILL: without it the sensor's
	// kill (and the guard's SIGCONT of a held process) fails with EPERM.
	victim := exec.CommandContext(ctx, "sh", "-c", "sleep 300; : saker-kill-e2e")
	victim.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 1, Gid: 1}}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	waited := make(chan struct{})
	go func() { waitErr = victim.Wait(); close(waited) }()
	t.Cleanup(func() { _ = victim.Process.Kill(); <-waited })
	waitLog("kill record", `"response.action":"kill"`)
	if l := logs(); !regexp.MustCompile(`"response.action":"kill"[^\n]*"response.result":"done"|"response.result":"done"[^\n]*"response.action":"kill"`).MatchString(l) {
		t.Fatalf("the kill of uid 1's shell did not succeed; sensor logs:\n%s", l)
	}
	<-waited
	// HOST_ROOT: the host's users, not the image's, name uid 1.
	if l := logs(); !strings.Contains(l, "kill (pid=") || !strings.Contains(l, "user=daemon)") {
		t.Errorf("the alert does not name uid 1 as the host's user daemon; sensor logs:\n%s", l)
	}
	var exit *exec.ExitError
	if !errors.As(waitErr, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("uid 1's shell ended with %v, want killed by SIGKILL", waitErr)
	}
	t.Logf("blocked and released from the sensor's container:\n%s", list)
}
