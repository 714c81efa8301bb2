package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

const (
	crashChildEnv   = "SAKER_EMBEDDED_CRASH_CHILD"
	crashPolicyEnv  = "SAKER_EMBEDDED_CRASH_FSYNC"
	crashCompactEnv = "SAKER_EMBEDDED_CRASH_COMPACT"
)

// The process is SIGKILLed while concurrent Appends are in flight; every
// Append that returned nil before the kill must be there after reopening
// (the log tail the kill tore is cut off). With FsyncInterval too: a kill
// of the process does not lose what it wrote, fsynced or not. And while
// compactions rewrite the log one after another: the kill lands in one of
// them (copying, swapping, or between two).
func TestKillKeepsAcknowledgedAppends(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir, os.Getenv(crashPolicyEnv) == FsyncInterval.String(), os.Getenv(crashCompactEnv) != "")
		return
	}
	for _, policy := range []FsyncPolicy{FsyncAlways, FsyncInterval} {
		t.Run(policy.String(), func(t *testing.T) { killAppender(t, policy, false) })
		t.Run(policy.String()+"/compacting", func(t *testing.T) { killAppender(t, policy, true) })
	}
}

func killAppender(t *testing.T, policy FsyncPolicy, compacting bool) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillKeepsAcknowledgedAppends$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashPolicyEnv+"="+policy.String())
	if compacting {
		cmd.Env = append(cmd.Env, crashCompactEnv+"=1")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	compactions := 0
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() && (len(acked) < 400 || compacting && compactions < 3) && time.Now().Before(deadline) {
		if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, id)
		}
		if sc.Text() == "compacted" {
			compactions++
		}
	}
	if compacting && compactions < 3 {
		t.Errorf("only %d compactions before the kill", compactions)
	}
	cmd.Process.Kill()
	// Lines already written before the kill are acknowledgements too.
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, id)
		}
	}
	cmd.Wait()
	if len(acked) < 50 {
		t.Fatalf("child acknowledged only %d appends", len(acked))
	}
	s := openT(t, Options{Dir: dir})
	for _, id := range acked {
		if _, err := s.Get(context.Background(), id); err != nil {
			t.Fatalf("acknowledged %s lost after kill: %v", id, err)
		}
	}
	t.Logf("%d acknowledged alerts all present after SIGKILL", len(acked))
}

func crashChild(dir string, interval, compacting bool) {
	o := Options{Dir: dir, Fsync: FsyncAlways}
	if interval {
		// An hour: nothing is fsynced before the kill.
		o.Fsync, o.FsyncInterval = FsyncInterval, time.Hour
	}
	s, err := Open(o)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	if compacting {
		go func() {
			for {
				if err := s.compact(false); err != nil {
					fmt.Println("compact:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println("compacted")
				mu.Unlock()
			}
		}()
	}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				batch := make([]alert.Alert, 1+i%5)
				for j := range batch {
					batch[j] = sample(fmt.Sprintf("w%d-%d-%d", w, i, j))
				}
				ids, err := s.Append(context.Background(), batch)
				if err != nil {
					fmt.Println("append:", err)
					os.Exit(1)
				}
				mu.Lock()
				for _, id := range ids {
					fmt.Println("acked " + id)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
