package embedded

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/storetest"
)

// BenchmarkAppendWhileReading measures single appends from 16 senders
// (SAKER_FSYNC=interval, so the disk does not hide the lock) while two
// readers page through the newest 100 events and tail the store, as a
// dashboard and a forwarder do: the appends' p99 shows how long readers
// hold them up.
func BenchmarkAppendWhileReading(b *testing.B) {
	ctx := context.Background()
	s := openB(b, Options{Dir: b.TempDir(), Fsync: FsyncInterval})
	batch := make([]alert.Alert, 100)
	for n := 0; n < 5000; n += len(batch) {
		for i := range batch {
			batch[i] = storetest.BenchAlert(n + i)
		}
		if _, err := s.Append(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var reads atomic.Int64
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if r == 0 {
					_, err = s.Query(ctx, store.Query{Limit: 100})
				} else {
					_, err = s.Tail(ctx, "0", 100, 0)
				}
				if err != nil {
					b.Error(err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	a := storetest.BenchAlert(1)
	var seq atomic.Int64
	lat := storetest.AppendLatencies(b, s, func() []alert.Alert {
		x := a
		x.UUID = fmt.Sprint("u", seq.Add(1))
		return []alert.Alert{x}
	})
	close(stop)
	readers.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(reads.Load())/b.Elapsed().Seconds(), "reads/s")
}
