package redis

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/alert"

	"github.com/saker-sec/saker/hub/store/redistest"
)

// BenchmarkAppendScript appends the Falco payload of testdata, encoded
// once as ingest hands it over, the ways the hub does: one alert per Append
// from one sender (Falco's http_output on one connection) and from 16
// senders at once (group commit coalesces them), and batches of 100. Each
// alert has a fresh uuid (a repeated one is a cheaper, deduplicated
// append); the "-falco" variants carry none, as Falco's http_output sends
// them (the hub makes one up, which is not remembered for dedupe: what
// make bench-hub measures). Besides alerts/s it reports, per alert, the CPU time of this
// process (the store's side of the hub) and of redis-server (INFO cpu: its
// whole cost of the append, immune to the waits a loaded machine adds to
// wall clock), the time Redis spent in the append script (INFO
// commandstats, wall clock), the Redis commands the script called and the
// context switches of this process (the
// wake-ups a round trip to Redis costs the hub).
func BenchmarkAppendScript(b *testing.B) {
	run := func(b *testing.B, batch, senders int, generated bool) {
		next := freshAlerts(b, generated)
		srv := redistest.Start(b)
		s, err := New(context.Background(), Options{Addresses: []string{srv.Addr}})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		if _, err := s.Append(ctx, next(1)); err != nil { // loads the script
			b.Fatal(err)
		}
		if err := s.c.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		cpu0, rcpu0, cs0 := processCPU(), serverCPU(b, s), contextSwitches()
		b.ResetTimer()
		if senders == 1 {
			for i := 0; i < b.N; i++ {
				if _, err := s.Append(ctx, next(batch)); err != nil {
					b.Fatal(err)
				}
			}
		} else {
			b.SetParallelism(senders / 2) // × GOMAXPROCS, 2 on the bench machine
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Append(ctx, next(batch)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		b.StopTimer()
		n := float64(b.N * batch)
		b.ReportMetric(n/b.Elapsed().Seconds(), "alerts/s")
		b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Microsecond)/n, "hub-cpu-µs/alert")
		b.ReportMetric((serverCPU(b, s)-rcpu0)*1e6/n, "redis-cpu-µs/alert")
		usec, commands := scriptStats(b, s)
		b.ReportMetric(usec/n, "script-µs/alert")
		b.ReportMetric(commands/n, "redis-cmds/alert")
		b.ReportMetric(float64(contextSwitches()-cs0)/n, "hub-cs/alert")
	}
	for _, generated := range []bool{false, true} {
		sfx := ""
		if generated {
			sfx = "-falco"
		}
		b.Run("single"+sfx, func(b *testing.B) { run(b, 1, 1, generated) })
		b.Run("single-16-senders"+sfx, func(b *testing.B) { run(b, 1, 16, generated) })
		b.Run("batch100"+sfx, func(b *testing.B) { run(b, 100, 1, generated) })
	}
}

