package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store/redistest"
)

// memoryAlerts returns n copies of the Falco payload in testdata, each
// with its own uuid and pid (as distinct alerts of one rule are), and the
// payload's JSON size.
func memoryAlerts(tb testing.TB, n int) ([]alert.Alert, int) {
	return payloadAlerts(tb, "testdata/falco_alert.json", n)
}

// payloadAlerts is memoryAlerts for the payload in file.
func payloadAlerts(tb testing.TB, file string, n int) ([]alert.Alert, int) {
	tb.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]alert.Alert, n)
	for i := range out {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&out[i]); err != nil {
			tb.Fatal(err)
		}
		out[i].UUID = fmt.Sprintf("%08x-5d0a-4a47-9a3e-2f4f1c9d8e11", i)
		out[i].OutputFields["proc.pid"] = json.Number(strconv.Itoa(1000 + i))
	}
	return out, len(bytes.TrimSpace(raw))
}

func usedMemory(tb testing.TB, c goredis.UniversalClient) int64 {
	tb.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	tb.Fatal("no used_memory")
	return 0
}

// BenchmarkMemoryPerAlert stores 20 000 alerts (a Falco payload in
// testdata, each with its own uuid) in batches of 100 on a fresh Redis and
// reports Redis's used_memory growth per alert, indexes, counters and the
// uuid dedupe window included, and its ratio to the payload's JSON size.
// "official" is an alert of an official Falco rule (whose vocabulary the
// compression dictionary holds), "custom" one of a made-up rule with
// fields and text found in no official rule. With -v it also prints
// MEMORY USAGE summed by key kind.
func BenchmarkMemoryPerAlert(b *testing.B) {
	for _, p := range []struct{ name, file string }{
		{"official", "testdata/falco_alert.json"},
		{"custom", "testdata/custom_alert.json"},
	} {
		b.Run(p.name, func(b *testing.B) { benchMemory(b, p.file) })
	}
}

func benchMemory(b *testing.B, file string) {
	const n = 20000
	alerts, size := payloadAlerts(b, file, n)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		srv := redistest.Start(b)
		s, err := New(context.Background(), Options{Addresses: []string{srv.Addr}})
		if err != nil {
			b.Fatal(err)
		}
		before := usedMemory(b, s.Client())
		b.StartTimer()
		for j := 0; j < n; j += 100 {
			if _, err := s.Append(context.Background(), alerts[j:j+100]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		per := float64(usedMemory(b, s.Client())-before) / n
		b.ReportMetric(per, "redis-B/alert")
		b.ReportMetric(per/float64(size), "x-payload")
		if testing.Verbose() {
			memoryByKind(b, s)
		}
		s.Close()
		srv.Stop()
	}
}

// memoryByKind logs MEMORY USAGE per alert summed over each key kind.
func memoryByKind(b *testing.B, s *Store) {
	ctx := context.Background()
	kinds := map[string]int64{}
	keys := map[string]int{}
	iter := s.c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		u, err := s.c.MemoryUsage(ctx, k, 0).Result()
		if err != nil {
			b.Fatal(err)
		}
		kind := strings.TrimPrefix(k, s.pfx)
		if i := strings.IndexByte(kind, ':'); i >= 0 {
			kind = kind[:i]
		}
		kinds[kind] += u
		keys[kind]++
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		b.Logf("%-8s %4d keys %8.1f B/alert", k, keys[k], float64(kinds[k])/20000)
	}
}
