package deploy

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestComposeE2E runs e2e/compose-e2e.sh: the real docker-compose.yml with
// offline-built images, an alert POSTed to :2801 and read back from :2802,
// the sensor's alert for a shell in a container (when the binary has a
// sensor), and persistence across down && up. It needs root, dockerd,
// docker-compose (or the compose plugin) and curl; without them it skips,
// unless SAKER_REQUIRE_DOCKER=1, where it fails.
func TestComposeE2E(t *testing.T) {
	requireDocker(t, "compose e2e takes about a minute")
	script, err := filepath.Abs("e2e/compose-e2e.sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(), "SAKER_E2E_PROJECT=sakere2e"+strings.ReplaceAll(t.Name(), "/", ""))
	// dockerd started by the script must not keep our pipes open.
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("compose-e2e.sh (%s):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("compose-e2e.sh: %v", err)
	}
	if strings.Contains(string(out), "SKIPPED: sensor") {
		t.Log("NOTE: the sensor -> hub part was skipped: this build has no `saker sensor`")
	}
}

// requireDocker skips a Docker test with -short (why says what it costs)
// or where composeUnavailable gives a reason; with SAKER_REQUIRE_DOCKER=1
// the reason fails it instead.
func requireDocker(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip(why + "; skipped with -short")
	}
	if reason := composeUnavailable(); reason != "" {
		if os.Getenv("SAKER_REQUIRE_DOCKER") == "1" {
			t.Fatalf("SAKER_REQUIRE_DOCKER=1 but %s", reason)
		}
		t.Skipf("skipped: %s (set SAKER_REQUIRE_DOCKER=1 to fail instead)", reason)
	}
}

// composeUnavailable says why the compose e2e cannot run here, or "".
func composeUnavailable() string {
	if os.Geteuid() != 0 {
		return "not root (dockerd and the BPF sensor need root)"
	}
	for _, bin := range []string{"docker", "dockerd", "curl", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not installed"
		}
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		if exec.Command("docker", "compose", "version").Run() != nil {
			return "neither docker-compose nor the docker compose plugin is installed"
		}
	}
	// The script starts dockerd when none answers; here we only check that
	// it could (an unusable daemon shows up as a test failure, not a skip).
	if err := exec.Command("docker", "info").Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return "docker client does not run: " + err.Error()
		}
	}
	return ""
}
