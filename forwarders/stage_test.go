package forwarders_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub/alert"
)

// gate is a target that holds every Forward call until released, and
// records the batches it was given and the most calls ever in flight.
type gate struct {
	started chan int // batch size, when a call starts
	release chan struct{}

	mu          sync.Mutex
	inFlight    int
	maxInFlight int
	batches     [][]string
	sizes       []int // encoded bytes per batch
}

func newGate() *gate {
	return &gate{started: make(chan int, 1000), release: make(chan struct{})}
}

func (g *gate) Forward(ctx context.Context, alerts []alert.Alert) (bool, error) {
	g.mu.Lock()
	g.inFlight++
	g.maxInFlight = max(g.maxInFlight, g.inFlight)
	var uuids []string
	size := 0
	for _, a := range alerts {
		uuids = append(uuids, a.UUID)
		b, _ := json.Marshal(a)
		size += len(b)
	}
	g.batches = append(g.batches, uuids)
	g.sizes = append(g.sizes, size)
	g.mu.Unlock()
	g.started <- len(alerts)
	defer func() { g.mu.Lock(); g.inFlight--; g.mu.Unlock() }()
	select {
	case <-g.release:
		return false, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

func (g *gate) open() { close(g.release) }

// <OUT>_MAXCONCURRENTREQUESTS: that many batches in flight at once, never
// more; 0 (unset) means one at a time, as falcosidekick's default.
func TestMaxConcurrentRequests(t *testing.T) {
	for _, n := range []int{0, 3} {
		want := max(n, 1)
		st := openStore(t, t.TempDir())
		g := newGate()
		opts := fastOptions("a")
		opts.Retry.Timeout = 30 * time.Second
		d, _ := start(t, st, []forwarders.Target{{Name: "gate", Forwarder: g, MaxBatch: 1, MaxConcurrent: n}}, nil, opts)
		appendAlerts(t, st, 10, "r", alert.PriorityWarning)
		for range want {
			<-g.started
		}
		select {
		case <-g.started:
			t.Fatalf("MaxConcurrent %d: a call beyond %d started", n, want)
		case <-time.After(200 * time.Millisecond):
		}
		g.open()
		eventually(t, 5*time.Second, "all sent", func() bool { return d.Status(context.Background())[0].Sent == 10 })
		g.mu.Lock()
		if g.maxInFlight != want {
			t.Errorf("MaxConcurrent %d: %d calls in flight at most, want %d", n, g.maxInFlight, want)
		}
		g.mu.Unlock()
	}
}

// ELASTICSEARCH_BATCHING_*: a batch waits up to FlushInterval to fill, and
// no Forward call carries more than MaxBatchBytes of alerts.
func TestBatchingFlushIntervalAndBytes(t *testing.T) {
	st := openStore(t, t.TempDir())
	g := newGate()
	g.open()
	opts := fastOptions("a")
	opts.MinIdle = 20 * time.Second
	// One alert of appendAlerts encodes to ~150 bytes: two fit in 500.
	const maxBytes = 500
	d, _ := start(t, st, []forwarders.Target{{Name: "gate", Forwarder: g, MaxBatch: 100, MaxBatchBytes: maxBytes, FlushInterval: 3 * time.Second}}, nil, opts)
	var want []string
	for range 4 {
		want = append(want, appendAlerts(t, st, 1, "r", alert.PriorityWarning)...)
		time.Sleep(100 * time.Millisecond) // alerts arrive apart, well within the flush interval
	}
	eventually(t, 10*time.Second, "all sent", func() bool { return d.Status(context.Background())[0].Sent == 4 })
	g.mu.Lock()
	defer g.mu.Unlock()
	var got []string
	for i, b := range g.batches {
		if g.sizes[i] > maxBytes || len(b) < 2 {
			t.Errorf("batch %v of %d bytes; want 2 or more alerts (held to fill) in at most %d bytes", b, g.sizes[i], maxBytes)
		}
		got = append(got, b...)
	}
	if len(got) != 4 {
		t.Fatalf("batches %v; want the 4 alerts once", g.batches)
	}
}

// signalHandler is a slog handler that reports each message on a channel.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// handedBack runs a dispatcher with opts (consumer "a") over a webhook
// target answering 500, stores 5 alerts and returns once their batch was
// handed back while the target backs off.
func handedBack(t *testing.T, opts forwarders.Options) (*hookPeer, []string) {
	t.Helper()
	st := openStore(t, t.TempDir())
	p := newHookPeer(t)
	p.setMode(mode500)
	target := webhookTarget(t, "webhook", p.URL(), alert.PriorityUnset)
	if _, err := st.Deliveries(context.Background(), forwarders.Group(target.Name)); err != nil {
		t.Fatal(err)
	}
	logs := signalHandler{msgs: make(chan string, 1000)}
	opts.Consumer = "a"
	d, err := forwarders.NewDispatcher(st, []forwarders.Target{target}, slog.New(logs), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	want := appendAlerts(t, st, 5, "r", alert.PriorityWarning)
	for msg := range logs.msgs {
		if strings.Contains(msg, "left pending for redelivery") {
			break
		}
	}
	return p, want
}

// A batch handed back while its target backs off is retried as soon as the
// backoff ends, not when the store would hand it out again (MinIdle after
// its claim): after an outage the backlog drains within the backoff
// (issue 17 #9).
func TestHandedBackBatchRetriedPromptlyAfterRecovery(t *testing.T) {
	p, want := handedBack(t, forwarders.Options{
		Retry: forwarders.RetryPolicy{MaxAttempts: 1000, InitialBackoff: 500 * time.Millisecond, MaxBackoff: time.Second, Timeout: 300 * time.Millisecond},
		// Held at most 6 s, then handed back; the store would hand it out
		// again 12 s after its claim.
		MinIdle: 12 * time.Second, Block: 50 * time.Millisecond, LagInterval: 50 * time.Millisecond,
	})
	recoverWithin(t, p, want, 3*time.Second, "within the backoff (≤ 1 s), not the 12 s reclaim")
}

// While a target is paused by a long backoff, it is probed with one alert
// alone every ProbeInterval; the probe that succeeds ends the pause, so the
// backlog drains at once instead of at the end of the backoff (up to
// MaxBackoff, 30 s by default: 8–28 s drains after an outage before).
func TestProbeEndsBackoffWhenTargetRecovers(t *testing.T) {
	const probe = 200 * time.Millisecond
	p, want := handedBack(t, forwarders.Options{
		// The first failure pauses the target 4–8 s.
		Retry:   forwarders.RetryPolicy{MaxAttempts: 1000, InitialBackoff: 8 * time.Second, MaxBackoff: 8 * time.Second, Timeout: 300 * time.Millisecond, ProbeInterval: probe},
		MinIdle: 2 * time.Minute, Block: 50 * time.Millisecond, LagInterval: 50 * time.Millisecond,
	})
	requests := func() int { p.mu.Lock(); defer p.mu.Unlock(); return p.requests }
	before := time.Now()
	n0 := requests()
	time.Sleep(time.Second) // the target stays down: count what it sees
	probes, window := requests()-n0, time.Since(before)
	if most := int(window/probe) + 1; probes < 2 || probes > most {
		t.Errorf("%d requests in %v while paused; want one probe per %v (2 to %d)", probes, window, probe, most)
	}
	recoverWithin(t, p, want, 2*time.Second, "within a few probe intervals, not the 4–8 s backoff")
}

// A probe needs no parked batch: when the parked ones have aged out (a
// long outage), it takes one alert from the store.
func TestProbeClaimsWhenNothingIsParked(t *testing.T) {
	const probe = 200 * time.Millisecond
	p, want := handedBack(t, forwarders.Options{
		Retry: forwarders.RetryPolicy{MaxAttempts: 1000, InitialBackoff: 16 * time.Second, MaxBackoff: 16 * time.Second, Timeout: 200 * time.Millisecond, ProbeInterval: probe},
		// A parked batch ages out 1.6 s after its claim; the store hands
		// it out again 2 s after it; the first failure pauses 8–16 s.
		MinIdle: 2 * time.Second, Block: 50 * time.Millisecond, LagInterval: 50 * time.Millisecond,
	})
	time.Sleep(3 * time.Second) // past the parked batch's age: only the store has it
	recoverWithin(t, p, want, 3*time.Second, "within a few probe intervals, not the 8–16 s backoff")
}

// recoverWithin brings the target back and checks the 5 alerts handedBack
// stored are all delivered, once each, within limit (why: what the limit
// stands for, for the failure message).
func recoverWithin(t *testing.T, p *hookPeer, want []string, limit time.Duration, why string) {
	t.Helper()
	p.setMode(modeOK)
	recovered := time.Now()
	eventually(t, 20*time.Second, "all delivered", func() bool { n, _ := p.delivered(); return n == 5 })
	if took := time.Since(recovered); took > limit {
		t.Fatalf("backlog delivered %v after the target recovered; want %s", took, why)
	}
	assertExactlyOnce(t, p, want)
}
