package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/embedded"
	redisstore "github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/testutil"
)

// sakerBin is the saker binary TestMain builds for the suite.
var sakerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "saker-faults-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sakerBin = filepath.Join(dir, "saker")
	build := exec.Command("go", "build", "-o", sakerBin, "github.com/saker-sec/saker/cmd/saker")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build saker: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// long reports whether the long variants run (make faults-long).
func long() bool { return os.Getenv("SAKER_FAULTS_LONG") == "1" }

// pick returns short, or long under make faults-long.
func pick[T any](short, longer T) T {
	if long() {
		return longer
	}
	return short
}

// proc is a child process of the suite, its output appended to logPath.
type proc struct {
	t       testing.TB
	name    string
	logPath string

	cmd    *exec.Cmd
	exited chan struct{}
}

// run starts args with env.
func (p *proc) run(env []string, args ...string) {
	p.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(cmd, p.exited)
}

// logTail is the last n lines of the process's output.
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	return tail(string(b), n)
}

// kill is kill -9.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// stop is SIGTERM and a wait for the graceful exit.
func (p *proc) stop() {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		p.t.Errorf("%s did not stop within 60s of SIGTERM", p.name)
		p.kill()
	}
	p.cmd = nil
}

// hubProc is one `saker hub` process; restarts keep its ports and data.
type hubProc struct {
	proc
	env    map[string]string
	port   int
	uiPort int
	prefix []string // command prefix, e.g. prlimit
}

// startHub runs a hub with env on fresh loopback ports; it is killed when
// the test ends.
func startHub(t testing.TB, name string, env map[string]string, prefix ...string) *hubProc {
	t.Helper()
	h := &hubProc{proc: proc{t: t, name: name, logPath: filepath.Join(t.TempDir(), name+".log")},
		env: env, port: testutil.FreePort(t), uiPort: testutil.FreePort(t), prefix: prefix}
	h.start()
	t.Cleanup(func() {
		h.kill()
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, h.logTail(40))
		}
	})
	return h
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (h *hubProc) url() string { return fmt.Sprintf("http://127.0.0.1:%d", h.port) }

