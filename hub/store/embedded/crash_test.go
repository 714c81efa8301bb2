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
	crashChildEnv  = "SAKER_EMBEDDED_CRASH_CHILD"
	crashPolicyEnv = "SAKER_EMBEDDED_CRASH_FSYNC"
)

// The process is SIGKILLed while concurrent Appends are in flight; every
// Append that returned nil before the kill must be there after reopening
// (the log tail the kill tore is cut off). With FsyncInterval too: a kill
// of the process does not lose what it wrote, fsynced or not.
func TestKillKeepsAcknowledgedAppends(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir, os.Getenv(crashPolicyEnv) == FsyncInterval.String())
		return
	}
	for _, policy := range []FsyncPolicy{FsyncAlways, FsyncInterval} {
		t.Run(policy.String(), func(t *testing.T) { killAppender(t, policy) })
	}
}

func killAppender(t *testing.T, policy FsyncPolicy) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillKeepsAcknowledgedAppends$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashPolicyEnv+"="+policy.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	deadline := time.Now().Add(20 * time.Second)
	for sc.Scan() && len(acked) < 400 && time.Now().Before(deadline) {
		if id, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, id)
		}
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

func crashChild(dir string, interval bool) {
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
