package state

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/probe"
)

// TestExecTakesProcessGroupFromTheRecord: a process that left its group
// (setsid) between fork and exec has the group and session of the exec
// record, not the ones its entry had (copied from the parent at fork).
func TestExecTakesProcessGroupFromTheRecord(t *testing.T) {
	procRoot := t.TempDir()
	const pid = 4_000_103
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (sh) S 1 4000001 4000000 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 500 0 0", pid)
	os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600)
	os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\tsh\nNSpid:\t4000103\t12\nNSpgid:\t4000001\t10\nNSsid:\t4000000\t1\n"), 0o600)
	tab := NewTable(Options{ProcRoot: procRoot, Users: NewUsers(filepath.Join(procRoot, "passwd"), filepath.Join(procRoot, "group"))})
	if th := tab.Get(pid); th == nil || th.VPGID != 10 {
		t.Fatalf("entry from /proc: %+v", th)
	}

	var ev event.Event
	r := &probe.Record{Type: event.TypeExecve, PID: pid, TID: pid, PPID: 1, VPID: 12, TS: time.Now().UnixNano(),
		Comm: "whoami", Str0: "/usr/bin/whoami", Argv: []string{"whoami"}, PGID: pid, VPGID: 12, SID: 12}
	r.Fill(&ev)
	tab.Apply(r, &ev, probe.AtFDCWD)
	if e := ev.Thread; e.PGID != pid || e.VPGID != 12 || e.SID != 12 {
		t.Errorf("after exec: pgid %d vpgid %d sid %d, want %d 12 12", e.PGID, e.VPGID, e.SID, pid)
	}
}
