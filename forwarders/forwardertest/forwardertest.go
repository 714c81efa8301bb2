// Package forwardertest is the benchmark harness shared by every output:
// a loopback HTTP sink that counts what it accepted and can go down and
// come back on the same port, and two measurements through the real
// dispatcher over an embedded store (durable appends, consumer groups,
// acknowledgements, as the hub runs them):
//
//   - Throughput: b.N stored alerts drained to the target, in alerts/s.
//   - OutageDrain: alerts stored at a steady rate while the target is down
//     for a while; how long after it comes back every alert is delivered.
//
// An output's bench_test.go builds its Target against a Sink (or its own
// peer implementing Peer) and calls these; see forwarders/bench_test.go.
package forwardertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/embedded"
	"github.com/saker-sec/saker/hub/testutil"
)

// Peer is a target whose deliveries can be counted and which can be taken
// down and brought back.
type Peer interface {
	// Delivered is how many alerts the peer accepted so far.
	Delivered() int
	Down()
	Up()
}

// CountFunc decodes one request the sink received and returns how many
// alerts it carried; an error answers 400 and counts nothing.
type CountFunc func(r *http.Request, body []byte) (int, error)

// Sink is a loopback HTTP peer: it answers 200 (or Status) to each request
// CountFunc accepts and counts its alerts. Down closes the listener and
// every connection; Up listens again on the same port.
type Sink struct {
	*testutil.Server // Down and Up
	count            CountFunc
	// Status is the success answer; 0 means 200.
	Status int
	// Body is written on success (e.g. Slack's "ok", an ES _bulk answer
	// built by Reply).
	Reply func(r *http.Request, body []byte) []byte

	mu        sync.Mutex
	delivered int
}

// NewSink starts a sink on 127.0.0.1, port 0; it stops with the test.
func NewSink(tb testing.TB, count CountFunc) *Sink {
	s := &Sink{count: count}
	s.Server = testutil.NewServer(tb, s)
	return s
}

// URL is the sink's base URL (no trailing slash).
func (s *Sink) URL() string { return "http://" + s.Addr() }

func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n, err := s.count(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.delivered += n
	s.mu.Unlock()
	var reply []byte
	if s.Reply != nil {
		reply = s.Reply(r, body)
		w.Header().Set("Content-Type", "application/json")
	}
	if s.Status != 0 {
		w.WriteHeader(s.Status)
	}
	_, _ = w.Write(reply)
}

// Delivered implements Peer.
func (s *Sink) Delivered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

