package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store/redistest"
)

// forwarding is the webhook target and fast retry settings every scenario
// with a target uses.
func forwarding(s *sink, env map[string]string) map[string]string {
	env["WEBHOOK_ADDRESS"] = s.url()
	env["FORWARDING_TIMEOUT"] = "1s"
	env["FORWARDING_INITIALBACKOFF"] = "50ms"
	env["FORWARDING_MAXBACKOFF"] = "500ms"
	env["FORWARDING_MINIDLE"] = "3s"
	env["FORWARDING_MAXATTEMPTS"] = "100000"
	return env
}

// The hub is killed with SIGKILL under load (embedded store) and
// restarted: every alert answered 200 is stored and forwarded.
func TestHubKill9Embedded(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t)
	h := startHub(t, "hub", forwarding(s, map[string]string{"SAKER_DATA_DIR": dir}))
	l := newLoader(h.url())
	l.start(8)
	l.waitAcked(t, pick(500, 20000), time.Minute)
	h.kill()
	h.start()
	l.waitAcked(t, pick(800, 30000), time.Minute)
	l.stop()
	acked := l.ackedIDs()
	drain := s.drain(acked, time.Minute)
	h.stop()
	report(t, "hub kill -9 (embedded)", acked, readEmbedded(t, dir), s.counts(), drain, fmt.Sprintf("failed_requests=%d", l.failed.Load()))
}

// Redis (appendfsync always) is killed with SIGKILL under load and
// restarted: the hub answers 503 meanwhile and loses nothing it
// acknowledged.
func TestRedisKill9(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	s := newSink(t)
	h := startHub(t, "hub", forwarding(s, map[string]string{"REDIS_ADDRESS": srv.Addr}))
	l := newLoader(h.url())
	l.start(8)
	l.waitAcked(t, pick(300, 10000), time.Minute)
	srv.Crash(t)
	n := len(l.ackedIDs())
	l.waitAcked(t, n+pick(300, 10000), time.Minute)
	l.stop()
	acked := l.ackedIDs()
	drain := s.drain(acked, time.Minute)
	h.stop()
	report(t, "redis kill -9", acked, readRedis(t, srv.Addr), s.counts(), drain, fmt.Sprintf("failed_requests=%d", l.failed.Load()))
}

// Redis is frozen (SIGSTOP) under load, longer than the client's read
// timeout, then thawed: nothing acknowledged is lost and nothing is
// stored twice.
func TestRedisFrozen(t *testing.T) {
	srv := redistest.Start(t)
	s := newSink(t)
	h := startHub(t, "hub", forwarding(s, map[string]string{"REDIS_ADDRESS": srv.Addr}))
	l := newLoader(h.url())
	l.start(8)
	l.waitAcked(t, 300, time.Minute)
	srv.Freeze(t)
	start := time.Now()
	healthStart := time.Now()
	code := h.healthz()
	healthTook := time.Since(healthStart)
	time.Sleep(pick(5*time.Second, 38*time.Second) - time.Since(start))
	srv.Thaw(t)
	n := len(l.ackedIDs())
	l.waitAcked(t, n+300, time.Minute)
	l.stop()
	acked := l.ackedIDs()
	drain := s.drain(acked, time.Minute)
	h.stop()
	stored := readRedis(t, srv.Addr)
	report(t, "redis SIGSTOP "+pick("5s", "38s"), acked, stored, s.counts(), drain,
		fmt.Sprintf("healthz_while_frozen=%d in %.1fs", code, healthTook.Seconds()))
	if code != 503 || healthTook > 2500*time.Millisecond {
		t.Errorf("/healthz with Redis frozen: %d after %v, want 503 within 2.5s", code, healthTook)
	}
	if r := compare(acked, stored); r.duplicates > 0 {
		t.Errorf("%d acknowledged alerts stored twice across the freeze", r.duplicates)
	}
}

