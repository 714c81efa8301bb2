package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/saker-sec/saker/hub/store/redistest"
)

// BenchmarkAppendScript appends the Falco payload of testdata in batches
// of 100 (what group commit makes of concurrent appends) and reports, per
// alert, the CPU time redis-server used (INFO cpu: its whole cost of the
// append, immune to the waits a loaded machine adds to wall clock) and the
// time it spent in the append script (INFO commandstats, wall clock),
// alongside alerts/s.
func BenchmarkAppendScript(b *testing.B) {
	const batch = 100
	alerts, _ := memoryAlerts(b, batch*50)
	srv := redistest.Start(b)
	s, err := New(context.Background(), Options{Addresses: []string{srv.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.c.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	cpu0 := serverCPU(b, s)
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		j := (i * batch) % len(alerts)
		if _, err := s.Append(ctx, alerts[j:j+batch]); err != nil {
			b.Fatal(err)
		}
		n += batch
	}
	b.StopTimer()
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric((serverCPU(b, s)-cpu0)*1e6/float64(n), "redis-cpu-µs/alert")
	b.ReportMetric(scriptUsec(b, s)/float64(n), "script-µs/alert")
}

// serverCPU returns the CPU seconds redis-server used (user + system).
func serverCPU(b *testing.B, s *Store) float64 {
	info, err := s.c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_user" || name == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

// scriptUsec sums the microseconds Redis spent in EVAL and EVALSHA.
func scriptUsec(b *testing.B, s *Store) float64 {
	info, err := s.c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		for _, kv := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(kv, "usec="); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return total
}
