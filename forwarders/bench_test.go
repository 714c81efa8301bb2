package forwarders_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/loki"
	"github.com/saker-sec/saker/hub/alert"
)

// benchThroughput stores b.N alerts, then measures how fast the dispatcher
// drains them to the target (store claim + send + ack), in alerts/s.
func benchThroughput(b *testing.B, target forwarders.Target, delivered *atomic.Int64) {
	st := openStore(b, b.TempDir())
	if _, err := st.Deliveries(context.Background(), forwarders.Group(target.Name)); err != nil {
		b.Fatal(err)
	}
	for left := b.N; left > 0; left -= 500 {
		appendAlerts(b, st, min(left, 500), "r", alert.PriorityWarning)
	}
	b.ResetTimer()
	began := time.Now()
	_, stop := start(b, st, []forwarders.Target{target}, nil, forwarders.Options{Consumer: "bench", Block: 50 * time.Millisecond})
	for delivered.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "alerts/s")
}

func BenchmarkForwardWebhook(b *testing.B) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		n.Add(1)
	}))
	defer srv.Close()
	benchThroughput(b, webhookTarget(b, "webhook", srv.URL, 0), &n)
}

func BenchmarkForwardLoki(b *testing.B) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p loki.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for _, s := range p.Streams {
			n.Add(int64(len(s.Values)))
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	f, err := loki.New(loki.Config{HostPort: srv.URL, Format: "text"}, outhttp.Options{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchThroughput(b, forwarders.Target{Name: "loki", Forwarder: f, MaxBatch: 500}, &n)
}

// BenchmarkOutageLag sends 200 alerts/s to a webhook that is down for 10 s
// (default retry policy), and reports how long after the target comes back
// every alert is delivered (drain_s) and the worst store-to-target latency.
// One iteration takes ~12 s.
func BenchmarkOutageLag(b *testing.B) {
	for i := 0; i < b.N; i++ {
		st := openStore(b, b.TempDir())
		p := newHookPeer(b)
		_, stop := start(b, st, []forwarders.Target{webhookTarget(b, "webhook", p.URL(), 0)}, nil, forwarders.Options{Consumer: "bench"})
		const rate, outage = 200, 10 * time.Second
		total := 0
		send := func(d time.Duration) {
			tick := time.NewTicker(time.Second / 20)
			defer tick.Stop()
			for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
				appendAlerts(b, st, rate/20, "r", alert.PriorityWarning)
				total += rate / 20
			}
		}
		send(time.Second)
		p.down()
		send(outage)
		p.up()
		recovered := time.Now()
		send(time.Second)
		for {
			if n, _ := p.delivered(); n >= total {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		drain := time.Since(recovered)
		stop()
		b.ReportMetric(drain.Seconds(), "drain_s")
		p.mu.Lock()
		b.ReportMetric(p.maxLat.Seconds(), "max_latency_s")
		p.mu.Unlock()
		b.ReportMetric(float64(total), "alerts")
	}
}
