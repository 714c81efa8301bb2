//go:build linux

package sensor

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/probe"
)

// officialRules are the three official rules files, loaded as Falco users
// load them.
var officialRules = []string{
	"rules/testdata/falco_rules.yaml",
	"rules/testdata/falco-incubating_rules.yaml",
	"rules/testdata/falco-sandbox_rules.yaml",
}

// startSensorWith runs the sensor with these rules files (none: the
// default rules) until the test ends and returns the alerts it raises.
func startSensorWith(t *testing.T, files ...string) *collector {
	t.Helper()
	cfg, err := LoadConfig("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RulesFiles = files
	return startSensorConfig(t, cfg)
}

// sensorStartBound bounds the wait for the sensor's Ready event. Loading
// the probe is mostly the kernel verifier, which takes several seconds on an
// idle 2-core machine and 20 s or more under heavy load; the wait ends as
// soon as Ready fires, so the bound only decides when a hang is reported.
const sensorStartBound = 2 * time.Minute

// startSensorConfig runs the sensor with cfg until the test ends and
// returns the alerts it raises (the probe must load).
func startSensorConfig(t testing.TB, cfg *Config) *collector {
	t.Helper()
	return startSensorOptions(t, Options{Config: cfg})
}

// startSensorOptions is startSensorConfig with more options (the
// collector, Ready and Registerer are set here).
func startSensorOptions(t testing.TB, opts Options) *collector {
	t.Helper()
	if err := probe.Check(); err != nil {
		if os.Getenv("SAKER_REQUIRE_BPF") == "1" {
			t.Fatalf("SAKER_REQUIRE_BPF=1 but the probe cannot load: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	c := &collector{reg: prometheus.NewRegistry()}
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		opts.Emitter, opts.Ready, opts.Registerer = c, func() { close(ready) }, c.reg
		done <- Run(ctx, opts)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("sensor stopped: %v", err)
	case <-time.After(sensorStartBound):
		t.Fatalf("sensor not ready within %v", sensorStartBound)
	}
	return c
}

// run runs a command to its end (its exit status does not matter: the
// behaviour is the syscall it makes).
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState == nil {
		t.Fatalf("%s: %v %s", name, err, out)
	}
}

// expectOnly waits for rule's alert whose output field key has value
// (a command line or path unique to the test), checks its other output
// fields, and checks that no other rule fired for that process.
func (c *collector) expectOnly(t *testing.T, rule, key, value string, fields map[string]string) {
	t.Helper()
	mine := func(a *alert.Alert) bool {
		if fmt.Sprint(a.OutputFields[key]) != value {
			return false
		}
		// Another run of these tests on the machine starts containers
		// whose processes have the same command lines; the container's
		// name, unique to this run, tells them apart.
		ctr, ok := fields["container.name"]
		return !ok || fmt.Sprint(a.OutputFields["container.name"]) == ctr
	}
	a := c.wait(t, rule, func(a *alert.Alert) bool { return a.Rule == rule && mine(a) })
	for k, v := range fields {
		if got := fmt.Sprint(a.OutputFields[k]); got != v {
			t.Errorf("%s: output_fields[%s] = %q, want %q", rule, k, got, v)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.alerts {
		if o := &c.alerts[i]; mine(o) && o.Rule != rule {
			t.Errorf("%s: rule %q fired too for the same process", rule, o.Rule)
		}
	}
}

// TestOfficialRulesFire performs, on this host, the behaviour each rule
// describes and checks that exactly that rule of the official files fires,
// with the fields its output prints; a command line or path unique to the
// test ties the alert to the process the test started.
func TestOfficialRulesFire(t *testing.T) {
	c := startSensorWith(t, officialRules...)
	dir := t.TempDir()

	t.Run("Fileless execution via memfd_create", func(t *testing.T) {
		fd, err := unix.MemfdCreate("saker_e2e", 0)
		if err != nil {
			t.Fatal(err)
		}
		mf := os.NewFile(uintptr(fd), "memfd")
		defer mf.Close()
		bin, err := os.ReadFile("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		mf.Write(bin)
		run(t, "/proc/"+strconv.Itoa(os.Getpid())+"/fd/"+strconv.Itoa(fd))
		c.expectOnly(t, "Fileless execution via memfd_create", "proc.exepath", "memfd:saker_e2e", map[string]string{
			"evt.type": "execve", "user.name": "root", "proc.name": strconv.Itoa(fd),
		})
	})

	t.Run("Set Setuid or Setgid bit", func(t *testing.T) {
		f := filepath.Join(dir, "suid")
		os.WriteFile(f, nil, 0o600)
		run(t, "chmod", "u+s", f)
		a := c.wait(t, "chmod u+s", func(a *alert.Alert) bool {
			return a.Rule == "Set Setuid or Setgid bit" && a.OutputFields["proc.cmdline"] == "chmod u+s "+f
		})
		if m := fmt.Sprint(a.OutputFields["evt.arg.mode"]); !strings.Contains(m, "S_ISUID") || !strings.Contains(m, "S_IRUSR") {
			t.Errorf("mode %q", m)
		}
		if got := fmt.Sprint(a.OutputFields["evt.arg.filename"]); got != f {
			t.Errorf("filename %q", got)
		}
	})

	t.Run("Search Private Keys or Passwords", func(t *testing.T) {
		run(t, "find", dir, "-name", "id_rsa")
		c.expectOnly(t, "Search Private Keys or Passwords", "proc.cmdline", "find "+dir+" -name id_rsa", map[string]string{
			"proc.name": "find", "evt.type": "execve",
		})
	})

	t.Run("Directory traversal monitored file read", func(t *testing.T) {
		run(t, "cat", "/tmp/../tmp/../etc/passwd")
		c.expectOnly(t, "Directory traversal monitored file read", "fd.nameraw", "/tmp/../tmp/../etc/passwd", map[string]string{
			"fd.name": "/etc/passwd", "proc.name": "cat",
		})
	})

	t.Run("Create Symlink Over Sensitive Files", func(t *testing.T) {
		link := filepath.Join(dir, "shadow-link")
		run(t, "ln", "-s", "/etc/shadow", link)
		c.expectOnly(t, "Create Symlink Over Sensitive Files", "evt.arg.linkpath", link, map[string]string{
			"evt.arg.target": "/etc/shadow", "proc.name": "ln",
		})
	})

	t.Run("Clear Log Activities", func(t *testing.T) {
		log := fmt.Sprintf("/var/log/saker-e2e-%d.log", os.Getpid())
		os.WriteFile(log, []byte("x"), 0o600)
		t.Cleanup(func() { os.Remove(log) })
		// cp opens the destination O_WRONLY|O_TRUNC.
		run(t, "cp", "/dev/null", log)
		c.expectOnly(t, "Clear Log Activities", "fd.name", log, map[string]string{"proc.name": "cp", "evt.type": "openat"})
	})

	// named copies /bin/true under name, so a harmless program carries
	// the process name a rule looks for.
	named := func(t *testing.T, name string) string {
		t.Helper()
		b, err := os.ReadFile("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("Create Hardlink Over Sensitive Files", func(t *testing.T) {
		link := filepath.Join(dir, "shadow-hardlink")
		run(t, "ln", "/etc/shadow", link) // may fail across filesystems: the attempt is what counts
		c.expectOnly(t, "Create Hardlink Over Sensitive Files", "evt.arg.newpath", link, map[string]string{
			"evt.arg.oldpath": "/etc/shadow", "proc.name": "ln",
		})
	})

	t.Run("Execution from /dev/shm", func(t *testing.T) {
		b, err := os.ReadFile("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		p := fmt.Sprintf("/dev/shm/saker-e2e-%d", os.Getpid())
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Skipf("/dev/shm not writable: %v", err)
		}
		t.Cleanup(func() { os.Remove(p) })
		run(t, p)
		c.expectOnly(t, "Execution from /dev/shm", "proc.exepath", p, map[string]string{"evt.type": "execve"})
	})

	t.Run("Launch Suspicious Network Tool on Host", func(t *testing.T) {
		nmap := named(t, "nmap")
		run(t, nmap, "-sn", "127.0.0.1")
		c.expectOnly(t, "Launch Suspicious Network Tool on Host", "proc.cmdline", "nmap -sn 127.0.0.1", map[string]string{"proc.name": "nmap"})
	})

	t.Run("Known Cryptominer Process Executed", func(t *testing.T) {
		xmrig := named(t, "xmrig")
		run(t, xmrig, "--version")
		c.expectOnly(t, "Known Cryptominer Process Executed", "proc.cmdline", "xmrig --version", map[string]string{"proc.name": "xmrig"})
	})

	t.Run("Create files below dev", func(t *testing.T) {
		p := fmt.Sprintf("/dev/saker-e2e-%d", os.Getpid())
		t.Cleanup(func() { os.Remove(p) })
		run(t, "touch", p)
		c.expectOnly(t, "Create files below dev", "fd.name", p, map[string]string{"proc.name": "touch"})
	})

	t.Run("Modify Shell Configuration File", func(t *testing.T) {
		rc := filepath.Join(dir, ".bashrc")
		run(t, "touch", rc)
		c.expectOnly(t, "Modify Shell Configuration File", "fd.name", rc, map[string]string{"proc.name": "touch"})
	})

	t.Run("Find AWS Credentials", func(t *testing.T) {
		run(t, "find", dir, "-path", "*/.aws/credentials")
		c.expectOnly(t, "Find AWS Credentials", "proc.cmdline", "find "+dir+" -path */.aws/credentials", map[string]string{"proc.name": "find"})
	})

	t.Run("Remove Bulk Data from Disk", func(t *testing.T) {
		shred := named(t, "shred")
		run(t, shred, "-u", filepath.Join(dir, "nothing"))
		c.expectOnly(t, "Remove Bulk Data from Disk", "proc.cmdline", "shred -u "+filepath.Join(dir, "nothing"), map[string]string{"proc.name": "shred"})
	})

	t.Run("Schedule Cron Jobs", func(t *testing.T) {
		crontab := named(t, "crontab")
		run(t, crontab, "-l")
		c.expectOnly(t, "Schedule Cron Jobs", "proc.cmdline", "crontab -l", map[string]string{"proc.name": "crontab"})
	})

	t.Run("Mkdir binary dirs", func(t *testing.T) {
		d := fmt.Sprintf("/usr/bin/saker-e2e-dir-%d", os.Getpid())
		t.Cleanup(func() { os.Remove(d) })
		run(t, "mkdir", d)
		c.expectOnly(t, "Mkdir binary dirs", "proc.cmdline", "mkdir "+d, map[string]string{"evt.arg.path": d})
	})

	t.Run("User mgmt binaries", func(t *testing.T) {
		useradd := named(t, "useradd")
		run(t, useradd, "--help")
		c.expectOnly(t, "User mgmt binaries", "proc.cmdline", "useradd --help", map[string]string{"proc.name": "useradd"})
	})

	t.Run("Write below root", func(t *testing.T) {
		f := fmt.Sprintf("/saker-e2e-%d", os.Getpid())
		t.Cleanup(func() { os.Remove(f) })
		run(t, "touch", f)
		c.expectOnly(t, "Write below root", "fd.name", f, map[string]string{"proc.name": "touch"})
	})

	t.Run("Write below etc", func(t *testing.T) {
		f := fmt.Sprintf("/etc/saker-e2e-%d", os.Getpid())
		t.Cleanup(func() { os.Remove(f) })
		run(t, "touch", f)
		c.expectOnly(t, "Write below etc", "fd.name", f, map[string]string{"proc.name": "touch"})
	})

	t.Run("Write below binary dir", func(t *testing.T) {
		f := fmt.Sprintf("/usr/bin/saker-e2e-%d", os.Getpid())
		t.Cleanup(func() { os.Remove(f) })
		run(t, "touch", f)
		c.expectOnly(t, "Write below binary dir", "fd.name", f, map[string]string{"proc.name": "touch"})
	})

	t.Run("Delete or rename shell history", func(t *testing.T) {
		h := filepath.Join(dir, ".bash_history")
		os.WriteFile(h, []byte("ls\n"), 0o600)
		run(t, "rm", h)
		c.expectOnly(t, "Delete or rename shell history", "proc.cmdline", "rm "+h, map[string]string{"evt.type": "unlinkat"})
	})
}

// officialImage is a busybox image whose applets carry the names the
// container rules look for (package manager, network and copy tools).
const officialImage = "saker-official-e2e:3"

// TestOfficialRulesFireInContainer performs container rules' behaviour in
// a real container (from an image built offline from busybox-static) and
// checks exactly that rule of the official files fires for the process.
func TestOfficialRulesFireInContainer(t *testing.T) {
	c := startSensorWith(t, officialRules...)
	requireImage(t, officialImage, "sh", "sleep", "nc", "wget", "rsync", "base64", "apk", "cp")
	name := fmt.Sprintf("saker-official-e2e-%d", os.Getpid())
	exec.Command("docker", "rm", "-f", name).Run()
	if out, err := exec.Command("docker", "run", "-d", "--name", name, officialImage, "/bin/sleep", "300").CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	dexec := func(args ...string) {
		t.Helper()
		exec.Command("docker", append([]string{"exec", name}, args...)...).Run() // exit status irrelevant
	}
	for _, tc := range []struct {
		rule    string
		args    []string
		cmdline string
	}{
		{"Netcat Remote Code Execution in Container", []string{"nc", "-e", "/bin/sh", "127.0.0.1", "9"}, "nc -e /bin/sh 127.0.0.1 9"},
		{"Launch Suspicious Network Tool in Container", []string{"nc", "-h"}, "nc -h"},
		{"Launch Remote File Copy Tools in Container", []string{"rsync", "--help"}, "rsync --help"},
		{"Launch Ingress Remote File Copy Tools in Container", []string{"wget", "--help"}, "wget --help"},
		{"Launch Package Management Process in Container", []string{"apk", "add", "curl"}, "apk add curl"},
		{"Decoding Payload in Container", []string{"base64", "-d", "/dev/null"}, "base64 -d /dev/null"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			dexec(tc.args...)
			// The image's binaries come from a lower overlay layer; root
			// (CAP_DAC_OVERRIDE) could write them.
			c.expectOnly(t, tc.rule, "proc.cmdline", tc.cmdline, map[string]string{
				"container.name": name, "container.image.repository": "saker-official-e2e", "evt.type": "execve",
				"evt.arg.flags": "EXE_WRITABLE|EXE_LOWER_LAYER",
			})
		})
	}

	t.Run("Drop and execute new binary in container", func(t *testing.T) {
		// /tmp/sleep is written in the container: the overlay's upper layer.
		dexec("sh", "-c", "cp /bin/busybox /tmp/sleep && exec /tmp/sleep 0")
		c.expectOnly(t, "Drop and execute new binary in container", "proc.cmdline", "sleep 0", map[string]string{
			"container.name": name, "proc.exe": "/tmp/sleep", "evt.type": "execve",
			"evt.arg.flags": "EXE_WRITABLE|EXE_UPPER_LAYER",
		})
	})

	t.Run("Terminal shell in container", func(t *testing.T) {
		m, sl, err := openPTY()
		if err != nil {
			t.Fatalf("no pty: %v", err)
		}
		defer m.Close()
		go io.Copy(io.Discard, m)
		cmd := exec.Command("docker", "exec", "-it", name, "sh", "-c", "exit 7")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = sl, sl, sl
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		cmd.Run() // exits 7
		sl.Close()
		c.expectOnly(t, "Terminal shell in container", "proc.cmdline", "sh -c exit 7", map[string]string{
			"container.name": name, "proc.name": "sh",
		})
	})
}
