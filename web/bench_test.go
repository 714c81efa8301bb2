package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWebsocketFanout measures the live feed: 50 browsers connected
// while alerts are POSTed to the hub's real batch route at 2,000/s. Each op
// is one alert. Reported: delivery latency (alert time → frame decoded by
// a browser) p50/p99/max over all 50 browsers, the process CPU per second
// of wall time (ingestion, store, fan-out and the 50 in-process clients),
// and the extra CPU the 50 browsers cost compared with a run with none.
func BenchmarkWebsocketFanout(b *testing.B) {
	const clients, rate = 50, 2000
	if b.N < 100 {
		b.N = 100 // the setup dominates tiny runs; the harness extrapolates from this
	}
	base := fanoutRun(b, 0, rate, b.N)
	res := fanoutRun(b, clients, rate, b.N)
	b.ReportMetric(float64(res.p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(res.p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(res.max.Microseconds())/1000, "max-ms")
	b.ReportMetric(res.cpuPerSec, "cpu-s/s")
	b.ReportMetric(res.cpuPerSec-base.cpuPerSec, "fanout-cpu-s/s")
	b.ReportMetric(float64(res.delivered)/float64(clients*b.N), "delivered-frac")
	b.Logf("N=%d at %d/s for %v: %d clients, p50 %v p99 %v max %v, CPU %.2f s/s (no clients %.2f s/s), %d/%d deliveries",
		b.N, rate, res.wall.Round(time.Millisecond), clients, res.p50, res.p99, res.max, res.cpuPerSec, base.cpuPerSec, res.delivered, clients*b.N)
}

type fanoutResult struct {
	p50, p99, max, wall time.Duration
	cpuPerSec           float64
	delivered           int
}

func fanoutRun(b *testing.B, clients, rate, n int) fanoutResult {
	b.StopTimer()
	be := startBackendTB(b)
	s, err := New(Options{Store: be.store, Logger: quietLogger(), Auth: Auth{Disabled: true}})
	if err != nil {
		b.Fatal(err)
	}
	ui := httptest.NewServer(s)
	defer ui.Close()
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	var conns []*websocket.Conn
	for range clients {
		c := openLive(b, ctx, ui.URL, "")
		if m, err := readMsg(ctx, c); err != nil || m.Type != "ready" {
			b.Fatalf("ready: %v", err)
		}
		conns = append(conns, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for len(mine) < n {
				_, data, err := c.Read(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				var m struct {
					Events []struct {
						Time time.Time `json:"time"`
					} `json:"events"`
				}
				if json.Unmarshal(data, &m) != nil {
					return
				}
				for _, e := range m.Events {
					mine = append(mine, now.Sub(e.Time))
				}
			}
		}()
	}

	// Paced ingestion through the hub's real batch route (what Saker's
	// sensor uses): every 10 ms a batch of rate/100 alerts, each stamped
	// with the time it was sent.
	work := make(chan int, 64)
	var pw sync.WaitGroup
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	per := rate / 100
	for range 8 {
		pw.Add(1)
		go func() {
			defer pw.Done()
			for first := range work {
				var sb strings.Builder
				sb.WriteByte('[')
				now := time.Now().UTC().Format(time.RFC3339Nano)
				for i := first; i < min(first+per, n); i++ {
					if i > first {
						sb.WriteByte(',')
					}
					fmt.Fprintf(&sb, `{"output":"bench alert %d","priority":"Warning","rule":"Bench rule %d","time":%q,"source":"syscall","hostname":"bench","tags":["bench"],"output_fields":{"proc.name":"bash","evt.num":%d}}`, i, i%20, now, i)
				}
				sb.WriteByte(']')
				res, err := hc.Post(be.batchURL, "application/json", strings.NewReader(sb.String()))
				if err != nil {
					b.Error(err)
					return
				}
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Errorf("POST batch: %d", res.StatusCode)
				}
			}
		}()
	}
	cpu0, t0 := cpuTime(), time.Now()
	b.StartTimer()
	for k, first := 0, 0; first < n; k, first = k+1, first+per {
		if d := time.Until(t0.Add(time.Duration(k) * 10 * time.Millisecond)); d > 0 {
			time.Sleep(d)
		}
		work <- first
	}
	close(work)
	pw.Wait()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		for _, c := range conns {
			c.CloseNow()
		}
		<-done
	}
	b.StopTimer()
	wall := time.Since(t0)
	cpu := cpuTime() - cpu0
	for _, c := range conns {
		c.CloseNow()
	}
	r := fanoutResult{wall: wall, cpuPerSec: cpu.Seconds() / wall.Seconds(), delivered: len(lat)}
	if len(lat) > 0 {
		slices.Sort(lat)
		r.p50, r.p99, r.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	return r
}
