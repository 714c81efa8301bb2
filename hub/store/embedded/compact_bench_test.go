package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// BenchmarkAppendWhileCompacting appends from 16 senders to a store whose
// disk limit (128 MiB) makes retention and compaction run again and again
// (64 MiB of retained alerts copied each time), and reports the appends'
// p99 and longest latency: what a compaction costs the senders.
func BenchmarkAppendWhileCompacting(b *testing.B) {
	s := openB(b, Options{Dir: b.TempDir(), MaxBytes: 128 << 20})
	ctx := context.Background()
	a := sample("x")
	a.Output = strings.Repeat("o", 1000)
	enc, err := json.Marshal(&a)
	if err != nil {
		b.Fatal(err)
	}
	a.Encoded = enc
	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			x := a
			x.UUID = fmt.Sprint("u", n.Add(1))
			t0 := time.Now()
			if _, err := s.Append(ctx, []alert.Alert{x}); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}