func (h *hubProc) start() {
	h.t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"LISTENADDRESS=127.0.0.1", "LISTENPORT=" + strconv.Itoa(h.port),
		"UI_ADDRESS=127.0.0.1", "UI_LISTENPORT=" + strconv.Itoa(h.uiPort)}
	for k, v := range h.env {
		env = append(env, k+"="+v)
	}
	h.run(env, append(append([]string{}, h.prefix...), sakerBin, "hub")...)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(h.url() + "/ping")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-h.exited:
			h.t.Fatalf("%s exited at start:\n%s", h.name, h.logTail(20))
		default:
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s did not answer /ping in 30s", h.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric reads one sample from /metrics: name with labels such as
// `forwarder="webhook"` (empty for none); -1 when absent.
func (h *hubProc) metric(name, labels string) float64 {
	resp, err := http.Get(h.url() + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	want := name
	if labels != "" {
		want += "{" + labels + "}"
	}
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), want+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

func (h *hubProc) healthz() int {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(h.url() + "/healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// loader posts Falco payloads, one per request as Falco's http_output
// does, and records every alert answered 200.
type loader struct {
	urls    []string
	client  *http.Client
	mu      sync.Mutex
	acked   map[string]time.Time
	failed  atomic.Int64
	running sync.WaitGroup
	cancel  context.CancelFunc
}

func newLoader(urls ...string) *loader {
	return &loader{urls: urls, acked: map[string]time.Time{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

func payload(id string) string {
	return `{"uuid":"` + id + `","output":"fault suite alert ` + id + `","priority":"Warning","rule":"Fault suite","time":"` +
		time.Now().UTC().Format(time.RFC3339Nano) + `","output_fields":{"proc.name":"faults","evt.num":42},"source":"syscall","hostname":"faults","tags":["faults"]}`
}

// post sends one alert and records it when acknowledged.
func (l *loader) post(url string) bool {
	id := uuid.NewString()
	resp, err := l.client.Post(url+"/", "application/json", strings.NewReader(payload(id)))
	if err != nil {
		l.failed.Add(1)
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.failed.Add(1)
		return false
	}
	l.mu.Lock()
	l.acked[id] = time.Now()
	l.mu.Unlock()
	return true
}

// start runs workers posting until stop; each pauses briefly after a
// failure so a down hub is not spun on.
func (l *loader) start(workers int) {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for w := 0; w < workers; w++ {
		l.running.Add(1)
		go func() {
			defer l.running.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if !l.post(l.urls[(w+i)%len(l.urls)]) {
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
}

func (l *loader) stop() {
	if l.cancel != nil {
		l.cancel()
	}
	l.running.Wait()
}

func (l *loader) ackedIDs() map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]time.Time, len(l.acked))
	for k, v := range l.acked {
		out[k] = v
	}
	return out
}

// waitAcked waits until at least n alerts were acknowledged (bounded).
func (l *loader) waitAcked(t testing.TB, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		l.mu.Lock()
		got := len(l.acked)
		l.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d alerts acknowledged within %v (%d failed)", got, n, within, l.failed.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sink is a webhook target recording the uuids it receives; it can go
// down, hang or fail on demand.
type sink struct {
	srv  *testutil.Server
	mu   sync.Mutex
	mode string // "ok", "hang", "500"
	got  map[string]int
	hung chan struct{}
	// field keys got by this output field instead of the uuid (the
	// sensor scenarios identify an alert by the path it reports).
	field string
}

func newSink(t testing.TB) *sink {
	s := &sink{mode: "ok", got: map[string]int{}, hung: make(chan struct{})}
	s.srv = testutil.NewServer(t, s)
	t.Cleanup(func() { s.srv.Down(); s.setMode("ok") })
	return s
}

func (s *sink) url() string { return "http://" + s.srv.Addr() + "/hook" }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	mode, hung := s.mode, s.hung
	s.mu.Unlock()
	switch mode {
	case "hang":
		select {
		case <-hung:
			// Released before the client gave up: still a failure, or
			// the alert would count as delivered without being recorded.
			w.WriteHeader(http.StatusServiceUnavailable)
		case <-r.Context().Done():
		}
		return
	case "500":
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var a struct {
		UUID         string
		OutputFields map[string]any `json:"output_fields"`
	}
	if json.Unmarshal(b, &a) != nil {
		return
	}
	key := a.UUID
	if s.field != "" {
		v, ok := a.OutputFields[s.field].(string)
		if !ok {
			return
		}
		key = v
	}
	if key != "" {
		s.mu.Lock()
		s.got[key]++
		s.mu.Unlock()
	}
}

func (s *sink) setMode(m string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == "hang" && m != "hang" {
		close(s.hung)
		s.hung = make(chan struct{})
	}
	s.mode = m
}

func (s *sink) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.got))
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

// drain waits until the sink holds every acked uuid and returns how long
// that took (bounded by within; the caller checks what is missing).
func (s *sink) drain(acked map[string]time.Time, within time.Duration) time.Duration {
	start := time.Now()
	for time.Since(start) < within {
		got := s.counts()
		missing := 0
		for id := range acked {
			if got[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// readEmbedded opens a stopped hub's embedded store and counts every
// stored uuid.
func readEmbedded(t testing.TB, dir string) map[string]int {
	t.Helper()
	return readEmbeddedBy(t, dir, byUUID)
}

// readEmbeddedBy is readEmbedded counting by key.
func readEmbeddedBy(t testing.TB, dir string, key func(store.Event) string) map[string]int {
	t.Helper()
	st, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen embedded store: %v", err)
	}
	defer st.Close()
	return readAll(t, st, key)
}

func byUUID(e store.Event) string { return e.UUID }

// readRedis counts every uuid stored in Redis at addr.
func readRedis(t testing.TB, addr string) map[string]int {
	t.Helper()
	st, err := redisstore.New(context.Background(), redisstore.Options{Addresses: []string{addr}})
	if err != nil {
		t.Fatalf("open redis store: %v", err)
	}
	defer st.Close()
	return readAll(t, st, byUUID)
}

func readAll(t testing.TB, st store.Store, key func(store.Event) string) map[string]int {
	t.Helper()
	out := map[string]int{}
	q := store.Query{Limit: store.MaxLimit}
	for pages := 0; pages < 100_000; pages++ {
		p, err := st.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("read back: %v", err)
		}
		for _, e := range p.Events {
			out[key(e)]++
		}
		if p.Next == "" {
			break
		}
		q.Before = p.Next
	}
	return out
}

// result is one scenario's read-back.
type result struct {
	acked, missing, duplicates int
}

func compare(acked map[string]time.Time, got map[string]int) result {
	r := result{acked: len(acked)}
	for id := range acked {
		switch n := got[id]; {
		case n == 0:
			r.missing++
		case n > 1:
			r.duplicates += n - 1
		}
	}
	return r
}

// report logs a scenario's figures in one line (make faults prints them)
// and fails on any acknowledged alert missing.
func report(t testing.TB, what string, acked map[string]time.Time, stored map[string]int, forwarded map[string]int, drain time.Duration, extra string) {
	t.Helper()
	s := compare(acked, stored)
	line := fmt.Sprintf("FAULTS %-28s acked=%d stored_missing=%d stored_dups=%d", what, s.acked, s.missing, s.duplicates)
	if forwarded != nil {
		f := compare(acked, forwarded)
		line += fmt.Sprintf(" forwarded_missing=%d forwarded_dups=%d drain=%.1fs", f.missing, f.duplicates, drain.Seconds())
		if f.missing > 0 {
			t.Errorf("%s: %d acknowledged alerts never forwarded", what, f.missing)
			shown := 0
			for id, at := range acked {
				if forwarded[id] == 0 && shown < 5 {
					shown++
					t.Logf("not forwarded: %s acknowledged at %s", id, at.Format(time.StampMicro))
				}
			}
		}
	}
	if extra != "" {
		line += " " + extra
	}
	t.Log(line)
	fmt.Println(line)
	if s.missing > 0 {
		t.Errorf("%s: %d acknowledged alerts missing from the store", what, s.missing)
	}
	if s.acked == 0 {
		t.Errorf("%s: no alert acknowledged: the scenario tested nothing", what)
	}
}
