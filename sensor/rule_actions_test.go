//go:build linux

package sensor

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
)

// actors is a directory holding the ruleactor command (built static, so it
// also runs in busybox containers) under the process names rules look for.
type actors struct {
	dir string
}

// buildActors builds sensor/internal/ruleactor into a fresh world-readable
// directory (so other users and containers can run it) and links it under
// names.
func buildActors(t *testing.T, names ...string) *actors {
	t.Helper()
	dir, err := os.MkdirTemp("", "saker-actors-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	cmd := exec.Command(gobin, "build", "-o", filepath.Join(dir, "ruleactor"), "./internal/ruleactor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build ruleactor: %v\n%s", err, out)
	}
	for _, n := range names {
		if err := os.Symlink("ruleactor", filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return &actors{dir: dir}
}

// path is the actor's path on the host under name.
func (a *actors) path(name string) string { return filepath.Join(a.dir, name) }

// asUser runs cmd as uid/gid (a system user such as daemon).
func asUser(cmd *exec.Cmd, uid uint32) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return cmd
}

// runCmd runs cmd to its end; its exit status does not matter (the
// behaviour is the system call it makes), a failure to start does.
func runCmd(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState == nil {
		t.Fatalf("%s: %v %s", cmd.Path, err, out)
	}
}

// startListener starts a listener (a command printing "listening" once it
// is bound: ruleactor listen) and returns when it is ready; it ends after
// one connection, or with the test.
func startListener(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "listening" {
		t.Fatalf("listener: %q %v", line, err)
	}
	go io.Copy(io.Discard, out)
}

// dexec is docker exec of args in container ctr.
func dexec(ctr string, args ...string) *exec.Cmd {
	return exec.Command("docker", append([]string{"exec", ctr}, args...)...)
}

// netContainer starts container name from moreImage (sleep arg, a
// command line unique to it) with no network but its own loopback, on
// which it adds the addresses the network rules watch — a public one
// (198.51.100.7, TEST-NET-2) and the cloud metadata one — so connections
// to them stay inside the container's namespace. It has CAP_NET_ADMIN and
// the actors at /actor.
func netContainer(t *testing.T, name string, act *actors, arg string) string {
	t.Helper()
	runContainer(t, name, "--network", "none", "--cap-add", "NET_ADMIN", "-v", act.dir+":/actor:ro", moreImage, "/bin/sleep", arg)
	for _, ip := range []string{"198.51.100.7/32", "169.254.169.254/32"} {
		if out, err := dexec(name, "ip", "addr", "add", ip, "dev", "lo").CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s: %v %s", ip, err, out)
		}
	}
	return name
}

