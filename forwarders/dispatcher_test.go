package forwarders_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/webhook"
	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/embedded"
	"github.com/saker-sec/saker/hub/testutil"
)

// Peer modes.
const (
	modeOK   = "ok"
	mode500  = "500"
	modeHang = "hang" // hold the request until the client gives up
	mode400  = "400"  // reject alerts whose rule starts with "bad"
)

// hookPeer is a webhook receiver on a fixed loopback address that can fail,
// hang or go away (listener closed) and come back on the same port. It
// counts accepted deliveries per alert uuid.
type hookPeer struct {
	srv *testutil.Server

	mu       sync.Mutex
	mode     string
	got      map[string]int
	requests int
	maxLat   time.Duration // worst (receipt - alert time) among accepted alerts
	inflight chan struct{} // receives when a hanging request starts
}

func newHookPeer(t testing.TB) *hookPeer {
	p := &hookPeer{mode: modeOK, got: map[string]int{}, inflight: make(chan struct{}, 100)}
	p.srv = testutil.NewServer(t, p)
	return p
}

func (p *hookPeer) URL() string { return "http://" + p.srv.Addr() + "/falco" }

func (p *hookPeer) setMode(m string) {
	p.mu.Lock()
	p.mode = m
	p.mu.Unlock()
}

func (p *hookPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var a alert.Alert
	if err := json.Unmarshal(b, &a); err != nil || r.Header.Get("Content-Type") != outhttp.ContentTypeJSON {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.requests++
	mode := p.mode
	p.mu.Unlock()
	switch {
	case mode == mode500:
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case mode == modeHang:
		select {
		case p.inflight <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		return
	case mode == mode400 && strings.HasPrefix(a.Rule, "bad"):
		http.Error(w, "rejected", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.got[a.UUID]++
	p.maxLat = max(p.maxLat, time.Since(a.Time))
	p.mu.Unlock()
}

func (p *hookPeer) delivered() (distinct, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.got {
		distinct++
		total += n
	}
	return
}

func openStore(t testing.TB, dir string) store.Store {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// Registered before any dispatcher's cleanup, so it runs after it.
	t.Cleanup(func() { s.Close() })
	return s
}

func webhookTarget(t testing.TB, name, url string, minPrio alert.Priority) forwarders.Target {
	t.Helper()
	f, err := webhook.New(webhook.Config{Address: url, Method: "POST", Common: settings.Common{CheckCert: true}}, outhttp.Options{Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return forwarders.Target{Name: name, Forwarder: f, MinPriority: minPrio, MaxBatch: 50, Endpoint: url}
}

func fastOptions(consumer string) forwarders.Options {
	return forwarders.Options{
		Consumer: consumer,
		Retry:    forwarders.RetryPolicy{MaxAttempts: 1000, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: 300 * time.Millisecond},
		MinIdle:  2 * time.Second, Block: 50 * time.Millisecond, LagInterval: 50 * time.Millisecond,
	}
}

// start runs a dispatcher until the returned stop is called.
func start(t testing.TB, st store.Store, targets []forwarders.Target, reg prometheus.Registerer, opts forwarders.Options) (*forwarders.Dispatcher, func()) {
	t.Helper()
	// Groups start at "now": create them before alerts are appended.
	for _, tg := range targets {
		if _, err := st.Deliveries(context.Background(), forwarders.Group(tg.Name)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := forwarders.NewDispatcher(st, targets, nil, reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("dispatcher did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return d, stop
}

var seq int

func appendAlerts(t testing.TB, st store.Store, n int, rule string, p alert.Priority) []string {
	t.Helper()
	alerts := make([]alert.Alert, n)
	uuids := make([]string, n)
	for i := range alerts {
		seq++
		uuids[i] = fmt.Sprintf("alert-%06d", seq)
		alerts[i] = alert.Alert{UUID: uuids[i], Output: "o", Priority: p, Rule: rule, Time: time.Now().UTC(),
			OutputFields: map[string]any{"proc.name": "bash"}, Source: "syscalls", Hostname: "h"}
	}
	if _, err := st.Append(context.Background(), alerts); err != nil {
		t.Fatal(err)
	}
	return uuids
}

var eventually = testutil.Eventually

func assertExactlyOnce(t testing.TB, p *hookPeer, uuids []string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range uuids {
		if p.got[u] != 1 {
			t.Errorf("alert %s delivered %d times, want 1", u, p.got[u])
		}
	}
}

func TestDeliversEveryAlertOnce(t *testing.T) {
	st := openStore(t, t.TempDir())
	p := newHookPeer(t)
	d, stop := start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, fastOptions("a"))
	var uuids []string
	for i := 0; i < 10; i++ {
		uuids = append(uuids, appendAlerts(t, st, 30, "r", alert.PriorityWarning)...)
	}
	eventually(t, 10*time.Second, "300 deliveries", func() bool { n, _ := p.delivered(); return n == 300 })
	assertExactlyOnce(t, p, uuids)
	eventually(t, 5*time.Second, "lag 0", func() bool { s := d.Status(context.Background())[0]; return s.Pending == 0 })
	stop()
	s := d.Status(context.Background())[0]
	if s.Sent != 300 || s.Failed != 0 || !s.Healthy || s.Name != "webhook" {
		t.Fatalf("status %+v", s)
	}
}

func TestTargetFaultsLoseNothing(t *testing.T) {
	tests := []struct {
		name    string
		fail    func(p *hookPeer)
		recover func(p *hookPeer)
	}{
		{"returns 500s", func(p *hookPeer) { p.setMode(mode500) }, func(p *hookPeer) { p.setMode(modeOK) }},
		{"hangs", func(p *hookPeer) { p.setMode(modeHang) }, func(p *hookPeer) { p.setMode(modeOK) }},
		{"is down", func(p *hookPeer) { p.srv.Down() }, func(p *hookPeer) { p.srv.Up() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t, t.TempDir())
			p := newHookPeer(t)
			reg := prometheus.NewRegistry()
			d, _ := start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, reg, fastOptions("a"))
			uuids := appendAlerts(t, st, 20, "r", alert.PriorityWarning)
			eventually(t, 5*time.Second, "first deliveries", func() bool { n, _ := p.delivered(); return n == 20 })
			tt.fail(p)
			uuids = append(uuids, appendAlerts(t, st, 40, "r", alert.PriorityWarning)...)
			eventually(t, 5*time.Second, "retries", func() bool {
				return value(t, reg, "saker_forwarder_alerts_retried_total") > 0
			})
			if s := d.Status(context.Background())[0]; s.Healthy || s.LastError == "" {
				t.Errorf("status during outage %+v, want unhealthy with an error", s)
			}
			uuids = append(uuids, appendAlerts(t, st, 40, "r", alert.PriorityWarning)...)
			tt.recover(p)
			eventually(t, 10*time.Second, "all 100 delivered", func() bool { n, _ := p.delivered(); return n == 100 })
			assertExactlyOnce(t, p, uuids)
			eventually(t, 5*time.Second, "status after recovery", func() bool {
				s := d.Status(context.Background())[0]
				return s.Healthy && s.DeadLettered == 0 && s.Sent == 100 && s.Pending == 0
			})
		})
	}
}

// value returns the forwarder="webhook" sample of a counter or gauge.
func value(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "forwarder" && l.GetValue() == "webhook" {
					if m.GetGauge() != nil {
						return m.GetGauge().GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{forwarder=webhook}", name)
	return 0
}

func TestDispatcherKilledMidDeliveryThenRestarted(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	p := newHookPeer(t)
	p.setMode(modeHang)
	opts := fastOptions("replica-1")
	opts.Retry.Timeout = 5 * time.Second // the request is in flight when we kill it
	_, stop := start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, opts)
	uuids := appendAlerts(t, st, 25, "r", alert.PriorityWarning)
	select {
	case <-p.inflight:
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery started")
	}
	stop() // "kill" mid-delivery: nothing acknowledged
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	p.setMode(modeOK)

	// The hub restarts on the same data: a new process (new consumer name).
	st = openStore(t, dir)
	opts = fastOptions("replica-2")
	opts.MinIdle = 300 * time.Millisecond
	start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, opts)
	uuids = append(uuids, appendAlerts(t, st, 5, "r", alert.PriorityWarning)...)
	eventually(t, 10*time.Second, "all 30 delivered after restart", func() bool { n, _ := p.delivered(); return n == 30 })
	assertExactlyOnce(t, p, uuids)
}

func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	st := openStore(t, t.TempDir())
	p := newHookPeer(t)
	p.setMode(mode500)
	reg := prometheus.NewRegistry()
	opts := fastOptions("a")
	opts.Retry.MaxAttempts = 3
	opts.MinIdle = 30 * time.Second // no hand-back: exact attempt count
	d, _ := start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, reg, opts)
	appendAlerts(t, st, 4, "r", alert.PriorityWarning)
	eventually(t, 10*time.Second, "4 dead letters", func() bool {
		dl, err := d.DeadLetters(context.Background(), "webhook", 100)
		return err == nil && len(dl) == 4
	})
	// The store records a dead letter just before the counters move.
	eventually(t, 5*time.Second, "counters", func() bool { return d.Status(context.Background())[0].DeadLettered == 4 })
	dl, _ := d.DeadLetters(context.Background(), "webhook", 100)
	for _, x := range dl {
		if x.Attempts != 3 || !strings.Contains(x.Reason, "gave up after 3 attempts") || !strings.Contains(x.Reason, "HTTP 500") {
			t.Errorf("dead letter %s: attempts %d reason %q", x.ID, x.Attempts, x.Reason)
		}
	}
	if got := value(t, reg, "saker_forwarder_alerts_dead_lettered_total"); got != 4 {
		t.Errorf("dead_lettered_total = %v, want 4", got)
	}
	s := d.Status(context.Background())[0]
	if s.DeadLettered != 4 || len(s.DeadLetters) != 4 || s.Sent != 0 {
		t.Errorf("status %+v", s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.requests != 12 {
		t.Errorf("target saw %d requests, want 4 alerts × 3 attempts", p.requests)
	}
}

func TestRejectedAlertDeadLetteredImmediatelyOthersDelivered(t *testing.T) {
	st := openStore(t, t.TempDir())
	p := newHookPeer(t)
	p.setMode(mode400)
	d, _ := start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, fastOptions("a"))
	good := appendAlerts(t, st, 3, "good", alert.PriorityWarning)
	appendAlerts(t, st, 1, "bad", alert.PriorityWarning)
	good = append(good, appendAlerts(t, st, 3, "good", alert.PriorityWarning)...)
	eventually(t, 5*time.Second, "6 good delivered", func() bool { n, _ := p.delivered(); return n == 6 })
	assertExactlyOnce(t, p, good)
	eventually(t, 5*time.Second, "1 dead letter", func() bool {
		dl, _ := d.DeadLetters(context.Background(), "webhook", 10)
		return len(dl) == 1 && dl[0].Rule == "bad" && dl[0].Attempts == 1 && strings.Contains(dl[0].Reason, "HTTP 400")
	})
}

func TestMinimumPriority(t *testing.T) {
	st := openStore(t, t.TempDir())
	p := newHookPeer(t)
	d, _ := start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), alert.PriorityError)}, nil, fastOptions("a"))
	appendAlerts(t, st, 5, "r", alert.PriorityWarning)
	want := appendAlerts(t, st, 3, "r", alert.PriorityCritical)
	appendAlerts(t, st, 5, "r", alert.PriorityDebug)
	want = append(want, appendAlerts(t, st, 2, "r", alert.PriorityError)...)
	eventually(t, 5*time.Second, "filtered everything", func() bool {
		s := d.Status(context.Background())[0]
		return s.Filtered == 10 && s.Sent == 5 && s.Pending == 0
	})
	if n, _ := p.delivered(); n != 5 {
		t.Fatalf("delivered %d, want 5", n)
	}
	assertExactlyOnce(t, p, want)
}

// POST /test's alert is Debug; it reaches every target whatever its
// minimum priority, as falcosidekick's test does.
func TestTestAlertBypassesMinimumPriority(t *testing.T) {
	st := openStore(t, t.TempDir())
	p := newHookPeer(t)
	d, _ := start(t, st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), alert.PriorityCritical)}, nil, fastOptions("a"))
	appendAlerts(t, st, 2, "r", alert.PriorityDebug)
	want := appendAlerts(t, st, 1, alert.TestRule, alert.PriorityDebug)
	eventually(t, 5*time.Second, "test alert sent, others filtered", func() bool {
		s := d.Status(context.Background())[0]
		return s.Filtered == 2 && s.Sent == 1 && s.Pending == 0
	})
	assertExactlyOnce(t, p, want)
}