// OpenStore opens an embedded store in a temporary directory, closed after
// the test.
func OpenStore(tb testing.TB) store.Store {
	st, err := embedded.Open(embedded.Options{Dir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

var seq struct {
	sync.Mutex
	n int
}

// Alerts returns n realistic alerts (a Falco shell-in-container alert with
// a dozen output fields), each with its own uuid.
func Alerts(n int) []alert.Alert {
	out := make([]alert.Alert, n)
	seq.Lock()
	defer seq.Unlock()
	for i := range out {
		seq.n++
		out[i] = alert.Alert{
			UUID: fmt.Sprintf("bench-%09d", seq.n), Priority: alert.PriorityWarning, Rule: "Terminal shell in container",
			Output: "A shell was spawned in a container with an attached terminal (evt_type=execve user=root process=bash parent=runc command=bash -il terminal=34816 container_id=3ad5f6f1a2b4 container_name=web)",
			Time:   time.Now().UTC(), Source: "syscalls", Hostname: "node-1", Tags: []string{"container", "shell", "mitre_execution", "T1059"},
			OutputFields: map[string]any{
				"evt.time": time.Now().UnixNano(), "evt.type": "execve", "user.name": "root", "user.uid": 0,
				"proc.name": "bash", "proc.pname": "runc", "proc.cmdline": "bash -il", "proc.tty": 34816,
				"container.id": "3ad5f6f1a2b4", "container.name": "web", "container.image.repository": "nginx", "k8s.ns.name": "default",
			},
		}
	}
	return out
}

func appendAlerts(tb testing.TB, st store.Store, n int) {
	if _, err := st.Append(context.Background(), Alerts(n)); err != nil {
		tb.Fatal(err)
	}
}

// run starts a dispatcher over st for target and returns its stop.
func run(tb testing.TB, st store.Store, target forwarders.Target, opts forwarders.Options) func() {
	if _, err := st.Deliveries(context.Background(), forwarders.Group(target.Name)); err != nil {
		tb.Fatal(err)
	}
	d, err := forwarders.NewDispatcher(st, []forwarders.Target{target}, nil, nil, opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// waitFor polls until peer has delivered want alerts; it fails after limit.
func waitFor(b *testing.B, p Peer, want int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for p.Delivered() < want {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d alerts after %v", p.Delivered(), want, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Throughput stores b.N alerts, then measures how fast the dispatcher
// drains them to target (claim, send, acknowledge), reported as alerts/s.
func Throughput(b *testing.B, target forwarders.Target, peer Peer) {
	st := OpenStore(b)
	if _, err := st.Deliveries(context.Background(), forwarders.Group(target.Name)); err != nil {
		b.Fatal(err)
	}
	for left := b.N; left > 0; left -= 500 {
		appendAlerts(b, st, min(left, 500))
	}
	before := peer.Delivered()
	b.ResetTimer()
	began := time.Now()
	stop := run(b, st, target, forwarders.Options{Consumer: "bench", Block: 50 * time.Millisecond})
	waitFor(b, peer, before+b.N, 10*time.Minute)
	elapsed := time.Since(began)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "alerts/s")
}

// OutageDuration is the outage OutageDrain simulates: 60 s, or
// SAKER_BENCH_OUTAGE (a Go duration) for a quicker run.
func OutageDuration(b *testing.B) time.Duration {
	if s := os.Getenv("SAKER_BENCH_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatalf("SAKER_BENCH_OUTAGE: %v", err)
		}
		return d
	}
	return 60 * time.Second
}

// OutageDrain stores rate alerts/s (in 20 appends a second) for 1 s with
// the target up, then for outage with it down, and goes on at that rate
// after it is back, with the default retry policy. It reports how long
// after the target came back the first alert was delivered (resume_s) and
// the backlog (every alert stored before) was delivered (drain_s), and the
// backlog's size (backlog), then waits for every alert
// stored (delivered; it fails when one is missing). One iteration takes outage plus the drain plus a few seconds.
func OutageDrain(b *testing.B, target forwarders.Target, peer Peer, rate int, outage time.Duration) {
	for range b.N {
		st := OpenStore(b)
		base := peer.Delivered()
		stop := run(b, st, target, forwarders.Options{Consumer: "bench"})
		var (
			mu    sync.Mutex
			total int
		)
		stored := func() int { mu.Lock(); defer mu.Unlock(); return total }
		send := func(until func() bool) {
			tick := time.NewTicker(time.Second / 20)
			defer tick.Stop()
			for ; !until(); <-tick.C {
				appendAlerts(b, st, rate/20)
				mu.Lock()
				total += rate / 20
				mu.Unlock()
			}
		}
		after := func(d time.Duration) func() bool {
			end := time.Now().Add(d)
			return func() bool { return !time.Now().Before(end) }
		}
		send(after(time.Second))
		peer.Down()
		send(after(outage))
		atUp := peer.Delivered()
		peer.Up()
		recovered := time.Now()
		backlog := stored()
		drained := make(chan struct{})
		sending := make(chan struct{})
		go func() {
			defer close(sending)
			send(func() bool {
				select {
				case <-drained:
					return true
				default:
					return false
				}
			})
		}()
		waitFor(b, peer, atUp+1, 10*time.Minute)
		resume := time.Since(recovered)
		waitFor(b, peer, base+backlog, 10*time.Minute)
		drain := time.Since(recovered)
		close(drained)
		<-sending
		waitFor(b, peer, base+stored(), time.Minute)
		stop()
		b.ReportMetric(resume.Seconds(), "resume_s")
		b.ReportMetric(drain.Seconds(), "drain_s")
		b.ReportMetric(float64(backlog), "backlog")
		b.ReportMetric(float64(stored()), "delivered")
	}
}
