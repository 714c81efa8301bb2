//go:build linux

package sensor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/response"
)

// BenchmarkResponseDelay: the delay from the event (its kernel time) to
// the action done, as each action record reports it (response.delay_us),
// for the real sensor, probe and engine; p50/p99 over b.N actions:
//
//   - kill: a host shell killed with its process group through a pidfd;
//   - kill-etc-writer: a shell writing below /etc, held by the kernel
//     guard at its open, then killed (also reports how long it was held);
//   - container_pause: a `docker exec` shell's container paused through
//     the Docker Engine API (unpaused between runs);
//   - block_network: a `docker exec` shell's container's network blocked
//     with a cgroup_skb program (released between runs).
//
// Run: go test ./sensor -run '^$' -bench BenchmarkResponseDelay -benchtime 20x
// (root; the container ones need Docker).
func BenchmarkResponseDelay(b *testing.B) {
	// The default rate limit (5/s, burst 20) would skip most actions here.
	const limit = "rate_limit: {per_second: 1000, burst: 1000}\n"
	report := func(b *testing.B, delays []time.Duration) {
		b.ReportMetric(float64(percentile(delays, 0.5).Microseconds()), "p50-µs")
		b.ReportMetric(float64(percentile(delays, 0.99).Microseconds()), "p99-µs")
	}
	recordDelay := func(a *alert.Alert) time.Duration {
		return time.Duration(a.OutputFields["response.delay_us"].(int64)) * time.Microsecond
	}

	b.Run("kill", func(b *testing.B) {
		c := startResponder(b, limit+"actions:\n- {match: {rule: Response test shell}, action: kill, process_group: true}\n")
		var delays []time.Duration
		for i := 0; b.Loop(); i++ {
			delays = append(delays, killedBySensor(b, c, spawnShell(b, i)))
		}
		report(b, delays)
	})

	b.Run("kill-etc-writer", func(b *testing.B) {
		dir := etcDir(b)
		c := startGuarded(b, dir, "")
		var delays, held []time.Duration
		for i := 0; b.Loop(); i++ {
			cmd, _ := writeTwo(b, filepath.Join(dir, fmt.Sprintf("a%d", i)), filepath.Join(dir, fmt.Sprintf("b%d", i)))
			rec := c.find(b, "kill record", of(response.RecordRule, cmd.Process.Pid))
			us, ok := rec.OutputFields["response.held_us"].(int64)
			if rec.OutputFields["response.result"] != response.ResultDone || !ok {
				b.Fatalf("record %v", rec.OutputFields)
			}
			if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("b%d", i))); err == nil {
				b.Fatal("the writer wrote its second file")
			}
			delays = append(delays, recordDelay(&rec))
			held = append(held, time.Duration(us)*time.Microsecond)
		}
		report(b, delays)
		b.ReportMetric(float64(percentile(held, 0.5).Microseconds()), "held-p50-µs")
		b.ReportMetric(float64(percentile(held, 0.99).Microseconds()), "held-p99-µs")
	})

	b.Run("container_pause", func(b *testing.B) {
		const image = "busybox:saker-response-e2e"
		requireImage(b, image, "sh", "sleep")
		c := startResponder(b, limit+"actions:\n- {match: {rule: Response test pause}, action: container_pause}\n")
		name := fmt.Sprintf("saker-response-bench-%d", os.Getpid())
		id := runContainer(b, name, image, "/bin/sleep", "3600")
		var delays []time.Duration
		for i := 0; b.Loop(); i++ {
			if out, err := exec.Command("docker", "exec", "-d", name, "sh", "-c", "sleep 30; : saker-resp-pause", fmt.Sprint(i)).CombinedOutput(); err != nil {
				b.Fatalf("docker exec: %v %s", err, out)
			}
			rec := c.findNth(b, "pause record", i, func(a *alert.Alert) bool {
				return a.Rule == response.RecordRule && a.OutputFields["response.action"] == response.ActionContainerPause
			})
			if rec.OutputFields["response.result"] != response.ResultDone || rec.OutputFields["container.id"] != id {
				b.Fatalf("record %v", rec.OutputFields)
			}
			delays = append(delays, recordDelay(&rec))
			if out, err := exec.Command("docker", "unpause", name).CombinedOutput(); err != nil {
				b.Fatalf("docker unpause: %v %s", err, out)
			}
		}
		report(b, delays)
	})

	b.Run("block_network", func(b *testing.B) {
		const image = "busybox:saker-response-net"
		requireImage(b, image, "sh", "sleep", "ping")
		blockDir := b.TempDir()
		if err := unix.Mount("bpf", blockDir, "bpf", 0, ""); err != nil {
			b.Fatalf("mount bpffs: %v", err)
		}
		b.Cleanup(func() { _ = unix.Unmount(blockDir, unix.MNT_DETACH) })
		c := startResponder(b, limit+"block_dir: "+blockDir+"\nactions:\n- {match: {rule: Response test block}, action: block_network}\n")
		name := fmt.Sprintf("saker-response-bench-net-%d", os.Getpid())
		id := runContainer(b, name, image, "/bin/sleep", "3600")
		blocker, err := response.NewNetBlocker(blockDir, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer blocker.Close()
		var delays []time.Duration
		for i := 0; b.Loop(); i++ {
			// The shell lives on, so its cgroup is read from a live process.
			if out, err := exec.Command("docker", "exec", "-d", name, "sh", "-c", "sleep 30; : saker-resp-block", fmt.Sprint(i)).CombinedOutput(); err != nil {
				b.Fatalf("docker exec: %v %s", err, out)
			}
			rec := c.findNth(b, "block record", i, func(a *alert.Alert) bool {
				return a.Rule == response.RecordRule && a.OutputFields["response.action"] == response.ActionBlockNetwork &&
					a.OutputFields["response.result"] != response.ResultReleased
			})
			if rec.OutputFields["response.result"] != response.ResultDone || rec.OutputFields["container.id"] != id {
				b.Fatalf("record %v", rec.OutputFields)
			}
			delays = append(delays, recordDelay(&rec))
			blocks, err := blocker.List()
			if err != nil || len(blocks) != 1 || !strings.Contains(blocks[0].Cgroup, id) {
				b.Fatalf("blocks %+v, %v", blocks, err)
			}
			if _, err := blocker.Release(blocks[0].Name); err != nil {
				b.Fatal(err)
			}
		}
		report(b, delays)
	})
}