// FLUSHALL while the hub runs: alerts acknowledged after the flush are all
// forwarded (the forwarder's consumer group is re-created), and those the
// flush erased before delivery are counted, exactly, in
// saker_forwarder_alerts_lost_total instead of vanishing silently (the
// ones the hub held in memory and still delivered are not counted).
func TestRedisFlushAll(t *testing.T) {
	srv := redistest.Start(t)
	s := newSink(t)
	s.srv.Down() // the flush must catch alerts not yet delivered
	h := startHub(t, "hub", forwarding(s, map[string]string{"REDIS_ADDRESS": srv.Addr}))
	l := newLoader(h.url())
	l.start(4)
	l.waitAcked(t, 200, time.Minute)
	l.stop()
	before := l.ackedIDs()
	// What FLUSHALL erases is what Redis holds, not what the loader saw
	// acknowledged: under load an ingest can store an alert and still
	// answer an error (a Redis reply past its timeout), and that alert is
	// erased and counted too.
	stored := readRedis(t, srv.Addr)
	for id := range before {
		if stored[id] == 0 {
			t.Errorf("acknowledged alert %s missing from Redis before the flush", id)
		}
	}
	// The hub counts what it observed in its group (every 5 s): flush once
	// an observation covers every stored alert.
	waitMetric(t, h, "saker_forwarder_queue_depth", `forwarder="webhook"`, float64(len(stored)), time.Minute)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer rc.Close()
	if err := rc.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	s.srv.Up()
	l2 := newLoader(h.url())
	l2.start(4)
	l2.waitAcked(t, 200, time.Minute)
	l2.stop()
	after := l2.ackedIDs()
	drain := s.drain(after, time.Minute)
	// The loss is reported once every erased alert the hub held is settled
	// (delivered from memory, or given up): the sink's count is final then.
	counted := waitMetric(t, h, "saker_forwarder_alerts_lost_total", `forwarder="webhook"`, 1, time.Minute)
	got := s.counts()
	var lostBefore int
	for id := range stored {
		if got[id] == 0 {
			lostBefore++
		}
	}
	h.stop()
	report(t, "redis FLUSHALL", after, readRedis(t, srv.Addr), got, drain,
		fmt.Sprintf("erased_before_delivery=%d counted_lost=%.0f stored_unacked=%d", lostBefore, counted, len(stored)-len(before)))
	if counted != float64(lostBefore) {
		t.Errorf("FLUSHALL erased %d undelivered alerts; saker_forwarder_alerts_lost_total says %.0f", lostBefore, counted)
	}
}

// waitMetric waits (bounded) until the hub's metric reaches at least want
// and returns it.
func waitMetric(t testing.TB, h *hubProc, name, labels string, want float64, within time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := h.metric(name, labels)
		if v >= want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s{%s} = %v after %v, want >= %v", name, labels, v, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logPath is the embedded store's log in dir.
func logPath(dir string) string { return filepath.Join(dir, "events.log") }

// A byte flipped in the middle of the embedded log: the damaged record is
// skipped and quarantined, every other acknowledged alert survives (before:
// everything after it was silently dropped).
func TestEmbeddedCorruptByte(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, "hub", map[string]string{"SAKER_DATA_DIR": dir})
	l := newLoader(h.url())
	l.start(8)
	l.waitAcked(t, pick(2000, 20000), time.Minute)
	l.stop()
	h.stop()
	acked := l.ackedIDs()
	f, err := os.OpenFile(logPath(dir), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	off := fi.Size() / 2
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x5a
	f.WriteAt(b, off)
	f.Close()
	h.start()
	damaged := h.metric("saker_hub_store_damaged_records_total", "")
	h.stop()
	stored := readEmbedded(t, dir)
	r := compare(acked, stored)
	line := fmt.Sprintf("FAULTS %-28s acked=%d stored_missing=%d damaged_records=%.0f", "embedded log byte flipped", r.acked, r.missing, damaged)
	t.Log(line)
	fmt.Println(line)
	// One record holds one group commit: a handful of alerts, not the
	// rest of the log.
	if r.missing > 50 {
		t.Errorf("a flipped byte lost %d of %d acknowledged alerts", r.missing, r.acked)
	}
	if r.missing > 0 && damaged < 1 {
		t.Errorf("%d alerts lost and no damaged record reported", r.missing)
	}
	q, _ := filepath.Glob(filepath.Join(dir, "quarantine", "*"))
	if r.missing > 0 && len(q) == 0 {
		t.Errorf("damaged bytes not quarantined")
	}
}

// A torn write at the end of the log (a crash mid-append: half a record)
// is cut on restart; every acknowledged alert survives.
func TestEmbeddedTornTail(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, "hub", map[string]string{"SAKER_DATA_DIR": dir})
	l := newLoader(h.url())
	l.start(4)
	l.waitAcked(t, 500, time.Minute)
	l.stop()
	h.stop()
	acked := l.ackedIDs()
	raw, err := os.ReadFile(logPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(logPath(dir), os.O_WRONLY|os.O_APPEND, 0)
	f.Write(raw[:min(len(raw)/3, 700)]) // the start of a record, cut short
	f.Close()
	h.start()
	h.stop()
	report(t, "embedded torn tail", acked, readEmbedded(t, dir), nil, 0, "")
}

// A thousand slow clients hold connections to the dashboard port while
// the process has few file descriptors: ingestion on :2801 keeps
// answering 200 (before: accept4 EMFILE and failed ingestion).
func TestSlowDashboardClientsDoNotStarveIngestion(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	dir := t.TempDir()
	h := startHub(t, "hub", map[string]string{"SAKER_DATA_DIR": dir}, "prlimit", "--nofile=512:512")
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", h.uiPort))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dashboard port never opened: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < pick(1100, 3000); i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", h.uiPort), time.Second)
		if err != nil {
			break // the kernel's accept queue is full: the cap works
		}
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) // and never finish the headers
		conns = append(conns, c)
	}
	l := newLoader(h.url())
	l.start(4)
	time.Sleep(2 * time.Second)
	l.stop()
	acked := l.ackedIDs()
	failed := l.failed.Load()
	slow := len(conns)
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	h.stop()
	report(t, "slow dashboard clients", acked, readEmbedded(t, dir), nil, 0,
		fmt.Sprintf("slow_conns=%d failed_requests=%d", slow, failed))
	if failed > 0 {
		t.Errorf("%d ingestion requests failed while slow clients held the dashboard port", failed)
	}
}

