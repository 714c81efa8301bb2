package hub

import (
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// benchStores lists the stores the ingest benchmarks run against; Redis is
// added by benchRedisEnv when redis-server is available.
func benchStores(b *testing.B) map[string]map[string]string {
	m := map[string]map[string]string{
		"embedded": {"SAKER_DATA_DIR": b.TempDir()},
	}
	if env := benchRedisEnv(b); env != nil {
		m["redis"] = env
	}
	return m
}

// BenchmarkIngest measures end-to-end ingestion on loopback: HTTP, decoding,
// enrichment and a durable Store.Append, with 16 concurrent keep-alive
// clients. It reports alerts/s and per-request p50/p99 latency.
func BenchmarkIngest(b *testing.B) {
	for _, name := range []string{"embedded", "redis"} {
		for _, mode := range []struct {
			name       string
			batch, par int
		}{{"single-1client", 1, 0}, {"single", 1, 8}, {"batch100", 100, 8}} {
			b.Run(name+"/"+mode.name, func(b *testing.B) {
				env, ok := benchStores(b)[name]
				if !ok {
					b.Skip("redis-server not available")
				}
				h := startHub(b, testConfig(b, env))
				benchPost(b, "http://"+h.Addr(), mode.batch, mode.par)
			})
		}
	}
}

// benchPost posts with par × GOMAXPROCS concurrent clients, or one client
// when par is 0 (latency without queueing).
func benchPost(b *testing.B, base string, batch, par int) {
	path := "/"
	var body string
	if batch == 1 {
		body = alertBody(uuid.NewString())
	} else {
		path = "/api/v1/events"
		var sb strings.Builder
		for i := 0; i < batch; i++ {
			// no uuid: the hub assigns one per alert
			sb.WriteString(strings.Replace(alertBody(""), `"uuid":"",`, "", 1) + "\n")
		}
		body = sb.String()
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()

	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	post := func(next func() bool) {
		var mine []time.Duration
		for next() {
			t0 := time.Now()
			resp, err := client.Post(base+path, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	}
	if par == 0 {
		i := 0
		post(func() bool { i++; return i <= b.N })
	} else {
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) { post(pb.Next) })
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(lat)*batch)/elapsed.Seconds(), "alerts/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