// BenchmarkAppendScriptParts prices the parts of the append script in
// redis-server: the script as it is ("all"), and with one part's Redis calls
// taken out at a time, each on a server of its own configured as
// docker-compose.yml runs Redis (AOF, fsync every second), the variants'
// appends interleaved so a loaded machine slows them alike. "floor" reads
// the arguments and returns at once: the cost of a request and its
// arguments; "xadd-only" stores each alert in the stream and skips its
// index members and counts. A part costs about the difference between
// "all" and the variant without it. The alerts carry no uuid, as Falco
// sends them (the hub's made-up uuid is not remembered), except in
// "dedupe" (a sender's uuid, remembered). Batches of 20 are what group
// commit gathers from 50 connections of single POSTs (INFO commandstats
// of make bench-hub's Redis: calls of xadd ÷ calls of evalsha).
func BenchmarkAppendScriptParts(b *testing.B) {
	variants := []struct{ name, old, new string }{
		{"all", "", ""},
		{"floor", "local ukey, uprev\n", "do local r = {} for a = 1, n do r[a] = \"0-1\" end return r end\nlocal ukey, uprev\n"},
		{"dedupe", "", ""},
		{"xadd-only", "    local dash = find(id", "  end\n  if false then\n    local dash = find(id"},
		{"no-indexes", `    redis.call("ZADD", key, unpack(m, from, math.min(from + 999, m.n)))`, ""},
		{"no-counters", `    if redis.call("HINCRBY", ckey, f, v) == v then
      expire = true
    end`, ""},
	}
	next, sent := freshAlerts(b, true), freshAlerts(b, false)
	for _, batch := range []int{1, 20, 100} {
		b.Run("batch"+strconv.Itoa(batch), func(b *testing.B) {
			ctx := context.Background()
			stores := make([]*Store, len(variants))
			for k, v := range variants {
				src := appendLua
				if v.old != "" {
					if n := strings.Count(src, v.old); n != 1 {
						b.Fatalf("variant %s: append.lua has %d copies of the text it replaces, want 1", v.name, n)
					}
					src = strings.Replace(src, v.old, v.new, 1)
				}
				srv := redistest.Start(b, "--appendonly", "yes", "--appendfsync", "everysec")
				s, err := New(ctx, Options{Addresses: []string{srv.Addr}})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				s.script = goredis.NewScript(src)
				if _, err := s.Append(ctx, next(1)); err != nil { // loads the script
					b.Fatal(err)
				}
				if err := s.c.ConfigResetStat(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				stores[k] = s
			}
			cpu0 := make([]float64, len(stores))
			for k, s := range stores {
				cpu0[k] = serverCPU(b, s)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for k, s := range stores {
					alerts := next(batch)
					if variants[k].name == "dedupe" {
						alerts = sent(batch)
					}
					if _, err := s.Append(ctx, alerts); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			n := float64(b.N * batch)
			for k, s := range stores {
				b.ReportMetric((serverCPU(b, s)-cpu0[k])*1e6/n, variants[k].name+"-redis-cpu-µs/alert")
				usec, _ := scriptStats(b, s)
				b.ReportMetric(usec/n, variants[k].name+"-script-µs/alert")
			}
		})
	}
}

// freshAlerts returns a function handing out n copies of the Falco payload
// of testdata, timed now and encoded once as ingest hands it over, each
// with a uuid of its own (a repeated one is a cheaper, deduplicated
// append), made up by the hub when generated (Falco sent none).
func freshAlerts(b *testing.B, generated bool) func(n int) []alert.Alert {
	base, _ := memoryAlerts(b, 1)
	// Current, as a sensor's alerts are: the payload's own time is days
	// old, which makes every append a late alert's (its counter key's
	// expiry refreshed each time).
	base[0].Time = time.Now().UTC()
	body, err := json.Marshal(&base[0])
	if err != nil {
		b.Fatal(err)
	}
	base[0].Encoded = body
	var seq atomic.Int64
	return func(n int) []alert.Alert {
		out := make([]alert.Alert, n)
		for i := range out {
			out[i] = base[0]
			out[i].UUID = strconv.FormatInt(seq.Add(1), 16) + "-5d0a-4a47-9a3e-2f4f1c9d8e11"
			out[i].UUIDGenerated = generated
		}
		return out
	}
}

// processCPU returns the CPU time this process used (user + system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// contextSwitches returns how often this process's threads gave up the
// CPU, waiting (a wake-up to come) or preempted.
func contextSwitches() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Nvcsw + ru.Nivcsw
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

// scriptCommands are the commands the append script calls.
var scriptCommands = map[string]bool{"time": true, "hmget": true, "xadd": true, "hset": true, "pexpire": true,
	"zadd": true, "sadd": true, "hincrby": true, "expire": true}

// scriptStats returns the microseconds Redis spent in EVAL and EVALSHA and
// how many commands the append script called (INFO commandstats counts
// commands run from Lua too): a count the machine's load cannot move.
func scriptStats(b *testing.B, s *Store) (usec, commands float64) {
	info, err := s.c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		key := ""
		switch {
		case name == "evalsha" || name == "eval":
			key = "usec="
		case scriptCommands[name]:
			key = "calls="
		default:
			continue
		}
		for _, kv := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(kv, key); ok {
				f, _ := strconv.ParseFloat(v, 64)
				if key == "usec=" {
					usec += f
				} else {
					commands += f
				}
			}
		}
	}
	return usec, commands
}
