package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// benchAlert is a realistic Falco alert (~1 KiB of JSON) varied by i over
// 20 rules, 8 priorities, 10 hosts and a few tags.
func benchAlert(i int) alert.Alert {
	return alert.Alert{
		Output: fmt.Sprintf("09:00:00.123456789: Warning Sensitive file opened for reading by non-trusted program "+
			"(file=/etc/shadow gparent=systemd ggparent=<NA> gggparent=<NA> evt_type=openat user=root user_uid=0 "+
			"user_loginuid=-1 process=cat proc_exepath=/usr/bin/cat parent=bash command=cat /etc/shadow terminal=34816 "+
			"container_id=8b1f2b8d0c4e container_name=web-%d)", i%50),
		Priority: alert.Priorities[i%len(alert.Priorities)],
		Rule:     fmt.Sprintf("Bench rule %d", i%20),
		Time:     time.Now().UTC(),
		OutputFields: map[string]any{
			"container.id": "8b1f2b8d0c4e", "container.name": fmt.Sprintf("web-%d", i%50),
			"container.image.repository": "nginx", "evt.time": json.Number("1795510800123456789"),
			"evt.type": "openat", "fd.name": "/etc/shadow", "proc.cmdline": "cat /etc/shadow",
			"proc.pid": json.Number(fmt.Sprint(1000 + i)), "user.name": "root", "user.loginuid": json.Number("-1"),
		},
		Source:   "syscalls",
		Tags:     []string{"filesystem", "mitre_credential_access", fmt.Sprintf("T%d", 1000+i%7)},
		Hostname: fmt.Sprintf("node-%d", i%10),
	}
}

// Bench runs the store benchmarks: Append of one alert (sequential and
// from parallel clients), Append of a batch of 100, filtered and text
// queries over 20 000 stored events, and Stats. open returns an empty store.
func Bench(b *testing.B, open func(b *testing.B) store.Store) {
	ctx := context.Background()
	b.Run("AppendSingle", func(b *testing.B) {
		s := open(b)
		a := []alert.Alert{benchAlert(1)}
		cpu := startCPU(b)
		for i := 0; i < b.N; i++ {
			if _, err := s.Append(ctx, a); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b, b.N)
	})
	b.Run("AppendSingleParallel16", func(b *testing.B) {
		s := open(b)
		a := []alert.Alert{benchAlert(1)}
		cpu := startCPU(b)
		lat := AppendLatencies(b, s, func() []alert.Alert { return a })
		cpu.report(b, b.N)
		if len(lat) > 0 {
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		}
	})
	b.Run("AppendBatch100", func(b *testing.B) {
		s := open(b)
		batch := make([]alert.Alert, 100)
		for i := range batch {
			batch[i] = benchAlert(i)
		}
		cpu := startCPU(b)
		for i := 0; i < b.N; i++ {
			if _, err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b, b.N*100)
	})

	// The filled store belongs to the parent benchmark: sub-benchmarks run
	// several times and close what they open after each run.
	parent := b
	var filled store.Store
	fill := func(b *testing.B) store.Store {
		if filled != nil {
			return filled
		}
		filled = open(parent)
		batch := make([]alert.Alert, 500)
		for n := 0; n < 20000; n += len(batch) {
			for i := range batch {
				batch[i] = benchAlert(n + i)
			}
			if _, err := filled.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		return filled
	}
	queries := []struct {
		name string
		q    store.Query
	}{
		{"QueryLatest100", store.Query{Limit: 100}},
		// 1 rule of 20 and priority >= Error (4 of 8): ~2.5% of events.
		{"QueryFilteredRulePriority", store.Query{Limit: 100, Filter: store.Filter{Rules: []string{"Bench rule 7"}, MinPriority: alert.PriorityError}}},
		// One host of 10 and one tag of 7: ~1.4% of events.
		{"QueryFilteredHostTag", store.Query{Limit: 50, Filter: store.Filter{Hostnames: []string{"node-3"}, Tags: []string{"T1003"}}}},
		// Free text matches 1 container in 50: scans.
		{"QueryText", store.Query{Limit: 50, Filter: store.Filter{Text: "web-17)"}}},
	}
	for _, qc := range queries {
		b.Run(qc.name, func(b *testing.B) {
			s := fill(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p, err := s.Query(ctx, qc.q)
				if err != nil {
					b.Fatal(err)
				}
				if len(p.Events) == 0 {
					b.Fatal("no events matched")
				}
			}
		})
	}
	b.Run("ClaimAck100", func(b *testing.B) {
		s := open(b)
		l, err := s.Deliveries(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		batch := make([]alert.Alert, 100)
		for i := range batch {
			batch[i] = benchAlert(i)
		}
		ids := make([]string, 0, 100)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			if _, err := s.Append(ctx, batch); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			ds, err := l.Claim(ctx, "c", 100, time.Minute, 0)
			if err != nil || len(ds) != 100 {
				b.Fatalf("Claim: %d, %v", len(ds), err)
			}
			ids = ids[:0]
			for _, d := range ds {
				ids = append(ids, d.ID)
			}
			if err := l.Ack(ctx, ids...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "alerts/s")
	})
	b.Run("StatsLastHour", func(b *testing.B) {
		s := fill(b)
		q := store.StatsQuery{Filter: store.Filter{Since: time.Now().Add(-time.Hour)}}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			st, err := s.Stats(ctx, q)
			if err != nil || st.Total == 0 {
				b.Fatal(st.Total, err)
			}
		}
	})
}

// BenchAlert is the benchmarks' alert number i, for benchmarks of other
// packages (it carries no uuid: set one to include deduplication).
func BenchAlert(i int) alert.Alert { return benchAlert(i) }

// cpuClock measures the process's CPU time (user + system) over a
// benchmark: CPU per alert holds up on a shared, loaded machine where
// wall-clock rates do not.
type cpuClock struct{ start time.Duration }

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPU resets the benchmark timer and starts the CPU clock.
func startCPU(b *testing.B) cpuClock {
	b.ResetTimer()
	return cpuClock{start: processCPU(b)}
}

// report adds alerts/s and CPU µs per alert for n alerts.
func (c cpuClock) report(b *testing.B, n int) {
	used := processCPU(b) - c.start
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(float64(used.Microseconds())/float64(n), "cpu-µs/alert")
}

// CPU measures the process's CPU time for a store's own benchmarks, as
// Bench does: StartCPU resets the timer, Report adds alerts/s and
// cpu-µs/alert for n alerts.
type CPU struct{ c cpuClock }

// StartCPU resets b's timer and starts measuring CPU time.
func StartCPU(b *testing.B) CPU { return CPU{startCPU(b)} }

// Report adds alerts/s and cpu-µs/alert for n alerts.
func (c CPU) Report(b *testing.B, n int) { c.c.report(b, n) }

// AppendLatencies runs b.N appends from 8×GOMAXPROCS concurrent senders
// (16 on two cores), each appending what next returns (next is called
// concurrently), and returns every append's latency, sorted.
func AppendLatencies(b *testing.B, s store.Store, next func() []alert.Alert) []time.Duration {
	ctx := context.Background()
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			alerts := next()
			t0 := time.Now()
			if _, err := s.Append(ctx, alerts); err != nil {
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
	return lat
}