func TestSlowTargetDoesNotDelayOthers(t *testing.T) {
	st := openStore(t, t.TempDir())
	slow, fast := newHookPeer(t), newHookPeer(t)
	slow.setMode(modeHang)
	opts := fastOptions("a")
	opts.Retry.Timeout = 5 * time.Second
	opts.MinIdle = 60 * time.Second
	start(t, st, []forwarders.Target{webhookTarget(t, "slow", slow.URL(), 0), webhookTarget(t, "fast", fast.URL(), 0)}, nil, opts)
	var uuids []string
	for i := 0; i < 5; i++ {
		uuids = append(uuids, appendAlerts(t, st, 20, "r", alert.PriorityWarning)...)
	}
	// The slow target holds its first request for 5 s; the fast one must
	// not wait for it.
	eventually(t, 2*time.Second, "fast target has everything", func() bool { n, _ := fast.delivered(); return n == 100 })
	assertExactlyOnce(t, fast, uuids)
}

func TestMetricsCreatedUpFront(t *testing.T) {
	st := openStore(t, t.TempDir())
	reg := prometheus.NewRegistry()
	outputs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "outputs_total"}, []string{"destination", "status"})
	opts := fastOptions("a")
	opts.Outputs = outputs
	p := newHookPeer(t)
	if _, err := forwarders.NewDispatcher(st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0), webhookTarget(t, "loki", p.URL(), 0)}, nil, reg, opts); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "forwarder" {
					seen[mf.GetName()+"/"+l.GetValue()]++
				}
			}
		}
	}
	for _, name := range []string{"sent_total", "failed_total", "retried_total", "dead_lettered_total", "filtered_total"} {
		for _, fw := range []string{"webhook", "loki"} {
			if seen["saker_forwarder_alerts_"+name+"/"+fw] != 1 {
				t.Errorf("series saker_forwarder_alerts_%s{forwarder=%q} missing", name, fw)
			}
		}
	}
	for _, name := range []string{"saker_forwarder_queue_depth", "saker_forwarder_lag_seconds", "saker_forwarder_up", "saker_forwarder_request_duration_seconds", "saker_forwarder_delivery_latency_seconds"} {
		if seen[name+"/webhook"] != 1 {
			t.Errorf("series %s{forwarder=webhook} missing", name)
		}
	}
	outReg := prometheus.NewRegistry()
	outReg.MustRegister(outputs)
	outMfs, _ := outReg.Gather()
	if n := len(outMfs[0].GetMetric()); n != 6 {
		t.Errorf("outputs series = %d, want 2 targets × ok/error/dead", n)
	}
	// A second dispatcher on the same registry is a clear error, not a panic.
	if _, err := forwarders.NewDispatcher(st, []forwarders.Target{webhookTarget(t, "webhook", p.URL(), 0)}, nil, reg, opts); err == nil {
		t.Error("duplicate registration accepted")
	}
}

func TestNewDispatcherRejectsBadTargets(t *testing.T) {
	st := openStore(t, t.TempDir())
	p := newHookPeer(t)
	tg := webhookTarget(t, "webhook", p.URL(), 0)
	for _, targets := range [][]forwarders.Target{{tg, tg}, {{Name: "x"}}} {
		if _, err := forwarders.NewDispatcher(st, targets, nil, nil, forwarders.Options{}); err == nil {
			t.Errorf("NewDispatcher(%v) accepted", targets)
		}
	}
}
