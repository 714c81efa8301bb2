package redistest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Cluster is a running Redis Cluster of masters without replicas.
type Cluster struct {
	// Masters are the nodes, in the order their slot ranges were assigned
	// (the first owns the lowest slots).
	Masters []*Server
}

// Addrs returns the masters' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Masters))
	for i, m := range c.Masters {
		out[i] = m.Addr
	}
	return out
}

// StartCluster runs n redis-server masters with cluster mode on (each on a
// free loopback port, with its cluster bus on another) and joins them with
// `redis-cli --cluster create`, which splits the 16384 slots into n equal
// ranges. It returns once every node reports cluster_state:ok; the servers
// are killed in t.Cleanup. Like Start it skips without redis-server or
// redis-cli, and fails instead when SAKER_REQUIRE_REDIS=1.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("SAKER_REQUIRE_REDIS") == "1" {
			t.Fatalf("redis-cli not found in PATH and SAKER_REQUIRE_REDIS=1: %v", err)
		}
		t.Skipf("redis-cli not found in PATH (install redis-tools): %v", err)
	}
	c := &Cluster{}
	for range n {
		bus, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		c.Masters = append(c.Masters, Start(t,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-port", fmt.Sprint(bus),
			"--cluster-node-timeout", "5000"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// create returns once the nodes agree on the slots; each node turns
	// its state to ok on its own shortly after.
	for _, m := range c.Masters {
		host, port, _ := strings.Cut(m.Addr, ":")
		for {
			out, err := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "cluster", "info").Output()
			if err == nil && bytes.Contains(out, []byte("cluster_state:ok")) {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cluster node %s not ok within 60s: %v\n%s", m.Addr, err, out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// Keys lists a node's keys matching the pattern (KEYS: tests only).
func Keys(t testing.TB, addr, pattern string) []string {
	t.Helper()
	out := cli(t, addr, "--raw", "KEYS", pattern)
	var keys []string
	for _, k := range strings.Split(strings.TrimSpace(out), "\n") {
		if k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Do runs a command on one node and returns its integer reply.
func Do(t testing.TB, addr string, args ...string) int64 {
	t.Helper()
	out := strings.TrimSpace(cli(t, addr, append([]string{"--raw"}, args...)...))
	var n int64
	if _, err := fmt.Sscan(out, &n); err != nil {
		t.Fatalf("redis-cli %v on %s: not an integer: %q", args, addr, out)
	}
	return n
}

func cli(t testing.TB, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).Output()
	if err != nil {
		t.Fatalf("redis-cli %v on %s: %v", args, addr, err)
	}
	return string(out)
}

// Info returns one field of a node's INFO section.
func Info(t testing.TB, addr, section, field string) string {
	t.Helper()
	for _, line := range strings.Split(cli(t, addr, "INFO", section), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	t.Fatalf("INFO %s on %s has no %s", section, addr, field)
	return ""
}
