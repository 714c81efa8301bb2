package embedded

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/ingest"
	"github.com/saker-sec/saker/hub/store/storetest"
)

// hubAlerts decodes and encodes the bench payload n times as the hub's
// ingest does (so Append writes the encoded bytes as they are), each with
// its own uuid.
func hubAlerts(b *testing.B, n int) []alert.Alert {
	body, err := os.ReadFile("../../ingest/testdata/falco/terminal_shell.json")
	if err != nil {
		b.Fatal(err)
	}
	out := make([]alert.Alert, n)
	for i := range out {
		a, err := ingest.DecodeOne(body)
		if err != nil {
			b.Fatal(err)
		}
		a.UUID = fmt.Sprintf("bench-%d", i)
		ingest.Encode(&a)
		out[i] = a
	}
	return out
}

// BenchmarkAppendHub is the store's share of a hub request: Append of
// alerts ingest decoded and encoded already (make bench-hub's payload,
// each alert with its own uuid), SAKER_FSYNC=interval (the default).
func BenchmarkAppendHub(b *testing.B) {
	ctx := context.Background()
	b.Run("Single", func(b *testing.B) {
		s := openB(b, Options{Dir: b.TempDir()})
		as := hubAlerts(b, 1000)
		b.ReportAllocs()
		cpu := storetest.StartCPU(b)
		for i := 0; i < b.N; i++ {
			a := as[i%len(as)]
			a.UUID = fmt.Sprint(i)
			if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
				b.Fatal(err)
			}
		}
		cpu.Report(b, b.N)
	})
	b.Run("Parallel16", func(b *testing.B) {
		s := openB(b, Options{Dir: b.TempDir()})
		as := hubAlerts(b, 1000)
		b.SetParallelism(8)
		b.ReportAllocs()
		var n atomic.Int64
		cpu := storetest.StartCPU(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				a := as[i%int64(len(as))]
				a.UUID = fmt.Sprint(i)
				if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		cpu.Report(b, b.N)
	})
	b.Run("Batch100", func(b *testing.B) {
		s := openB(b, Options{Dir: b.TempDir()})
		batch := hubAlerts(b, 100)
		b.ReportAllocs()
		cpu := storetest.StartCPU(b)
		for i := 0; i < b.N; i++ {
			for j := range batch {
				batch[j].UUID = fmt.Sprint(i, "-", j)
			}
			if _, err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		cpu.Report(b, b.N*100)
	})
}
