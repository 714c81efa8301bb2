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

// hubAlerts decodes, enriches and encodes the bench payload n times as the
// hub's ingest does (so Append writes the encoded bytes as they are). The
// payload has no uuid, as Falco sends none: the hub makes each one up.
// With senderUUIDs each alert instead carries its own uuid from the sender
// (Saker's sensor), which the store remembers to recognise a retry.
func hubAlerts(b *testing.B, n int, senderUUIDs bool) []alert.Alert {
	body, err := os.ReadFile("../../ingest/testdata/falco/terminal_shell.json")
	if err != nil {
		b.Fatal(err)
	}
	e, err := ingest.NewEnricher(ingest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]alert.Alert, n)
	for i := range out {
		a, err := ingest.DecodeOne(body)
		if err != nil {
			b.Fatal(err)
		}
		a.UUID = ""
		e.Enrich(&a)
		if senderUUIDs {
			a.UUIDGenerated = false
		}
		ingest.Encode(&a)
		out[i] = a
	}
	return out
}

// BenchmarkAppendHub is the store's share of a hub request: Append of
// alerts ingest decoded and encoded already (make bench-hub's payload),
// SAKER_FSYNC=interval (the default); uuids made up by the hub (Falco's
// case) or given by the sender (/sender).
func BenchmarkAppendHub(b *testing.B) {
	ctx := context.Background()
	for _, sender := range []bool{false, true} {
		suffix := ""
		if sender {
			suffix = "/sender"
		}
		// A fresh uuid per append, as every alert has its own.
		uuid := func(a *alert.Alert, i int64) {
			a.UUID = fmt.Sprintf("0b7b6c1e-5d0a-4a47-9a3e-%012d", i)
		}
		b.Run("Single"+suffix, func(b *testing.B) {
			s := openB(b, Options{Dir: b.TempDir()})
			as := hubAlerts(b, 1000, sender)
			b.ReportAllocs()
			cpu := storetest.StartCPU(b)
			for i := 0; i < b.N; i++ {
				a := as[i%len(as)]
				uuid(&a, int64(i))
				if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b, b.N)
		})
		b.Run("Parallel16"+suffix, func(b *testing.B) {
			s := openB(b, Options{Dir: b.TempDir()})
			as := hubAlerts(b, 1000, sender)
			b.SetParallelism(8)
			b.ReportAllocs()
			var n atomic.Int64
			cpu := storetest.StartCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					a := as[i%int64(len(as))]
					uuid(&a, i)
					if _, err := s.Append(ctx, []alert.Alert{a}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			cpu.Report(b, b.N)
			// Group commit: one write(2) carries every alert that
			// arrived while the previous one was in flight.
			b.ReportMetric(float64(s.writes.Load())/float64(b.N), "writes/alert")
		})
		b.Run("Batch100"+suffix, func(b *testing.B) {
			s := openB(b, Options{Dir: b.TempDir()})
			batch := hubAlerts(b, 100, sender)
			b.ReportAllocs()
			cpu := storetest.StartCPU(b)
			for i := 0; i < b.N; i++ {
				for j := range batch {
					uuid(&batch[j], int64(i*100+j))
				}
				if _, err := s.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b, b.N*100)
		})
	}
}
