//go:build linux

package response

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/response/k8spod"
	"github.com/saker-sec/saker/sensor/response/k8spod/k8spodtest"
)

// records collects the action records.
type records struct {
	mu  sync.Mutex
	got []alert.Alert
	ch  chan struct{}
}

func newRecords() *records { return &records{ch: make(chan struct{}, 100)} }

func (r *records) Emit(a *alert.Alert) error {
	r.mu.Lock()
	r.got = append(r.got, *a)
	r.mu.Unlock()
	r.ch <- struct{}{}
	return nil
}

// next waits for the n-th record (1-based).
func (r *records) next(t *testing.T, n int) alert.Alert {
	t.Helper()
	for {
		r.mu.Lock()
		if len(r.got) >= n {
			a := r.got[n-1]
			r.mu.Unlock()
			return a
		}
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no record %d", n)
		}
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (pidfd on other processes, ns_last_pid)")
	}
}

// spawn starts `sleep 60`, reaped when the test ends.
func spawn(t *testing.T, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// eventOf is an event of process pid now.
func eventOf(pid int, comm string) *event.Event {
	return &event.Event{TS: time.Now().UnixNano(), Thread: &event.Thread{PID: int64(pid), Comm: comm}}
}

func newResponder(t *testing.T, doc string) (*Responder, *records) {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecords()
	r, err := New(c, Options{Emitter: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, rec
}

// respond runs the responder on an alert of rule raised on ev.
func respond(r *Responder, ev *event.Event, rule string) *alert.Alert {
	a := &alert.Alert{Rule: rule, Source: "syscall", Priority: alert.PriorityWarning}
	if acts := r.Match(a); len(acts) > 0 {
		r.Run(acts, ev, a)
	}
	return a
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}

func field(a alert.Alert, k string) string {
	v, _ := json.Marshal(a.OutputFields[k])
	return strings.Trim(string(v), `"`)
}

func TestKill(t *testing.T) {
	requireRoot(t)
	r, rec := newResponder(t, "- {match: {rule: R}, action: kill}\n")
	cmd := spawn(t, nil)
	a := respond(r, eventOf(cmd.Process.Pid, "sleep"), "R")
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("sleep ended with %v, want SIGKILL", err)
	}
	got := rec.next(t, 1)
	if got.Source != Source || got.Rule != RecordRule || field(got, "response.result") != ResultDone ||
		field(got, "response.alert_id") != a.UUID || field(got, "response.rule") != "R" || field(got, "response.action") != ActionKill {
		t.Fatalf("record %+v", got)
	}
}

func TestKillProcessGroup(t *testing.T) {
	requireRoot(t)
	r, rec := newResponder(t, "- {match: {rule: R}, action: kill, process_group: true}\n")
	leader := spawn(t, &syscall.SysProcAttr{Setpgid: true})
	member := spawn(t, &syscall.SysProcAttr{Setpgid: true, Pgid: leader.Process.Pid})
	respond(r, eventOf(member.Process.Pid, "sleep"), "R")
	for _, c := range []*exec.Cmd{leader, member} {
		if err := c.Wait(); err == nil {
			t.Fatalf("pid %d: exited cleanly, want killed", c.Process.Pid)
		}
	}
	if got := rec.next(t, 1); field(got, "response.result") != ResultDone {
		t.Fatalf("record %+v", got)
	}
}

func TestDryRunOnlyRecords(t *testing.T) {
	requireRoot(t)
	for _, doc := range []string{
		"dry_run: true\nactions:\n- {match: {rule: R}, action: kill}\n",
		"- {match: {rule: R}, action: kill, dry_run: true}\n",
	} {
		r, rec := newResponder(t, doc)
		cmd := spawn(t, nil)
		respond(r, eventOf(cmd.Process.Pid, "sleep"), "R")
		got := rec.next(t, 1)
		if field(got, "response.result") != ResultDryRun || field(got, "response.dry_run") != "true" ||
			!strings.Contains(field(got, "response.detail"), "would kill pid "+strconv.Itoa(cmd.Process.Pid)) {
			t.Fatalf("record %+v", got)
		}
		if !alive(cmd.Process.Pid) {
			t.Fatal("dry run killed the process")
		}
	}
}

func TestNeverActsOnProtectedProcesses(t *testing.T) {
	requireRoot(t)
	off := filepath.Join(t.TempDir(), "off")
	r, rec := newResponder(t, `
kill_switch_file: `+off+`
allowlist: {processes: [sleep]}
actions:
- {match: {rule: R}, action: kill}
- {match: {rule: C}, action: container_pause}
`)
	cmd := spawn(t, nil)
	self := os.Getpid()
	for i, tc := range []struct {
		ev     *event.Event
		rule   string
		reason string
	}{
		{eventOf(cmd.Process.Pid, "sleep"), "R", "process sleep is allowlisted"},
		{eventOf(1, "init"), "R", "never kills PID 1"},
		{eventOf(self, "response.test"), "R", "never kills the sensor"},
		{eventOf(os.Getppid(), "go"), "R", "never kills the sensor or its ancestors"},
		{eventOf(self, "response.test"), "C", "not in a container"},
	} {
		respond(r, tc.ev, tc.rule)
		got := rec.next(t, i+1)
		if field(got, "response.result") != ResultSkipped || !strings.Contains(field(got, "response.detail"), tc.reason) {
			t.Errorf("case %d: record %v, want skipped: %s", i, got.OutputFields, tc.reason)
		}
	}
	if !alive(cmd.Process.Pid) {
		t.Fatal("allowlisted process killed")
	}

	// The kill switch stops every action, even one that would run.
	r.cfg.Allowlist = Allowlist{}
	if err := os.WriteFile(off, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	respond(r, eventOf(cmd.Process.Pid, "sleep"), "R")
	if got := rec.next(t, 6); field(got, "response.result") != ResultSkipped || !strings.Contains(field(got, "response.detail"), "kill switch") {
		t.Fatalf("record %v", got.OutputFields)
	}
	if !alive(cmd.Process.Pid) {
		t.Fatal("process killed with the kill switch set")
	}
}

func TestRateLimit(t *testing.T) {
	requireRoot(t)
	r, rec := newResponder(t, "rate_limit: {per_second: 0.001, burst: 1}\nactions:\n- {match: {rule: R}, action: kill, dry_run: true}\n")
	cmd := spawn(t, nil)
	respond(r, eventOf(cmd.Process.Pid, "sleep"), "R")
	respond(r, eventOf(cmd.Process.Pid, "sleep"), "R")
	if got := rec.next(t, 2); field(got, "response.result") != ResultSkipped || field(got, "response.detail") != "rate limit reached" {
		t.Fatalf("second action: %v", got.OutputFields)
	}
}

// reusePID starts `sleep` processes until one gets pid (free now), by
// setting the kernel's last allocated PID just below it; other processes
// on the machine may take it first, hence the bounded retries.
func reusePID(t *testing.T, pid int) *exec.Cmd {
	t.Helper()
	for range 200 {
		if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(pid-1)), 0); err != nil {
			t.Fatalf("ns_last_pid: %v", err)
		}
		cmd := spawn(t, nil)
		if cmd.Process.Pid == pid {
			return cmd
		}
		_ = cmd.Process.Kill()
	}
	t.Fatalf("could not get pid %d again", pid)
	return nil
}

// TestReusedPIDNotKilled: a process that exits between the event and the
// action, its PID taken by a new process, is never confused with it —
// neither when the pidfd was taken before the exit nor when the event is
// handled after the PID was reused.
func TestReusedPIDNotKilled(t *testing.T) {
	requireRoot(t)

	// pidfd held across the exit: the signal reaches nobody.
	old := spawn(t, nil)
	pid := old.Process.Pid
	p, err := OpenProcess(pid, time.Now().UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_ = old.Process.Kill()
	_ = old.Wait()
	reused := reusePID(t, pid)
	if err := p.Signal(int(unix.SIGKILL)); !errors.Is(err, ErrGone) {
		t.Fatalf("signal through the old pidfd: %v, want ErrGone", err)
	}
	if !alive(reused.Process.Pid) {
		t.Fatal("the process that reused the PID was killed")
	}

	// The event handled after the reuse: the start time differs.
	old2 := spawn(t, nil)
	ev := eventOf(old2.Process.Pid, "sleep")
	_ = old2.Process.Kill()
	_ = old2.Wait()
	// The check's resolution is a /proc tick (10 ms): the new process
	// starts later than that after the event.
	time.Sleep(30 * time.Millisecond)
	reused2 := reusePID(t, int(ev.Thread.PID))
	r, rec := newResponder(t, "- {match: {rule: R}, action: kill}\n")
	respond(r, ev, "R")
	got := rec.next(t, 1)
	if field(got, "response.result") != ResultFailed || !strings.Contains(field(got, "response.detail"), ErrGone.Error()) {
		t.Fatalf("record %v, want failed: %v", got.OutputFields, ErrGone)
	}
	if !alive(reused2.Process.Pid) {
		t.Fatal("the process that reused the PID was killed")
	}
}

func TestScriptAndWebhook(t *testing.T) {
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		bodies <- b
	}))
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "alert.json")
	r, rec := newResponder(t, `matching: all
actions:
- {match: {rule: R}, action: script, command: [sh, -c, 'cat > `+out+`; echo "$SAKER_RULE" >> `+out+`']}
- {match: {rule: R}, action: webhook, url: '`+srv.URL+`/hook'}
- {match: {rule: R}, action: script, command: [sh, -c, 'echo boom; exit 3']}
`)
	a := respond(r, &event.Event{TS: time.Now().UnixNano(), Thread: &event.Thread{PID: 12345, Comm: "x"}}, "R")
	results := map[string]string{}
	for i := 1; i <= 3; i++ {
		got := rec.next(t, i)
		results[field(got, "response.detail")] = field(got, "response.result")
	}
	var hook alert.Alert
	if err := json.Unmarshal(<-bodies, &hook); err != nil || hook.UUID != a.UUID || hook.Rule != "R" {
		t.Fatalf("webhook got %+v (%v), want the alert %s", hook, err, a.UUID)
	}
	b, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(b), a.UUID) || !strings.HasSuffix(string(b), "R\n") {
		t.Fatalf("script wrote %q (%v)", b, err)
	}
	var failed int
	for detail, res := range results {
		if res == ResultFailed {
			failed++
			if !strings.Contains(detail, "exit status 3: boom") {
				t.Errorf("failed script detail %q", detail)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("results %v: want exactly the failing script failed", results)
	}
}

func TestPodActions(t *testing.T) {
	api := k8spodtest.New(t, "shop/web-1", "kube-system/coredns-1")
	pods, err := k8spod.New(k8spod.Config{Kubeconfig: api.Kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(`matching: all
actions:
- {match: {rule: R}, action: pod_label, labels: {saker.dev/quarantine: "true"}}
- {match: {rule: R}, action: pod_annotate, annotations: {saker.dev/alert: "${rule} ${alert_id}"}}
- {match: {rule: R}, action: pod_delete, grace_period: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(c, Options{Emitter: newRecords()}); err == nil || !strings.Contains(err.Error(), "needs a Kubernetes client") {
		t.Fatalf("New without a pod client: %v", err)
	}
	rec := newRecords()
	r, err := New(c, Options{Emitter: rec, Pods: pods, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	inPod := func(ns, pod string) *event.Event {
		ev := eventOf(4242, "sh")
		ev.Container = &event.Container{ID: "0123456789ab", Name: "web", Runtime: "containerd", Namespace: ns, PodName: pod}
		return ev
	}
	a := respond(r, inPod("shop", "web-1"), "R")
	for i := 1; i <= 3; i++ {
		got := rec.next(t, i)
		if field(got, "response.result") != ResultDone || field(got, "k8s.pod.name") != "web-1" || field(got, "response.alert_id") != a.UUID {
			t.Fatalf("record %d: %v", i, got.OutputFields)
		}
	}
	var calls []k8spodtest.Call
	for range 3 {
		calls = append(calls, <-api.Calls)
	}
	if calls[0].Method != "PATCH" || calls[1].Method != "PATCH" || calls[2].Method != "DELETE" || !strings.Contains(string(calls[2].Body), `"gracePeriodSeconds":5`) {
		t.Fatalf("calls %+v", calls)
	}
	if !strings.Contains(string(calls[1].Body), "R "+a.UUID) {
		t.Fatalf("annotation %s: want the rule and alert id filled in", calls[1].Body)
	}
	// kube-system is protected by default; a process outside a pod has no pod.
	respond(r, inPod("kube-system", "coredns-1"), "R")
	respond(r, eventOf(4242, "sh"), "R")
	for i := 4; i <= 9; i++ {
		got := rec.next(t, i)
		if field(got, "response.result") != ResultSkipped {
			t.Fatalf("record %d: %v, want skipped", i, got.OutputFields)
		}
	}
	if _, ok := api.Pod("kube-system/coredns-1"); !ok {
		t.Fatal("kube-system pod deleted")
	}
	select {
	case call := <-api.Calls:
		t.Fatalf("API call for a refused action: %+v", call)
	default:
	}
}
