package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store/storetest"
)

// BenchmarkAppendWhileCompacting appends from 16 senders to a store whose
// disk limit (128 MiB) makes retention and compaction run again and again
// (64 MiB of retained alerts copied each time), and reports the appends'
// p99 and longest latency: what a compaction costs the senders.
func BenchmarkAppendWhileCompacting(b *testing.B) {
	s := openB(b, Options{Dir: b.TempDir(), MaxBytes: 128 << 20})
	a := sample("x")
	a.Output = strings.Repeat("o", 1000)
	enc, err := json.Marshal(&a)
	if err != nil {
		b.Fatal(err)
	}
	a.Encoded = enc
	var n atomic.Int64
	lat := storetest.AppendLatencies(b, s, func() []alert.Alert {
		x := a
		x.UUID = fmt.Sprint("u", n.Add(1))
		return []alert.Alert{x}
	})
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchmarkCompaction measures one compaction of a log at its disk limit
// (64 MiB of retained alerts, as many dead before them): the CPU it takes
// per MiB copied, which a hub at its limit pays for every byte appended
// (README, the embedded store).
func BenchmarkCompaction(b *testing.B) {
	as := hubAlerts(b, 100, false)
	ctx := context.Background()
	var copied int64
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openB(b, Options{Dir: b.TempDir(), MaxBytes: 128 << 20, compactMinBytes: -1})
		s.compactRetry.Store(math.MaxInt64) // no janitor compaction: this one is measured
		for s.Health(ctx).Events == 0 || func() bool { s.mu.RLock(); defer s.mu.RUnlock(); return s.fileSize < 120<<20 }() {
			if _, err := s.Append(ctx, as); err != nil {
				b.Fatal(err)
			}
		}
		s.mu.RLock()
		live := s.liveBytes
		s.mu.RUnlock()
		c0 := processCPU()
		b.StartTimer()
		if err := s.compact(false); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cpu += processCPU() - c0
		copied += live
		s.Close()
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/(float64(copied)/(1<<20)), "cpu-ms/MiB")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