// TestOfficialRulesFireActions performs, for each rule of the three
// official files reachable here and not covered by TestOfficialRulesFire,
// the behaviour the rule describes — on the host as root or as the system
// user daemon, and inside real containers from an offline-built busybox
// image — and checks that exactly that rule fires for the process, with
// the fields its output prints. ruleactor makes the system calls no
// busybox applet makes, under the process name the rule looks for.
func TestOfficialRulesFireActions(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RulesFiles = officialRules
	// Ships disabled; it would shadow "Interpreted procs inbound network
	// activity" (TestOfficialRulesFireSelected) and fires on no other
	// action here.
	cfg.Rules = []RuleSelection{{Enable: &RuleMatch{Rule: "Unexpected inbound connection source"}}}
	c := startSensorConfig(t, cfg)
	act := buildActors(t, "inboundsrv", "nginx", "mysqld", "login", "dbgattach", "antidebug", "nsjump", "setuider", "glibcenv", "wget",
		"sshd", "bpfload", "sudoedit", "pkexec", "uffd", "whoami", "poolclient",
		"srv", "ssh", "meta", "sort", "udpclient", "revsh", "sniffer", "unsharer", "kubectl")
	pid := os.Getpid()
	const daemon = 1 // Debian's daemon user

	// Started first: the rule wants a server process older than 5 s.
	trusted := exec.Command(act.path("nginx"), "open-after", "5500ms", "/etc/shadow")
	if err := trusted.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { trusted.Process.Kill(); trusted.Wait() })

	t.Run("host", func(t *testing.T) {
		t.Run("Read sensitive file untrusted", func(t *testing.T) {
			miss := fmt.Sprintf("/nonexistent-saker-%d", pid)
			run(t, "cat", "/etc/shadow", miss)
			c.expectOnly(t, "Read sensitive file untrusted", "proc.cmdline", "cat /etc/shadow "+miss, map[string]string{
				"fd.name": "/etc/shadow", "proc.name": "cat", "evt.type": "openat", "user.name": "root",
			})
		})

		t.Run("Run shell untrusted", func(t *testing.T) {
			runCmd(t, exec.Command(act.path("nginx"), "spawn", "/bin/sh", "-c", "exit 5"))
			c.expectOnly(t, "Run shell untrusted", "proc.cmdline", "sh -c exit 5", map[string]string{
				"proc.pname": "nginx", "proc.pexepath": act.path("nginx"), "proc.name": "sh", "evt.type": "execve",
			})
		})

		t.Run("Web Server Spawned Shell", func(t *testing.T) {
			// The web server's shell runs another shell: the outer one is
			// "Run shell untrusted" (it comes first in the files), the inner
			// one, whose parent is a shell, is this rule's.
			runCmd(t, exec.Command(act.path("nginx"), "spawn", "/bin/sh", "-c", "sh -c 'exit 6'; exit 0"))
			c.expectOnly(t, "Web Server Spawned Shell", "proc.cmdline", "sh -c exit 6", map[string]string{
				"proc.aname[2]": "nginx", "proc.name": "sh", "evt.type": "execve",
			})
		})

		t.Run("Web Server Spawned Suspicious Child Process", func(t *testing.T) {
			wrap := fmt.Sprintf("--wrap=%d", pid)
			runCmd(t, exec.Command(act.path("nginx"), "spawn", "base64", wrap, "/dev/null"))
			c.expectOnly(t, "Web Server Spawned Suspicious Child Process", "proc.cmdline", "base64 "+wrap+" /dev/null", map[string]string{
				"proc.name": "base64", "proc.pname": "nginx",
			})
		})

		t.Run("Reverse Shell from Web Server", func(t *testing.T) {
			fifo := fmt.Sprintf("/tmp/saker-fifo-%d", pid)
			t.Cleanup(func() { os.Remove(fifo) })
			runCmd(t, exec.Command(act.path("nginx"), "spawn", "mkfifo", fifo))
			c.expectOnly(t, "Reverse Shell from Web Server", "proc.cmdline", "mkfifo "+fifo, map[string]string{
				"proc.name": "mkfifo", "proc.pname": "nginx",
			})
		})

		t.Run("DB program spawned process", func(t *testing.T) {
			arg := fmt.Sprintf("db-%d", pid)
			runCmd(t, exec.Command(act.path("mysqld"), "spawn", "/bin/echo", arg))
			c.expectOnly(t, "DB program spawned process", "proc.cmdline", "echo "+arg, map[string]string{
				"proc.pname": "mysqld", "proc.name": "echo", "evt.type": "execve",
			})
		})

		t.Run("System user interactive", func(t *testing.T) {
			runCmd(t, asUser(exec.Command(act.path("login")), daemon))
			c.expectOnly(t, "System user interactive", "proc.exepath", act.path("login"), map[string]string{
				"user.name": "daemon", "user.uid": "1", "proc.name": "login",
			})
		})

		t.Run("PTRACE attached to process", func(t *testing.T) {
			runCmd(t, exec.Command(act.path("dbgattach"), "ptrace-attach"))
			c.expectOnly(t, "PTRACE attached to process", "proc.exepath", act.path("dbgattach"), map[string]string{
				"evt.type": "ptrace", "proc.name": "dbgattach",
			})
		})

		t.Run("PTRACE anti-debug attempt", func(t *testing.T) {
			runCmd(t, exec.Command(act.path("antidebug"), "traceme"))
			c.expectOnly(t, "PTRACE anti-debug attempt", "proc.exepath", act.path("antidebug"), map[string]string{
				"evt.type": "ptrace", "proc.name": "antidebug",
			})
		})

		t.Run("Change thread namespace", func(t *testing.T) {
			runCmd(t, exec.Command(act.path("nsjump"), "setns"))
			c.expectOnly(t, "Change thread namespace", "proc.exepath", act.path("nsjump"), map[string]string{
				"evt.type": "setns", "proc.name": "nsjump", "user.name": "root",
			})
		})

		t.Run("Non sudo setuid", func(t *testing.T) {
			runCmd(t, asUser(exec.Command(act.path("setuider"), "setuid", "0"), daemon))
			c.expectOnly(t, "Non sudo setuid", "proc.exepath", act.path("setuider"), map[string]string{
				"evt.type": "setuid", "user.name": "daemon", "proc.name": "setuider",
			})
		})

		t.Run("Potential Local Privilege Escalation via Environment Variables Misuse", func(t *testing.T) {
			cmd := exec.Command(act.path("glibcenv"))
			cmd.Env = []string{"GLIBC_TUNABLES=glibc.malloc.mxfast=0", "PATH=/usr/bin:/bin"}
			runCmd(t, cmd)
			a := c.expectOnlyAlert(t, "Potential Local Privilege Escalation via Environment Variables Misuse", "proc.exepath", act.path("glibcenv"), map[string]string{
				"evt.type": "execve", "proc.name": "glibcenv",
			})
			if env := fmt.Sprint(a.OutputFields["proc.env"]); !strings.Contains(env, "GLIBC_TUNABLES=glibc.malloc.mxfast=0") {
				t.Errorf("proc.env %q", env)
			}
		})

		t.Run("Program run with disallowed http proxy env", func(t *testing.T) {
			cmd := exec.Command(act.path("wget"), "http://127.0.0.1:9/")
			cmd.Env = []string{"HTTP_PROXY=http://127.0.0.1:3128", "PATH=/usr/bin:/bin"}
			runCmd(t, cmd)
			a := c.expectOnlyAlert(t, "Program run with disallowed http proxy env", "proc.exepath", act.path("wget"), map[string]string{
				"evt.type": "execve", "proc.name": "wget",
			})
			if env := fmt.Sprint(a.OutputFields["proc.env"]); !strings.Contains(env, "HTTP_PROXY=http://127.0.0.1:3128") {
				t.Errorf("proc.env %q", env)
			}
		})

		t.Run("Backdoored library loaded into SSHD (CVE-2024-3094)", func(t *testing.T) {
			lib := filepath.Join(act.dir, "liblzma.so.5.6.1")
			if err := os.WriteFile(lib, []byte("\x7fELF"), 0o644); err != nil {
				t.Fatal(err)
			}
			runCmd(t, exec.Command(act.path("sshd"), "open", lib, "r"))
			c.expectOnly(t, "Backdoored library loaded into SSHD (CVE-2024-3094)", "proc.exepath", act.path("sshd"), map[string]string{
				"fd.name": lib, "proc.name": "sshd", "evt.type": "openat",
			})
		})

		t.Run("BPF Program Not Profiled", func(t *testing.T) {
			runCmd(t, exec.Command(act.path("bpfload"), "bpf-load"))
			c.expectOnly(t, "BPF Program Not Profiled", "proc.exepath", act.path("bpfload"), map[string]string{
				"evt.type": "bpf", "evt.arg.cmd": "BPF_PROG_LOAD", "proc.name": "bpfload",
			})
		})

		t.Run("Sudo Potential Privilege Escalation", func(t *testing.T) {
			runCmd(t, asUser(exec.Command(act.path("sudoedit"), "-s", `\`), daemon))
			c.expectOnly(t, "Sudo Potential Privilege Escalation", "proc.exepath", act.path("sudoedit"), map[string]string{
				"proc.cmdline": `sudoedit -s \`, "user.name": "daemon", "evt.type": "execve",
			})
		})

		t.Run("Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)", func(t *testing.T) {
			runCmd(t, asUser(exec.Command(act.path("pkexec")), daemon))
			c.expectOnly(t, "Polkit Local Privilege Escalation Vulnerability (CVE-2021-4034)", "proc.exepath", act.path("pkexec"), map[string]string{
				"proc.args": "", "proc.name": "pkexec", "user.name": "daemon",
			})
		})

		t.Run("Unprivileged Delegation of Page Faults Handling to a Userspace Process", func(t *testing.T) {
			runCmd(t, asUser(exec.Command(act.path("uffd"), "userfaultfd"), daemon))
			c.expectOnly(t, "Unprivileged Delegation of Page Faults Handling to a Userspace Process", "proc.exepath", act.path("uffd"), map[string]string{
				"evt.type": "userfaultfd", "user.name": "daemon",
			})
		})

		t.Run("Basic Interactive Reconnaissance", func(t *testing.T) {
			m, sl, err := openPTY()
			if err != nil {
				t.Fatalf("no pty: %v", err)
			}
			defer m.Close()
			go io.Copy(io.Discard, m)
			cmd := exec.Command(act.path("whoami"))
			cmd.Stdin, cmd.Stdout, cmd.Stderr = sl, sl, sl
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			sl.Close()
			a := c.expectOnlyAlert(t, "Basic Interactive Reconnaissance", "proc.exepath", act.path("whoami"), map[string]string{
				"proc.name": "whoami", "evt.type": "execve",
			})
			if tty := fmt.Sprint(a.OutputFields["proc.tty"]); tty == "0" || tty == "" {
				t.Errorf("proc.tty %q", tty)
			}
		})

		t.Run("Detect crypto miners using the Stratum protocol", func(t *testing.T) {
			runCmd(t, exec.Command(act.path("poolclient"), "-o", "stratum+tcp://pool.invalid:3333"))
			c.expectOnly(t, "Detect crypto miners using the Stratum protocol", "proc.exepath", act.path("poolclient"), map[string]string{
				"proc.cmdline": "poolclient -o stratum+tcp://pool.invalid:3333", "evt.type": "execve",
			})
		})

		t.Run("Read sensitive file trusted after startup", func(t *testing.T) {
			trusted.Wait()
			c.expectOnly(t, "Read sensitive file trusted after startup", "proc.exepath", act.path("nginx"), map[string]string{
				"fd.name": "/etc/shadow", "proc.name": "nginx", "proc.cmdline": "nginx open-after 5500ms /etc/shadow",
			})
		})
	})

	t.Run("container", func(t *testing.T) {
		requireImageFiles(t, moreImage, moreApplets, moreFiles)
		name := fmt.Sprintf("saker-rules-%d", pid)
		net := netContainer(t, name+"-net", act, "3001")
		inNet := map[string]string{"container.name": net, "container.image.repository": "saker-official-e2e-more"}
		with := func(m map[string]string, more map[string]string) map[string]string {
			o := map[string]string{}
			for k, v := range m {
				o[k] = v
			}
			for k, v := range more {
				o[k] = v
			}
			return o
		}

		t.Run("Launch Excessively Capable Container", func(t *testing.T) {
			a := c.expectOnlyAlert(t, "Launch Excessively Capable Container", "proc.cmdline", "sleep 3001", with(inNet, map[string]string{"evt.type": "execve"}))
			if caps := fmt.Sprint(a.OutputFields["thread.cap_permitted"]); !strings.Contains(caps, "CAP_NET_ADMIN") {
				t.Errorf("thread.cap_permitted %q", caps)
			}
		})

		t.Run("Disallowed SSH Connection Non Standard Port", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/srv", "listen", "198.51.100.7:4444"))
			runCmd(t, dexec(net, "/actor/ssh", "connect", "198.51.100.7:4444"))
			c.expectOnly(t, "Disallowed SSH Connection Non Standard Port", "proc.cmdline", "ssh connect 198.51.100.7:4444", with(inNet, map[string]string{
				"evt.type": "connect", "fd.rport": "4444", "fd.l4proto": "tcp", "proc.exepath": "/actor/ssh",
			}))
		})

		t.Run("Contact EC2 Instance Metadata Service From Container", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/srv", "listen", "169.254.169.254:80"))
			runCmd(t, dexec(net, "/actor/meta", "connect", "169.254.169.254:80"))
			c.expectOnly(t, "Contact EC2 Instance Metadata Service From Container", "proc.cmdline", "meta connect 169.254.169.254:80", with(inNet, map[string]string{
				"evt.type": "connect", "fd.rport": "80",
			}))
		})

		t.Run("System procs network activity", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/srv", "listen", "198.51.100.7:8080"))
			runCmd(t, dexec(net, "/actor/sort", "connect", "198.51.100.7:8080"))
			c.expectOnly(t, "System procs network activity", "proc.cmdline", "sort connect 198.51.100.7:8080", with(inNet, map[string]string{
				"evt.type": "connect", "proc.name": "sort",
			}))
		})

		t.Run("Unexpected UDP Traffic", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/srv", "listen", "198.51.100.7:9999", "udp"))
			runCmd(t, dexec(net, "/actor/udpclient", "connect", "198.51.100.7:9999", "udp"))
			c.expectOnly(t, "Unexpected UDP Traffic", "proc.cmdline", "udpclient connect 198.51.100.7:9999 udp", with(inNet, map[string]string{
				"evt.type": "connect", "fd.l4proto": "udp", "fd.rport": "9999",
			}))
		})

		t.Run("Redirect STDOUT/STDIN to Network Connection in Container", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/srv", "listen", "127.0.0.1:7000"))
			runCmd(t, dexec(net, "/actor/revsh", "dup", "127.0.0.1:7000"))
			c.expectOnly(t, "Redirect STDOUT/STDIN to Network Connection in Container", "proc.cmdline", "revsh dup 127.0.0.1:7000", with(inNet, map[string]string{
				"evt.type": "dup3", "fd.type": "ipv4", "fd.rport": "7000",
			}))
		})

		t.Run("Unexpected inbound connection source", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/inboundsrv", "listen", "198.51.100.7:5555"))
			runCmd(t, dexec(net, "/actor/srv", "connect", "198.51.100.7:5555"))
			c.expectOnly(t, "Unexpected inbound connection source", "proc.cmdline", "inboundsrv listen 198.51.100.7:5555", with(inNet, map[string]string{
				"fd.lport": "5555", "fd.l4proto": "tcp",
			}))
		})

		t.Run("Packet socket created in container", func(t *testing.T) {
			runCmd(t, dexec(net, "/actor/sniffer", "packet-socket"))
			c.expectOnly(t, "Packet socket created in container", "proc.cmdline", "sniffer packet-socket", with(inNet, map[string]string{
				"evt.type": "socket",
			}))
		})

		t.Run("Change namespace privileges via unshare", func(t *testing.T) {
			runCmd(t, dexec(net, "/actor/unsharer", "unshare"))
			c.expectOnly(t, "Change namespace privileges via unshare", "proc.cmdline", "unsharer unshare", with(inNet, map[string]string{
				"evt.type": "unshare",
			}))
		})

		t.Run("Kubernetes Client Tool Launched in Container", func(t *testing.T) {
			runCmd(t, dexec(net, "/actor/kubectl", "get", "secrets"))
			c.expectOnly(t, "Kubernetes Client Tool Launched in Container", "proc.cmdline", "kubectl get secrets", with(inNet, map[string]string{
				"evt.type": "execve", "proc.name": "kubectl",
			}))
		})

		for _, tc := range []struct {
			rule    string
			args    []string
			cmdline string
			fields  map[string]string
		}{
			{"Read environment variable from /proc files", []string{"cat", "/proc/self/environ"}, "cat /proc/self/environ", map[string]string{"proc.name": "cat"}},
			{"Read ssh information", []string{"cat", "/root/.ssh/known_hosts"}, "cat /root/.ssh/known_hosts", map[string]string{"fd.name": "/root/.ssh/known_hosts"}},
			// A shell's >> opens for writing only (touch opens read-write,
			// which "Read ssh information", earlier in the files, takes).
			{"Adding ssh keys to authorized_keys", []string{"sh", "-c", "echo ssh-ed25519 AAAA saker >> /root/.ssh/authorized_keys"}, "sh -c echo ssh-ed25519 AAAA saker >> /root/.ssh/authorized_keys", map[string]string{"fd.name": "/root/.ssh/authorized_keys"}},
			{"Write below monitored dir", []string{"sh", "-c", "echo Host saker >> /root/.ssh/config"}, "sh -c echo Host saker >> /root/.ssh/config", map[string]string{"fd.name": "/root/.ssh/config"}},
			{"Update Package Repository", []string{"touch", "/etc/apt/sources.list.d/saker.list"}, "touch /etc/apt/sources.list.d/saker.list", map[string]string{"fd.name": "/etc/apt/sources.list.d/saker.list"}},
			{"Write below rpm database", []string{"touch", "/var/lib/rpm/Packages"}, "touch /var/lib/rpm/Packages", map[string]string{"fd.name": "/var/lib/rpm/Packages"}},
			{"Modify binary dirs", []string{"rm", "/bin/false"}, "rm /bin/false", map[string]string{"evt.type": "unlink"}},
			{"Exfiltrating Artifacts via Kubernetes Control Plane", []string{"tar", "cf", "/dev/null", "/tmp/data"}, "tar cf /dev/null /tmp/data", map[string]string{"fd.name": "/tmp/data", "proc.tty": "0"}},
		} {
			t.Run(tc.rule, func(t *testing.T) {
				runCmd(t, dexec(net, tc.args...))
				c.expectOnly(t, tc.rule, "proc.cmdline", tc.cmdline, with(inNet, tc.fields))
			})
		}

		t.Run("Detect release_agent File Container Escapes", func(t *testing.T) {
			// With CAP_SYS_ADMIN a container can mount a cgroup v1
			// hierarchy and write its release_agent; here the write goes to
			// a file of that name (no mount: the host's AppArmor/cgroup
			// setup is not ours to change). The rule is the open for write.
			ctr := name + "-sysadmin"
			runContainer(t, ctr, "--network", "none", "--cap-add", "SYS_ADMIN", moreImage, "/bin/sleep", "3002")
			c.expectOnly(t, "Launch Excessively Capable Container", "proc.cmdline", "sleep 3002", map[string]string{"container.name": ctr})
			runCmd(t, dexec(ctr, "touch", "/tmp/release_agent"))
			a := c.expectOnlyAlert(t, "Detect release_agent File Container Escapes", "proc.cmdline", "touch /tmp/release_agent", map[string]string{
				"container.name": ctr, "fd.name": "/tmp/release_agent",
			})
			if caps := fmt.Sprint(a.OutputFields["thread.cap_effective"]); !strings.Contains(caps, "CAP_SYS_ADMIN") {
				t.Errorf("thread.cap_effective %q", caps)
			}
		})

		t.Run("Launch Sensitive Mount Container", func(t *testing.T) {
			ctr := name + "-mnt"
			runContainer(t, ctr, "--network", "none", "-v", "/etc:/host/etc:ro", "--device", "/dev/null:/dev/sdz", moreImage, "/bin/sleep", "3003")
			a := c.expectOnlyAlert(t, "Launch Sensitive Mount Container", "proc.cmdline", "sleep 3003", map[string]string{"container.name": ctr})
			if m := fmt.Sprint(a.OutputFields["container.mounts"]); !strings.Contains(m, "/etc:/host/etc") {
				t.Errorf("container.mounts %q", m)
			}

			t.Run("Container Access to Host Sensitive Paths", func(t *testing.T) {
				runCmd(t, dexec(ctr, "cat", "/host/etc/hostname"))
				c.expectOnly(t, "Container Access to Host Sensitive Paths", "proc.cmdline", "cat /host/etc/hostname", map[string]string{
					"container.name": ctr, "fd.name": "/host/etc/hostname",
				})
			})

			t.Run("Privileged Container Device Access", func(t *testing.T) {
				runCmd(t, dexec(ctr, "cat", "/dev/sdz"))
				c.expectOnly(t, "Privileged Container Device Access", "proc.cmdline", "cat /dev/sdz", map[string]string{
					"container.name": ctr, "fd.name": "/dev/sdz",
				})
			})
		})
	})
}

// expectOnlyAlert is expectOnly returning the alert.
func (c *collector) expectOnlyAlert(t *testing.T, rule, key, value string, fields map[string]string) alert.Alert {
	t.Helper()
	c.expectOnly(t, rule, key, value, fields)
	return c.wait(t, rule, func(a *alert.Alert) bool { return a.Rule == rule && fmt.Sprint(a.OutputFields[key]) == value })
}

// TestOfficialRulesFireSelected proves rules that ship disabled, or that an
// earlier rule of the files shadows under Falco's first-match semantics,
// with the falco.yaml rules selection a user would write.
func TestOfficialRulesFireSelected(t *testing.T) {
	cfg, err := LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RulesFiles = officialRules
	for _, r := range []string{"Read Shell Configuration File", "Create Hidden Files or Directories", "Container Drift Detected (chmod)",
		"Container Drift Detected (open+create)", "Container Run as Root User", "Modify Container Entrypoint",
		"Interpreted procs outbound network activity", "Interpreted procs inbound network activity", "Unexpected K8s NodePort Connection"} {
		cfg.Rules = append(cfg.Rules, RuleSelection{Enable: &RuleMatch{Rule: r}})
	}
	// These come first in the files for the same events.
	for _, r := range []string{"Launch Suspicious Network Tool on Host", "Launch Suspicious Network Tool in Container", "Contact EC2 Instance Metadata Service From Container"} {
		cfg.Rules = append(cfg.Rules, RuleSelection{Disable: &RuleMatch{Rule: r}})
	}
	c := startSensorConfig(t, cfg)
	act := buildActors(t, "socat", "npm", "ncat", "dropper", "entry", "python", "srv", "client", "meta")
	pid := os.Getpid()
	dir := t.TempDir()

	t.Run("host", func(t *testing.T) {
		t.Run("Netcat/Socat Remote Code Execution on Host", func(t *testing.T) {
			runCmd(t, exec.Command(act.path("socat"), "TCP-LISTEN:4444", "EXEC:/bin/sh"))
			c.expectOnly(t, "Netcat/Socat Remote Code Execution on Host", "proc.exepath", act.path("socat"), map[string]string{
				"proc.cmdline": "socat TCP-LISTEN:4444 EXEC:/bin/sh", "evt.type": "execve",
			})
		})

		t.Run("Read Shell Configuration File", func(t *testing.T) {
			rc := filepath.Join(dir, ".bashrc")
			if err := os.WriteFile(rc, []byte("alias ll='ls -l'\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, "cat", rc)
			c.expectOnly(t, "Read Shell Configuration File", "proc.cmdline", "cat "+rc, map[string]string{"fd.name": rc, "proc.name": "cat"})
		})

		t.Run("Create Hidden Files or Directories", func(t *testing.T) {
			hidden := filepath.Join(dir, fmt.Sprintf(".saker-hidden-%d", pid))
			run(t, "touch", hidden)
			c.expectOnly(t, "Create Hidden Files or Directories", "proc.cmdline", "touch "+hidden, map[string]string{"fd.name": hidden, "proc.name": "touch"})
		})
	})

	t.Run("container", func(t *testing.T) {
		requireImageFiles(t, moreImage, moreApplets, moreFiles)
		name := fmt.Sprintf("saker-rules-sel-%d", pid)
		plain := name + "-plain"
		runContainer(t, plain, "--network", "none", "-v", act.dir+":/actor:ro", moreImage, "/bin/sleep", "3004")

		t.Run("Container Run as Root User", func(t *testing.T) {
			c.expectOnly(t, "Container Run as Root User", "proc.cmdline", "sleep 3004", map[string]string{"container.name": plain, "user.uid": "0"})
		})

		// runc's init sets the container up (chmod of the rootfs' /dev
		// and /sys/fs/cgroup, the write open of the exec fifo through
		// /proc/self/fd/N), then execs sleep in the same process, so the
		// alert above comes after every alert of its setup. It renamed
		// itself "runc:[2:INIT]" after "runc:[1:CHILD]" forked it; Falco
		// reports the name it was forked with, which the rules' runc
		// exclusions test (proc.cmdline = "runc:[1:CHILD] init").
		t.Run("runc init is excluded", func(t *testing.T) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, a := range c.alerts {
				if a.OutputFields["container.name"] == plain && strings.HasPrefix(fmt.Sprint(a.OutputFields["proc.name"]), "runc") {
					t.Errorf("%s for the container runtime: %s", a.Rule, a.Output)
				}
			}
		})

		t.Run("Container Drift Detected (chmod)", func(t *testing.T) {
			runCmd(t, dexec(plain, "chmod", "755", "/tmp/data"))
			c.expectOnly(t, "Container Drift Detected (chmod)", "proc.cmdline", "chmod 755 /tmp/data", map[string]string{
				"container.name": plain, "evt.arg.filename": "/tmp/data",
			})
		})

		t.Run("Container Drift Detected (open+create)", func(t *testing.T) {
			runCmd(t, dexec(plain, "/actor/dropper", "open", "/tmp/dropped", "creat-exec"))
			c.expectOnly(t, "Container Drift Detected (open+create)", "proc.cmdline", "dropper open /tmp/dropped creat-exec", map[string]string{
				"container.name": plain, "evt.arg.name": "/tmp/dropped", "evt.type": "openat",
			})
		})

		t.Run("Modify Container Entrypoint", func(t *testing.T) {
			runCmd(t, dexec(plain, "/actor/entry", "reopen", "/tmp/data"))
			a := c.expectOnlyAlert(t, "Modify Container Entrypoint", "proc.cmdline", "entry reopen /tmp/data", map[string]string{
				"container.name": plain, "evt.type": "openat",
			})
			// The path as opened, not the file it leads to (as Falco).
			if n := fmt.Sprint(a.OutputFields["fd.name"]); !strings.HasPrefix(n, "/proc/self/fd/") {
				t.Errorf("fd.name %q", n)
			}
		})

		t.Run("Network Tool Executed During NPM Package Install", func(t *testing.T) {
			runCmd(t, dexec(plain, "/actor/npm", "spawn", "/actor/ncat", "--version"))
			c.expectOnly(t, "Network Tool Executed During NPM Package Install", "proc.cmdline", "ncat --version", map[string]string{
				"container.name": plain, "proc.pname": "npm",
			})
		})

		net := netContainer(t, name+"-net", act, "3005")

		t.Run("Contact cloud metadata service from container", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/srv", "listen", "169.254.169.254:80"))
			runCmd(t, dexec(net, "/actor/meta", "connect", "169.254.169.254:80"))
			c.expectOnly(t, "Contact cloud metadata service from container", "proc.cmdline", "meta connect 169.254.169.254:80", map[string]string{
				"container.name": net, "evt.type": "connect", "fd.rport": "80",
			})
		})

		t.Run("Interpreted procs outbound network activity", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/srv", "listen", "198.51.100.7:8000"))
			runCmd(t, dexec(net, "/actor/python", "connect", "198.51.100.7:8000"))
			c.expectOnly(t, "Interpreted procs outbound network activity", "proc.cmdline", "python connect 198.51.100.7:8000", map[string]string{
				"container.name": net, "evt.type": "connect", "proc.name": "python",
			})
		})

		t.Run("Interpreted procs inbound network activity", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/python", "listen", "198.51.100.7:8001"))
			runCmd(t, dexec(net, "/actor/client", "connect", "198.51.100.7:8001"))
			c.expectOnly(t, "Interpreted procs inbound network activity", "proc.cmdline", "python listen 198.51.100.7:8001", map[string]string{
				"container.name": net, "proc.name": "python", "fd.lport": "8001",
			})
		})

		t.Run("Unexpected K8s NodePort Connection", func(t *testing.T) {
			startListener(t, dexec(net, "/actor/srv", "listen", "198.51.100.7:30080"))
			runCmd(t, dexec(net, "/actor/client", "connect", "198.51.100.7:30080"))
			c.expectOnly(t, "Unexpected K8s NodePort Connection", "proc.cmdline", "client connect 198.51.100.7:30080", map[string]string{
				"container.name": net, "evt.type": "connect", "fd.rport": "30080",
			})
		})
	})
}

// moreImage is the busybox image of the action tests: the applets they run
// and the files the rules watch (an ssh directory, apt sources, an rpm
// database directory).
const moreImage = "saker-official-e2e-more:1"

var moreApplets = []string{"sh", "sleep", "cat", "touch", "rm", "chmod", "tar", "ip", "false"}

var moreFiles = map[string]string{
	"root/":                   "",
	"root/.ssh/":              "",
	"root/.ssh/known_hosts":   "example.invalid ssh-ed25519 AAAA\n",
	"etc/apt/":                "",
	"etc/apt/sources.list.d/": "",
	"var/":                    "",
	"var/lib/":                "",
	"var/lib/rpm/":            "",
	"tmp/data":                "saker\n",
}
