package output

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// peer is a real HTTP peer recording the alerts it accepted, by uuid.
type peer struct {
	mu       sync.Mutex
	got      map[string]int // uuid -> deliveries
	order    []string
	requests atomic.Int64
	failing  atomic.Bool // answer 503 to everything
	noBatch  bool        // 404 on the batch route
	sidekick bool        // any path, first JSON value only, empty 200 (falcosidekick)
	reject   string      // uuid answered with 400
	srv      *httptest.Server
}

func newPeer(t *testing.T) *peer {
	p := &peer{got: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *peer) serve(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	if p.failing.Load() {
		http.Error(w, "store down", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "post only", http.StatusBadRequest)
		return
	}
	if p.sidekick {
		// falcosidekick: decode one payload from the body, ignore the rest.
		var a alert.Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.got[a.UUID]++
		p.order = append(p.order, a.UUID)
		p.mu.Unlock()
		return
	}
	var batch []alert.Alert
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var a alert.Alert
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		batch = append(batch, a)
	}
	switch r.URL.Path {
	case BatchPath:
		if p.noBatch {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Content-Type") != "application/x-ndjson" {
			http.Error(w, "bad content type", http.StatusBadRequest)
			return
		}
	case "/":
		if len(batch) != 1 {
			http.Error(w, "one alert per request", http.StatusBadRequest)
			return
		}
	default:
		http.NotFound(w, r)
		return
	}
	for _, a := range batch {
		if a.UUID == p.reject || a.Rule == "" {
			http.Error(w, "invalid alert", http.StatusBadRequest)
			return
		}
	}
	p.mu.Lock()
	for _, a := range batch {
		p.got[a.UUID]++
		p.order = append(p.order, a.UUID)
	}
	p.mu.Unlock()
	if r.URL.Path == BatchPath {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"count":%d,"ids":[]}`, len(batch))
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (p *peer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

func testAlert(i int) *alert.Alert {
	return &alert.Alert{UUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Output: fmt.Sprintf("alert %d", i), Priority: alert.PriorityWarning,
		Rule: "r", Time: time.Unix(1700000000, int64(i)).UTC(), OutputFields: map[string]any{"n": i}, Source: Source, Hostname: "h"}
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHTTPOutageLosesNothing: the hub fails for a while; alerts overflow
// memory into the spool and all arrive, in order, once it recovers.
func TestHTTPOutageLosesNothing(t *testing.T) {
	p := newPeer(t)
	p.failing.Store(true)
	dir := t.TempDir()
	s, err := NewHTTP(HTTPOptions{URL: p.srv.URL + "/", MemoryBuffer: 20, SpoolDir: dir, SegmentAlerts: 50, BatchSize: 40,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 600
	for i := 0; i < n; i++ {
		s.Enqueue(testAlert(i))
	}
	waitFor(t, "retries during the outage", 5*time.Second, func() bool { return s.Stats().Retries >= 5 })
	st := s.Stats()
	if st.OnDisk == 0 || st.Spooled == 0 {
		t.Fatalf("expected alerts spooled to disk during the outage: %+v", st)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "seg-*.ndjson")); len(files) == 0 {
		t.Fatalf("no spool segment files on disk")
	}
	p.failing.Store(false)
	waitFor(t, "all alerts delivered", 10*time.Second, func() bool { return p.count() == n })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = s.Stats()
	if st.Sent != n || st.Dropped != 0 || st.Rejected != 0 || st.OnDisk != 0 || st.InMemory != 0 {
		t.Fatalf("stats after recovery: %+v", st)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, id := range p.order {
		if id != testAlert(i).UUID {
			t.Fatalf("delivery %d is %s, want %s (order lost)", i, id, testAlert(i).UUID)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "seg-*.ndjson")); len(files) != 0 {
		t.Fatalf("spool not emptied: %v", files)
	}
}

// TestHTTPSpoolSurvivesRestart: the hub stays down past Close; the alerts
// wait on disk and a new sink over the same spool delivers them.
func TestHTTPSpoolSurvivesRestart(t *testing.T) {
	p := newPeer(t)
	p.failing.Store(true)
	dir := t.TempDir()
	opts := HTTPOptions{URL: p.srv.URL, MemoryBuffer: 1000, SpoolDir: dir, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	s, err := NewHTTP(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		s.Enqueue(testAlert(i))
	}
	waitFor(t, "a failed attempt", 5*time.Second, func() bool { return s.Stats().Retries > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.OnDisk != 50 || st.Sent != 0 {
		t.Fatalf("after close with the hub down: %+v", st)
	}
	p.failing.Store(false)
	s2, err := NewHTTP(opts)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "spooled alerts delivered after restart", 5*time.Second, func() bool { return p.count() == 50 })
	if err := s2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestHTTPFailureSpillsToDisk: once a delivery fails, the alerts waiting
// in memory (far fewer than MemoryBuffer) are written to the spool at once,
// so a kill -9 of the sensor during a hub outage does not lose them; they
// are delivered in order when the hub is back.
func TestHTTPFailureSpillsToDisk(t *testing.T) {
	p := newPeer(t)
	p.failing.Store(true)
	dir := t.TempDir()
	s, err := NewHTTP(HTTPOptions{URL: p.srv.URL + "/", MemoryBuffer: 10000, SpoolDir: dir, BatchSize: 4,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	const n = 30
	for i := 0; i < n; i++ {
		s.Enqueue(testAlert(i))
	}
	waitFor(t, "the alerts on disk", 5*time.Second, func() bool { st := s.Stats(); return st.OnDisk == n && st.InMemory == 0 })
	// What a killed process leaves: the segment files' bytes.
	onDisk := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(dir, "seg-*.ndjson"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var a alert.Alert
			if err := json.Unmarshal(line, &a); err == nil {
				onDisk[a.UUID] = true
			}
		}
	}
	for i := 0; i < n; i++ {
		if !onDisk[testAlert(i).UUID] {
			t.Fatalf("alert %d not in the spool files (%d of %d there)", i, len(onDisk), n)
		}
	}
	for i := n; i < n+10; i++ { // alerts raised during the outage follow them to disk
		s.Enqueue(testAlert(i))
	}
	if st := s.Stats(); st.OnDisk != n+10 {
		t.Fatalf("alerts raised during the outage: %+v, want all on disk", st)
	}
	p.failing.Store(false)
	waitFor(t, "all alerts delivered", 5*time.Second, func() bool { return p.count() == n+10 })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, id := range p.order {
		if id != testAlert(i).UUID {
			t.Fatalf("delivery %d is %s, want %s (order lost)", i, id, testAlert(i).UUID)
		}
	}
}

// TestHTTPSidekickFallback: a peer without the batch route gets one POST /
// per alert.
func TestHTTPSidekickFallback(t *testing.T) {
	p := newPeer(t)
	p.noBatch = true
	s, err := NewHTTP(HTTPOptions{URL: p.srv.URL + "/", MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		s.Enqueue(testAlert(i))
	}
	waitFor(t, "alerts delivered one by one", 5*time.Second, func() bool { return p.count() == 20 })
	if !s.Stats().Single {
		t.Fatal("sink did not switch to per-alert mode")
	}
	s.Close(context.Background())
}

// TestHTTPSidekickAnyPath: falcosidekick answers 200 on the batch route
// too but keeps only the first alert; the sink notices the missing count
// and sends the rest one per request, each alert exactly once.
func TestHTTPSidekickAnyPath(t *testing.T) {
	p := newPeer(t)
	p.sidekick = true
	s, err := NewHTTP(HTTPOptions{URL: p.srv.URL + "/", MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		s.Enqueue(testAlert(i))
	}
	waitFor(t, "all alerts at the sidekick", 5*time.Second, func() bool { return p.count() == 30 })
	s.Close(context.Background())
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, n := range p.got {
		if n != 1 {
			t.Errorf("alert %s delivered %d times", id, n)
		}
	}
	if len(p.order) != 30 || !s.Stats().Single {
		t.Fatalf("deliveries %d, single mode %v", len(p.order), s.Stats().Single)
	}
}

// TestHTTPRejectedAlertIsolated: one invalid alert in a batch is dropped,
// the others are delivered.
func TestHTTPRejectedAlertIsolated(t *testing.T) {
	p := newPeer(t)
	p.reject = testAlert(3).UUID
	s, err := NewHTTP(HTTPOptions{URL: p.srv.URL, MinBackoff: time.Millisecond, BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		s.Enqueue(testAlert(i))
	}
	waitFor(t, "valid alerts delivered", 5*time.Second, func() bool { return p.count() == 9 })
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Sent != 9 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestHTTPOptionsErrors(t *testing.T) {
	for _, o := range []HTTPOptions{{URL: ""}, {URL: "ftp://x"}, {URL: "http://h", Mode: "x"}} {
		if _, err := NewHTTP(o); err == nil {
			t.Errorf("NewHTTP(%+v): want error", o)
		}
	}
}

func TestSpoolSkipsTornLine(t *testing.T) {
	dir := t.TempDir()
	line, _ := json.Marshal(testAlert(1))
	os.WriteFile(filepath.Join(dir, "seg-00000000000000000007.ndjson"), append(append(line, '\n'), []byte("{\"rule\":\n")...), 0o600)
	sp, err := openSpool(dir, 1<<20, 10)
	if err != nil {
		t.Fatal(err)
	}
	_, as, bad, ok, err := sp.oldest()
	if err != nil || !ok || len(as) != 1 || bad != 1 || as[0].UUID != testAlert(1).UUID {
		t.Fatalf("oldest: %d alerts, %d bad, ok=%v err=%v", len(as), bad, ok, err)
	}
	if sp.seq != 8 {
		t.Fatalf("next segment %d, want 8", sp.seq)
	}
}

// TestHTTPTLS: an https peer is reached with its CA (ca_cert) or with
// insecure, and refused otherwise.
func TestHTTPTLS(t *testing.T) {
	p := &peer{got: map[string]int{}}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	defer p.srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	var pemBuf bytes.Buffer
	pem.Encode(&pemBuf, &pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	os.WriteFile(caFile, pemBuf.Bytes(), 0o600)

	for i, o := range []HTTPOptions{{CACertFile: caFile}, {Insecure: true}} {
		o.URL, o.MinBackoff = p.srv.URL, time.Millisecond
		s, err := NewHTTP(o)
		if err != nil {
			t.Fatal(err)
		}
		s.Enqueue(testAlert(i))
		waitFor(t, "tls delivery", 5*time.Second, func() bool { return p.count() == i+1 })
		s.Close(context.Background())
	}
	s, err := NewHTTP(HTTPOptions{URL: p.srv.URL, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Enqueue(testAlert(9))
	waitFor(t, "a refused attempt", 5*time.Second, func() bool { return s.Stats().Retries > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	s.Close(ctx)
	if p.count() != 2 {
		t.Fatalf("untrusted certificate accepted")
	}
	if _, err := NewHTTP(HTTPOptions{URL: p.srv.URL, CACertFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Fatal("missing ca_cert: want error")
	}
}

// BenchmarkHTTPSinkThroughput measures alerts delivered per second through
// batching to a loopback peer.
func BenchmarkHTTPSinkThroughput(b *testing.B) {
	p := &peer{got: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	defer p.srv.Close()
	s, err := NewHTTP(HTTPOptions{URL: p.srv.URL, MemoryBuffer: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	as := make([]*alert.Alert, b.N)
	for i := range as {
		as[i] = testAlert(i)
	}
	b.ResetTimer()
	for _, a := range as {
		s.Enqueue(a)
	}
	for s.Stats().Sent < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	s.Close(context.Background())
}
