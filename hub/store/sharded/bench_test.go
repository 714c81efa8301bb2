package sharded_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	redisstore "github.com/saker-sec/saker/hub/store/redis"
	"github.com/saker-sec/saker/hub/store/redistest"
	"github.com/saker-sec/saker/hub/store/sharded"
	"github.com/saker-sec/saker/hub/store/storetest"
)

// BenchmarkCluster compares, on one three-master Redis Cluster and in one
// run, the single-shard layout (every key on the master owning {saker})
// with three shards (one per master), case by case so the two are
// measured side by side on a shared machine:
//
//	go test -run '^$' -bench Cluster -count 3 ./hub/store/sharded
//
// Alerts carry a uuid, as Falco's do, so deduplication is part of the cost.
//
// All masters share this machine's cores, so alerts/s cannot show what
// spreading buys on a cluster of separate machines; the append cases also
// report the Redis CPU time per alert of the busiest master (what bounds a
// cluster's throughput: each master runs on one core) and of all masters
// together (what sharding costs in total).
func BenchmarkCluster(b *testing.B) {
	c := redistest.StartCluster(b, 3)
	ctx := context.Background()
	open := func(b *testing.B, n int) store.Store {
		o := redisstore.Options{Addresses: c.Addrs(), KeyPrefix: fmt.Sprintf("b%d:", prefixSeq.Add(1))}
		var s store.Store
		var err error
		if n == 1 {
			s, err = redisstore.New(ctx, o)
		} else {
			s, err = sharded.OpenRedis(ctx, o, n)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
	var seq atomic.Int64
	next := func() alert.Alert {
		i := int(seq.Add(1))
		a := storetest.BenchAlert(i)
		a.UUID = uuid.NewString()
		return a
	}
	appendOrFail := func(b *testing.B, s store.Store, as []alert.Alert) {
		if _, err := s.Append(ctx, as); err != nil {
			b.Error(err)
		}
	}
	var cpu0 []float64
	report := func(b *testing.B, alerts int) {
		b.ReportMetric(float64(alerts)/b.Elapsed().Seconds(), "alerts/s")
		if cpu0 == nil {
			return
		}
		var busiest, all float64
		for i, v := range masterCPU(b, c) {
			d := v - cpu0[i]
			busiest, all = max(busiest, d), all+d
		}
		b.ReportMetric(busiest*1e6/float64(alerts), "busiest-master-cpu-µs/alert")
		b.ReportMetric(all*1e6/float64(alerts), "all-masters-cpu-µs/alert")
	}
	cases := []struct {
		name string
		run  func(b *testing.B, s store.Store)
	}{
		{"AppendSingleParallel16", func(b *testing.B, s store.Store) {
			b.SetParallelism(8) // 16 concurrent senders on 2 CPUs
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					appendOrFail(b, s, []alert.Alert{next()})
				}
			})
			report(b, b.N)
		}},
		{"AppendBatch100x8", func(b *testing.B, s store.Store) {
			b.SetParallelism(4) // 8 concurrent batch senders
			b.RunParallel(func(pb *testing.PB) {
				batch := make([]alert.Alert, 100)
				for pb.Next() {
					for i := range batch {
						batch[i] = next()
					}
					appendOrFail(b, s, batch)
				}
			})
			report(b, b.N*100)
		}},
		{"QueryNewest100", func(b *testing.B, s store.Store) {
			b.StopTimer()
			batch := make([]alert.Alert, 500)
			for range 20 {
				for i := range batch {
					batch[i] = next()
				}
				appendOrFail(b, s, batch)
			}
			b.StartTimer()
			for range b.N {
				if p, err := s.Query(ctx, store.Query{Limit: 100}); err != nil || len(p.Events) != 100 {
					b.Fatal(len(p.Events), err)
				}
			}
		}},
	}
	for _, tc := range cases {
		for _, n := range []int{1, 3} {
			b.Run(fmt.Sprintf("%s/shards=%d", tc.name, n), func(b *testing.B) {
				s := open(b, n)
				cpu0 = masterCPU(b, c)
				b.ResetTimer()
				tc.run(b, s)
			})
		}
	}
}

// masterCPU reads each master's CPU seconds (user + system) from INFO.
func masterCPU(b *testing.B, c *redistest.Cluster) []float64 {
	out := make([]float64, len(c.Masters))
	for i, m := range c.Masters {
		for _, k := range []string{"used_cpu_user", "used_cpu_sys"} {
			v, err := strconv.ParseFloat(redistest.Info(b, m.Addr, "cpu", k), 64)
			if err != nil {
				b.Fatalf("INFO cpu %s on %s: %v", k, m.Addr, err)
			}
			out[i] += v
		}
	}
	return out
}