// The target goes down, then hangs (accepts and never answers), then
// recovers: every alert is delivered; duplicates and drain time reported.
func TestTargetOutageAndHang(t *testing.T) {
	dir := t.TempDir()
	s := newSink(t)
	h := startHub(t, "hub", forwarding(s, map[string]string{"SAKER_DATA_DIR": dir}))
	l := newLoader(h.url())
	l.start(4)
	l.waitAcked(t, 200, time.Minute)
	downAt := time.Now()
	s.srv.Down()
	time.Sleep(pick(3*time.Second, 60*time.Second))
	s.srv.Up()
	hangAt := time.Now()
	s.setMode("hang")
	time.Sleep(pick(3*time.Second, 30*time.Second))
	okAt := time.Now()
	s.setMode("ok")
	l.stop()
	acked := l.ackedIDs()
	drain := s.drain(acked, pick(90*time.Second, 5*time.Minute))
	t.Logf("queue depth at the end: %.0f; down %s, hang %s, ok %s", h.metric("saker_forwarder_queue_depth", `forwarder="webhook"`),
		downAt.Format(time.StampMicro), hangAt.Format(time.StampMicro), okAt.Format(time.StampMicro))
	h.stop()
	report(t, "target down then hanging", acked, readEmbedded(t, dir), s.counts(), drain, "")
}

// Two hubs share one Redis and one forwarder group; one is killed -9
// under load. The other keeps ingesting and reclaims the victim's
// in-flight deliveries: nothing acknowledged by either is lost.
func TestTwoReplicasOneKilled(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	s := newSink(t)
	a := startHub(t, "hub-a", forwarding(s, map[string]string{"REDIS_ADDRESS": srv.Addr}))
	b := startHub(t, "hub-b", forwarding(s, map[string]string{"REDIS_ADDRESS": srv.Addr}))
	l := newLoader(a.url(), b.url())
	l.start(8)
	l.waitAcked(t, pick(600, 20000), time.Minute)
	a.kill()
	n := len(l.ackedIDs())
	l.waitAcked(t, n+pick(300, 10000), time.Minute)
	l.stop()
	acked := l.ackedIDs()
	drain := s.drain(acked, time.Minute)
	b.stop()
	report(t, "two replicas, one kill -9", acked, readRedis(t, srv.Addr), s.counts(), drain, fmt.Sprintf("failed_requests=%d", l.failed.Load()))
}

// The disk fills up (a 4 MiB tmpfs): the hub answers 503 and /healthz
// says so instead of acknowledging what it cannot store; once space is
// freed, ingestion resumes and nothing acknowledged is lost.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("SAKER_REQUIRE_BPF") == "1" {
			t.Fatal("full-disk scenario needs root to mount a tmpfs")
		}
		t.Skip("full-disk scenario needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	defer exec.Command("umount", "-l", dir).Run()
	data := filepath.Join(dir, "data")
	h := startHub(t, "hub", map[string]string{"SAKER_DATA_DIR": data})
	// Leave about 200 KiB free.
	filler := filepath.Join(dir, "filler")
	var st syscall.Statfs_t
	syscall.Statfs(dir, &st)
	free := int64(st.Bavail) * int64(st.Bsize)
	if err := os.WriteFile(filler, make([]byte, max(free-200<<10, 0)), 0o644); err != nil {
		t.Logf("filler: %v", err)
	}
	l := newLoader(h.url())
	l.start(4)
	deadline := time.Now().Add(time.Minute)
	for l.failed.Load() < 50 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if l.failed.Load() < 50 {
		t.Fatal("the disk never filled up")
	}
	health := h.healthz()
	os.Remove(filler)
	n := len(l.ackedIDs())
	l.waitAcked(t, n+200, time.Minute)
	l.stop()
	acked := l.ackedIDs()
	h.stop()
	report(t, "full disk (tmpfs)", acked, readEmbedded(t, data), nil, 0,
		fmt.Sprintf("refused_while_full=%d healthz_while_full=%d", l.failed.Load(), health))
	if health != 503 {
		t.Errorf("/healthz on a full disk: %d, want 503", health)
	}
}
