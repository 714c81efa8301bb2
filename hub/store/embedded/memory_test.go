package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store/storetest"
)

// BenchmarkMemoryPerAlert stores 50,000 alerts (the benchmarks' ~1 KiB
// Falco alert, each with its own uuid) and reports the Go heap they take
// per alert once collected (indexes, counters and the uuid memory
// included), the log's bytes per alert, and the heap after a reopen.
func BenchmarkMemoryPerAlert(b *testing.B) {
	const n = 50000
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		before := heapInUse()
		o := Options{Dir: dir, Fsync: FsyncInterval}
		s, err := Open(o)
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]alert.Alert, 100)
		for j := 0; j < n; j += len(batch) {
			for k := range batch {
				batch[k] = storetest.BenchAlert(j + k)
				batch[k].UUID = fmt.Sprintf("0b7b6c1e-5d0a-4a47-9a3e-%012d", j+k) // canonical, as a sensor sends
			}
			if _, err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		batch = nil
		used := heapInUse() - before
		st, err := os.Stat(filepath.Join(dir, logName))
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		s = nil
		s, err = Open(o)
		if err != nil {
			b.Fatal(err)
		}
		reopened := heapInUse() - before
		b.ReportMetric(float64(used)/n, "heap-B/alert")
		b.ReportMetric(float64(reopened)/n, "heap-after-reopen-B/alert")
		b.ReportMetric(float64(st.Size())/n, "log-B/alert")
		runtime.KeepAlive(s)
		s.Close()
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
