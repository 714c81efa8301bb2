//go:build linux

package sensor

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/hub/alert"
)

// e2eImage is an nginx-named image (so the nginx rule applies) built
// offline from busybox-static; the tag is ours so other tests' images are
// left alone.
const e2eImage = "nginx:saker-sensor-e2e"

// requireDocker starts dockerd when needed (deploy/e2e/ensure-dockerd.sh)
// and builds the test image. It skips without Docker unless
// SAKER_REQUIRE_DOCKER=1.
func requireDocker(t *testing.T) {
	t.Helper()
	requireImage(t, e2eImage, "sh", "ls", "touch", "cat", "sleep")
}

// requireImage is requireDocker for an image tag with these busybox
// applets.
func requireImage(t testing.TB, image string, applets ...string) {
	t.Helper()
	requireImageFiles(t, image, applets, nil)
}

// requireImageFiles is requireImage with files too: path → content, a path
// ending in "/" is a directory. The tag must change when they do (an
// existing image is reused).
func requireImageFiles(t testing.TB, image string, applets []string, files map[string]string) {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("SAKER_REQUIRE_DOCKER") == "1" {
			t.Fatalf("SAKER_REQUIRE_DOCKER=1 but %s", msg)
		}
		t.Skipf("container e2e skipped: %s (set SAKER_REQUIRE_DOCKER=1 to fail instead)", msg)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		skip("docker client not installed")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		skip("/bin/busybox (busybox-static) not installed")
	}
	if out, err := exec.Command("bash", "../deploy/e2e/ensure-dockerd.sh").CombinedOutput(); err != nil {
		skip("no Docker engine: %v: %s", err, bytes.TrimSpace(out))
	}
	if exec.Command("docker", "image", "inspect", image).Run() == nil {
		return
	}
	var buf bytes.Buffer
	if err := busyboxRootfs(&buf, applets, files); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "import", "-", image)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v: %s", err, out)
	}
}

// busyboxRootfs writes a minimal root filesystem: busybox and the applets
// the test runs, plus the directories the rules watch and files.
func busyboxRootfs(w io.Writer, applets []string, files map[string]string) error {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, d := range []string{"bin/", "etc/", "usr/", "usr/bin/", "tmp/", "proc/", "sys/", "dev/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0o755, Size: int64(len(bb))}); err != nil {
		return err
	}
	if _, err := tw.Write(bb); err != nil {
		return err
	}
	for _, a := range applets {
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + a, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}); err != nil {
			return err
		}
	}
	// Sorted: a directory before what it holds.
	for _, name := range slices.Sorted(maps.Keys(files)) {
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name]))}
		if strings.HasSuffix(name, "/") {
			h = &tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755}
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.WriteString(tw, files[name]); err != nil {
			return err
		}
	}
	return tw.Close()
}

// openPTY returns a new pseudo-terminal pair.
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("unlockpt: %w", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("ptsname: %w", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// TestSensorContainers runs real containers under the sensor with the
// default rules: a sensitive mount at start, an unexpected process in the
// nginx container, a write below /etc inside it, and an interactive shell.
// runContainer starts container name (docker run -d args…), removed when
// the test ends, and returns its short id.
func runContainer(t testing.TB, name string, args ...string) string {
	t.Helper()
	exec.Command("docker", "rm", "-f", name).Run()
	if out, err := exec.Command("docker", append([]string{"run", "-d", "--name", name}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", name).Run() })
	idOut, err := exec.Command("docker", "inspect", "-f", "{{.Id}}", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(idOut))[:12]
}

func TestSensorContainers(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("probe hooks are x86-64 syscalls")
	}
	c := startSensor(t)
	requireDocker(t)

	name := fmt.Sprintf("saker-sensor-e2e-%d", os.Getpid())
	mnt := t.TempDir()
	id := runContainer(t, name, "-v", mnt+":/mnt/data", "-v", "/etc:/host/etc:ro", e2eImage, "/bin/sleep", "300")
	inContainer := func(a *alert.Alert) bool { return a.OutputFields["container.id"] == id }

	t.Run("sensitive mount at start", func(t *testing.T) {
		a := c.wait(t, "sensitive mount", func(a *alert.Alert) bool {
			return a.Rule == "Launch Sensitive Mount Container" && inContainer(a)
		})
		if a.OutputFields["container.name"] != name || !strings.Contains(fmt.Sprint(a.OutputFields["container.mounts"]), "/etc:/host/etc") {
			t.Errorf("alert fields %v", a.OutputFields)
		}
	})

	t.Run("unexpected process in nginx container", func(t *testing.T) {
		if out, err := exec.Command("docker", "exec", name, "ls", "/").CombinedOutput(); err != nil {
			t.Fatalf("docker exec: %v: %s", err, out)
		}
		a := c.wait(t, "ls in nginx", func(a *alert.Alert) bool {
			return a.Rule == "Unauthorized process in nginx container" && inContainer(a) && a.OutputFields["proc.name"] == "ls"
		})
		if a.OutputFields["container.image.repository"] != "nginx" || a.OutputFields["container.image.tag"] != "saker-sensor-e2e" ||
			a.OutputFields["container.name"] != name {
			t.Errorf("alert fields %v", a.OutputFields)
		}
	})

	t.Run("write below etc inside", func(t *testing.T) {
		if out, err := exec.Command("docker", "exec", name, "touch", "/etc/saker-e2e").CombinedOutput(); err != nil {
			t.Fatalf("docker exec: %v: %s", err, out)
		}
		a := c.wait(t, "touch /etc/saker-e2e", func(a *alert.Alert) bool {
			return a.Rule == "Write below etc" && inContainer(a)
		})
		if a.OutputFields["fd.name"] != "/etc/saker-e2e" || a.OutputFields["proc.name"] != "touch" {
			t.Errorf("alert fields %v", a.OutputFields)
		}
	})

	t.Run("terminal shell", func(t *testing.T) {
		m, s, err := openPTY()
		if err != nil {
			t.Skipf("no pty: %v", err)
		}
		defer m.Close()
		go io.Copy(io.Discard, m)
		cmd := exec.Command("docker", "exec", "-it", name, "sh", "-c", "exit 0")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
		err = cmd.Run()
		s.Close()
		if err != nil {
			t.Fatalf("docker exec -it: %v", err)
		}
		a := c.wait(t, "terminal shell", func(a *alert.Alert) bool {
			return a.Rule == "Terminal shell in container" && inContainer(a)
		})
		if a.OutputFields["proc.name"] != "sh" || fmt.Sprint(a.OutputFields["proc.tty"]) == "0" || a.OutputFields["container.name"] != name {
			t.Errorf("alert fields %v", a.OutputFields)
		}
	})
}
