// Command benchhub measures the hub as users run it: it starts `saker hub`
// (a built binary) over the Redis store (its own redis-server, configured as
// docker-compose.yml configures it) and over the embedded store, drives it
// over loopback with one Falco payload (with wrk), and prints req/s, p50
// and p99 for single POSTs on 1 and 50 connections and batches of 100 on 8
// connections, the CPU time per alert and the context switches per request
// of the server's processes (redis-server included), whether issue 10's
// targets are met, plus Redis bytes per stored alert. When -sidekick names a falcosidekick
// binary (built from its public source outside this repository, no outputs
// configured) it runs in the same rounds, interleaved, and ratios are
// printed per round: the machine is shared, so only figures from one run
// are compared. -saker-b adds a second saker binary (an older commit, built
// outside the repository) to the same rounds, to find a regression: B ÷ A
// is printed per store.
//
// Run it with `make bench-hub` (SIDEKICK=/path/to/falcosidekick to compare,
// SAKER_B=/path/to/older/saker for an A/B run).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func main() {
	if kind := os.Getenv(floorEnv); kind != "" {
		if err := serveFloor(kind); err != nil {
			fmt.Fprintln(os.Stderr, "benchhub floor:", err)
			os.Exit(1)
		}
		return
	}
	saker := flag.String("saker", "bin/saker", "saker binary")
	sakerB := flag.String("saker-b", "", "a second saker binary (say, an older commit built outside the repo) run in the same interleaved rounds; ratios B ÷ A are printed")
	stores := flag.String("stores", "redis,embedded", "saker stores to measure (comma-separated: redis, embedded)")
	sidekick := flag.String("sidekick", os.Getenv("SIDEKICK"), "falcosidekick binary to compare with (optional)")
	payload := flag.String("payload", "hub/ingest/testdata/falco/terminal_shell.json", "Falco payload to send (its uuid is dropped)")
	rounds := flag.Int("rounds", 3, "interleaved rounds")
	dur := flag.Duration("duration", 4*time.Second, "length of one measurement")
	memAlerts := flag.Int("mem-alerts", 20000, "alerts stored to measure Redis bytes per alert")
	floor := flag.Bool("floor", false, "also measure the floors (floor.go): a server that only reads the body, and one that only XADDs it to Redis, in the same rounds")
	flag.Parse()
	if err := run(options{saker: *saker, sakerB: *sakerB, sidekick: *sidekick, stores: strings.Split(*stores, ","),
		payload: *payload, rounds: *rounds, dur: *dur, memAlerts: *memAlerts, floor: *floor}); err != nil {
		fmt.Fprintln(os.Stderr, "benchhub:", err)
		os.Exit(1)
	}
}

// scenario is one load shape.
type scenario struct {
	name  string
	conns int
	batch int // alerts per request; 0 = single POST /
}

var scenarios = []scenario{
	{"single POST, 1 conn", 1, 0},
	{"single POST, 50 conns", 50, 0},
	{"batch of 100, 8 conns", 8, 100},
}

// options are the command's flags.
type options struct {
	saker, sakerB, sidekick string
	stores                  []string
	payload                 string
	rounds                  int
	dur                     time.Duration
	memAlerts               int
	floor                   bool
}

// target is a running server under test.
type target struct {
	name  string
	url   string
	batch bool // serves POST /api/v1/events
	stop  func()
	// pids are the processes whose CPU time the target's work costs: the
	// server, and redis-server for a Redis store.
	pids []int
	// a names the A target a B target is compared with ("" for others).
	a string
	// floor marks a floor (floor.go): measured, given no verdict.
	floor bool
}

// result is one measurement.
type result struct {
	reqs, alerts, errors int64
	firstErr             string
	secs                 float64
	p50, p99             time.Duration
	cpu                  time.Duration // CPU time of the target's processes during the run
	switches             int64         // their context switches during the run
	sleeps               int64         // the voluntary ones: a thread blocking until woken, whatever the load
}

func (r result) rps() float64 { return float64(r.reqs) / r.secs }

// switchesPerReq is the target's context switches per request served.
func (r result) switchesPerReq() float64 {
	if r.reqs == 0 {
		return 0
	}
	return float64(r.switches) / float64(r.reqs)
}

// sleepsPerReq is the target's voluntary context switches per request:
// its threads' wake-ups, which preemption by other work on the machine
// (the rest of switches) does not add to.
func (r result) sleepsPerReq() float64 {
	if r.reqs == 0 {
		return 0
	}
	return float64(r.sleeps) / float64(r.reqs)
}

func (r result) alertRate() float64 { return float64(r.alerts) / r.secs }

// cpuPerAlert is the target's CPU time per stored alert in µs: unlike
// req/s it hardly depends on how much of the shared machine the target got.
func (r result) cpuPerAlert() float64 {
	if r.alerts == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.alerts)
}

func run(o options) error {
	body, err := loadPayload(o.payload)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchhub")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	redisAddr, redisPID, stopRedis, err := startRedis(tmp)
	if err != nil {
		return err
	}
	defer stopRedis()

	var targets []*target
	stopAll := func() {
		for _, t := range targets {
			t.stop()
		}
	}
	defer stopAll()
	add := func(t *target, err error) error {
		if err != nil {
			return err
		}
		targets = append(targets, t)
		return nil
	}
	bins := []struct{ prefix, bin string }{{"saker", o.saker}}
	if o.sakerB != "" {
		bins = append(bins, struct{ prefix, bin string }{"b", o.sakerB})
	}
	for _, b := range bins {
		for _, st := range o.stores {
			var env map[string]string
			switch st {
			case "redis":
				// Each binary gets its own database: B never reads A's alerts.
				env = map[string]string{"REDIS_ADDRESS": redisAddr, "REDIS_DB": strconv.Itoa(len(targets))}
			case "embedded":
				env = map[string]string{"SAKER_DATA_DIR": filepath.Join(tmp, b.prefix+"-data")}
			default:
				return fmt.Errorf("-stores: unknown store %q (want redis or embedded)", st)
			}
			t, err := startSaker(b.bin, b.prefix+"-"+st, env)
			if err := add(t, err); err != nil {
				return err
			}
			if st == "redis" {
				t.pids = append(t.pids, redisPID)
			}
			if b.prefix == "b" {
				t.a = "saker-" + st
			}
		}
	}
	if o.floor {
		if err := add(startFloor("http", "")); err != nil {
			return err
		}
		t, err := startFloor("redis", redisAddr)
		if err := add(t, err); err != nil {
			return err
		}
		t.pids = append(t.pids, redisPID)
	}
	if o.sidekick != "" {
		if err := add(startSidekick(o.sidekick)); err != nil {
			return err
		}
	}
	fmt.Printf("payload %d bytes, %d rounds of %v per scenario and target, interleaved; load client wrk, one thread per connection up to 2\n",
		len(body), o.rounds, o.dur)
	if o.sakerB != "" {
		fmt.Printf("A = %s, B = %s\n", o.saker, o.sakerB)
	}
	fmt.Printf("load average at start: %s\n", loadAvg())
	defer func() { fmt.Printf("load average at end: %s\n", loadAvg()) }()

	// results[scenario][target] = one result per round
	results := map[string]map[string][]result{}
	for r := 1; r <= o.rounds; r++ {
		for _, sc := range scenarios {
			for _, t := range targets {
				if sc.batch > 0 && !t.batch {
					continue
				}
				cpu0 := cpuTime(t.pids)
				cs0, sl0 := ctxSwitches(t.pids)
				res := drive(t, sc, body, o.dur, tmp)
				cs1, sl1 := ctxSwitches(t.pids)
				res.cpu, res.switches, res.sleeps = cpuTime(t.pids)-cpu0, cs1-cs0, sl1-sl0
				if results[sc.name] == nil {
					results[sc.name] = map[string][]result{}
				}
				results[sc.name][t.name] = append(results[sc.name][t.name], res)
				fmt.Printf("round %d  %-22s %-15s %9.0f req/s %9.0f alerts/s  p50 %8v  p99 %8v  cpu %5.0f µs/alert  %5.1f cs/req (%4.1f sleeps)  errors %d\n",
					r, sc.name, t.name, res.rps(), res.alertRate(), res.p50.Round(time.Microsecond), res.p99.Round(time.Microsecond), res.cpuPerAlert(), res.switchesPerReq(), res.sleepsPerReq(), res.errors)
				if res.firstErr != "" {
					fmt.Printf("         first error: %s\n", res.firstErr)
				}
			}
		}
	}
	report(results, targets)
	verdicts(results, targets)

	if !slices.Contains(o.stores, "redis") || o.memAlerts <= 0 {
		return nil
	}
	for _, b := range bins {
		bpa, err := redisBytesPerAlert(b.bin, filepath.Join(tmp, b.prefix), body, o.memAlerts)
		if err != nil {
			return fmt.Errorf("redis memory (%s): %w", b.bin, err)
		}
		fmt.Printf("\n%s: Redis memory per stored alert (%d alerts, indexes and counters included): %.0f bytes = %.2f× the %d-byte payload\n",
			b.bin, o.memAlerts, bpa, bpa/float64(len(body)), len(body))
	}
	return nil
}

// report prints medians per scenario and the per-round ratios to
// falcosidekick.
func report(results map[string]map[string][]result, targets []*target) {
	fmt.Println("\nmedians over rounds (ratio = saker ÷ falcosidekick in the same round, median of rounds; B ÷ A likewise):")
	for _, sc := range scenarios {
		byT := results[sc.name]
		for _, t := range targets {
			rs := byT[t.name]
			if len(rs) == 0 {
				continue
			}
			line := fmt.Sprintf("%-22s %-15s %9.0f req/s %9.0f alerts/s  p50 %8v  p99 %8v  cpu %5.0f µs/alert  %5.1f cs/req (%4.1f sleeps)",
				sc.name, t.name, median(rs, result.rps), median(rs, result.alertRate),
				time.Duration(median(rs, func(r result) float64 { return float64(r.p50) })).Round(time.Microsecond),
				time.Duration(median(rs, func(r result) float64 { return float64(r.p99) })).Round(time.Microsecond),
				median(rs, result.cpuPerAlert), median(rs, result.switchesPerReq), median(rs, result.sleepsPerReq))
			if sk := byT["falcosidekick"]; len(sk) == len(rs) && t.name != "falcosidekick" {
				var ratios, p99s, cpus []float64
				for i := range rs {
					ratios = append(ratios, rs[i].rps()/sk[i].rps())
					p99s = append(p99s, float64(rs[i].p99)/float64(sk[i].p99))
					cpus = append(cpus, rs[i].cpuPerAlert()/sk[i].cpuPerAlert())
				}
				line += fmt.Sprintf("   req/s ratio %.2f×, p99 ratio %.2f×, cpu ratio %.2f×", medianOf(ratios), medianOf(p99s), medianOf(cpus))
			}
			if a := byT[t.a]; t.a != "" && len(a) == len(rs) {
				var ratios []float64
				for i := range rs {
					ratios = append(ratios, rs[i].rps()/a[i].rps())
				}
				line += fmt.Sprintf("   B ÷ A %.2f×", medianOf(ratios))
			}
			fmt.Println(line)
		}
	}
}

// verdicts prints issue 10's targets, met or missed, from the medians of
// the per-round ratios: single POSTs at 50 connections at least 1.5×
// falcosidekick's req/s with a p99 no worse, at 1 connection at least
// 1.0×, for both stores; the batch route (Redis) at least 150 K alerts/s.
func verdicts(results map[string]map[string][]result, targets []*target) {
	fmt.Println("\ntargets (issue 10; medians of the per-round ratios):")
	verdict := func(ok bool) string {
		if ok {
			return "MET   "
		}
		return "MISSED"
	}
	for _, t := range targets {
		if t.name == "falcosidekick" || t.a != "" || t.floor {
			continue
		}
		for _, c := range []struct {
			scenario string
			rps, p99 float64 // required ratios; p99 0 = none
		}{{"single POST, 50 conns", 1.5, 1.0}, {"single POST, 1 conn", 1.0, 0}} {
			rs, sk := results[c.scenario][t.name], results[c.scenario]["falcosidekick"]
			if len(sk) != len(rs) || len(rs) == 0 {
				fmt.Printf("  %-15s %-22s no falcosidekick in the run (SIDEKICK=…): no verdict\n", t.name, c.scenario)
				continue
			}
			var ratios, p99s []float64
			for i := range rs {
				ratios = append(ratios, rs[i].rps()/sk[i].rps())
				p99s = append(p99s, float64(rs[i].p99)/float64(sk[i].p99))
			}
			ok := medianOf(ratios) >= c.rps && (c.p99 == 0 || medianOf(p99s) <= c.p99)
			line := fmt.Sprintf("  %s %-15s %-22s req/s %.2f× falcosidekick (want ≥ %.1f×)", verdict(ok), t.name, c.scenario, medianOf(ratios), c.rps)
			if c.p99 > 0 {
				line += fmt.Sprintf(", p99 %.2f× (want ≤ %.1f×)", medianOf(p99s), c.p99)
			}
			fmt.Println(line)
		}
		if rs := results["batch of 100, 8 conns"][t.name]; len(rs) > 0 && t.name == "saker-redis" {
			rate := median(rs, result.alertRate)
			fmt.Printf("  %s %-15s %-22s %.0f alerts/s stored (want ≥ 150000)\n", verdict(rate >= 150000), t.name, "batch of 100, 8 conns", rate)
		}
	}
	floorLine(results, "floor-redis")
}

// floorLine prints what floor (floor.go) did in the same rounds against
// the Redis targets: a target the floor misses no Redis-acknowledged hub
// meets on this machine.
func floorLine(results map[string]map[string][]result, floor string) {
	var parts []string
	for _, sc := range scenarios[:2] {
		rs, sk := results[sc.name][floor], results[sc.name]["falcosidekick"]
		if len(rs) == 0 || len(rs) != len(sk) {
			continue
		}
		var ratios []float64
		for i := range rs {
			ratios = append(ratios, rs[i].rps()/sk[i].rps())
		}
		parts = append(parts, fmt.Sprintf("%s %.2f× falcosidekick", sc.name, medianOf(ratios)))
	}
	if rs := results[scenarios[2].name][floor]; len(rs) > 0 {
		parts = append(parts, fmt.Sprintf("%s %.0f alerts/s", scenarios[2].name, median(rs, result.alertRate)))
	}
	if len(parts) > 0 {
		fmt.Printf("  %s (XADD only: no decoding, indexes or dedupe) in the same rounds: %s\n", floor, strings.Join(parts, "; "))
	}
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	return medianOf(v)
}

func medianOf(v []float64) float64 {
	v = slices.Clone(v)
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

// loadPayload reads the Falco payload and drops its uuid: each POST is a
// new alert (the hub stores a resent uuid once).
func loadPayload(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("payload %s: %w", path, err)
	}
	delete(m, "uuid")
	// The alert's time is the run's start, as a sensor's alerts are
	// current: a stored sample's week-old time would make every alert a
	// late one to the store (indexed and counted out of order). Nine
	// fraction digits always, so the payload keeps its size.
	now, err := json.Marshal(time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z07:00"))
	if err != nil {
		return nil, err
	}
	m["time"] = now
	// Written as Falco writes it: json.Marshal would escape the "<NA>" of
	// Falco's output line as \u003cNA\u003e, which Falco never sends.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// drive runs one scenario against one target for dur with wrk (a C load
// generator: its own CPU cost per request is a fraction of a Go client's,
// so more of the shared machine goes to the server under test). The
// request body is written to a file in dir that wrk's script reads.
func drive(t *target, sc scenario, body []byte, dur time.Duration, dir string) result {
	path := "/"
	req := body
	ctype := "application/json"
	if sc.batch > 0 {
		path = "/api/v1/events"
		req = bytes.Repeat(append(slices.Clone(body), '\n'), sc.batch)
		ctype = "application/x-ndjson"
	}
	fail := func(err error) result { return result{errors: 1, firstErr: err.Error(), secs: dur.Seconds()} }
	bodyFile := filepath.Join(dir, fmt.Sprintf("body-%d.json", max(sc.batch, 1)))
	script := bodyFile + ".lua"
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = %q\nlocal f = assert(io.open(%q, \"rb\"))\nwrk.body = f:read(\"*a\")\nf:close()\n", ctype, bodyFile)
	if err := os.WriteFile(bodyFile, req, 0o644); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return fail(err)
	}
	threads := min(sc.conns, 2)
	out, err := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(sc.conns), "-d", dur.String(),
		"--timeout", "30s", "--latency", "-s", script, t.url+path).CombinedOutput()
	if err != nil {
		return fail(fmt.Errorf("wrk: %w: %s", err, lastLines(string(out))))
	}
	res, err := parseWrk(string(out))
	if err != nil {
		return fail(err)
	}
	res.alerts = res.reqs * int64(max(sc.batch, 1))
	return res
}

// parseWrk reads wrk --latency's report: requests and their duration, the
// 50th and 99th latency percentiles, and failures (non-2xx answers and
// socket errors), which do not count as requests served.
func parseWrk(out string) (result, error) {
	var res result
	var total int64
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 4 && f[1] == "requests" && f[2] == "in":
			n, err1 := strconv.ParseInt(f[0], 10, 64)
			d, err2 := time.ParseDuration(strings.TrimSuffix(f[3], ","))
			if err1 != nil || err2 != nil {
				return res, fmt.Errorf("wrk: cannot read %q", line)
			}
			total, res.secs = n, d.Seconds()
			seen++
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return res, fmt.Errorf("wrk: cannot read %q", line)
			}
			if f[0] == "50%" {
				res.p50 = d
			} else {
				res.p99 = d
			}
			seen++
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			n, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			res.errors += n
			res.firstErr = "non-2xx answers"
		case strings.HasPrefix(strings.TrimSpace(line), "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, _ := strconv.ParseInt(strings.TrimSuffix(f[i+1], ","), 10, 64)
				res.errors += n
			}
			if res.firstErr == "" {
				res.firstErr = strings.TrimSpace(line)
			}
		}
	}
	if seen != 3 || res.secs == 0 {
		return res, fmt.Errorf("wrk: unexpected report: %s", lastLines(out))
	}
	res.reqs = max(0, total-res.errors)
	return res, nil
}

// ctxSwitches is the number of context switches of every thread of the
// processes so far (/proc/<pid>/task/*/status), all of them and the
// voluntary ones (sleeps: a thread blocking until something wakes it);
// each is a VM exit on a virtual machine. Threads that exited are not
// counted (the Go runtime seldom ends one).
func ctxSwitches(pids []int) (total, sleeps int64) {
	for _, pid := range pids {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
		for _, st := range tasks {
			b, err := os.ReadFile(st)
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					total += n
					sleeps += n
				} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
					n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					total += n
				}
			}
		}
	}
	return total, sleeps
}

// cpuTime is the user plus system CPU time the processes used so far
// (/proc/<pid>/stat, clock ticks of 10 ms); 0 for a process it cannot read.
func cpuTime(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces), from the
		// state on: utime and stime are the 12th and 13th.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute figures: the machine is
// shared, and a figure means little without the load it was taken under.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startProcess runs a server and waits until url answers.
func startProcess(name, url string, cmd *exec.Cmd) (func(), error) {
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-done
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return stop, nil
		}
		select {
		case <-done:
			return nil, fmt.Errorf("%s exited: %s", name, lastLines(logs.String()))
		default:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%s did not answer %s: %s", name, url, lastLines(logs.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], "\n")
}

// startRedis runs redis-server as docker-compose.yml does (AOF, fsync
// every second).
func startRedis(dir string) (addr string, pid int, stop func(), err error) {
	port, err := freePort()
	if err != nil {
		return "", 0, nil, err
	}
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return "", 0, nil, err
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", rdir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("start redis-server: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, cmd.Process.Pid, stop, nil
		}
		if i > 200 {
			stop()
			return "", 0, nil, fmt.Errorf("redis-server did not start: %s", lastLines(logs.String()))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func startSaker(bin, name string, env map[string]string) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	uiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "hub")
	cmd.Env = append(os.Environ(), "LISTENADDRESS=127.0.0.1", "LISTENPORT="+strconv.Itoa(port),
		"UI_ADDRESS=127.0.0.1", "UI_LISTENPORT="+strconv.Itoa(uiPort))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	stop, err := startProcess(name, url+"/ping", cmd)
	if err != nil {
		return nil, err
	}
	return &target{name: name, url: url, batch: true, stop: stop, pids: []int{cmd.Process.Pid}}, nil
}

func startSidekick(bin string) (*target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	// No outputs: only the listener, on loopback.
	cmd.Env = []string{"LISTENADDRESS=127.0.0.1", "LISTENPORT=" + strconv.Itoa(port), "PATH=" + os.Getenv("PATH")}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	stop, err := startProcess("falcosidekick", url+"/ping", cmd)
	if err != nil {
		return nil, err
	}
	return &target{name: "falcosidekick", url: url, stop: stop, pids: []int{cmd.Process.Pid}}, nil
}

// redisBytesPerAlert stores n alerts through a hub on a fresh Redis and
// returns the growth of Redis's used_memory per alert.
func redisBytesPerAlert(sakerBin, dir string, body []byte, n int) (float64, error) {
	addr, _, stop, err := startRedis(filepath.Join(dir, "mem"))
	if err != nil {
		return 0, err
	}
	defer stop()
	before, err := usedMemory(addr)
	if err != nil {
		return 0, err
	}
	t, err := startSaker(sakerBin, "saker-redis-mem", map[string]string{"REDIS_ADDRESS": addr})
	if err != nil {
		return 0, err
	}
	defer t.stop()
	batch := bytes.Repeat(append(slices.Clone(body), '\n'), 100)
	for sent := 0; sent < n; sent += 100 {
		resp, err := http.Post(t.url+"/api/v1/events", "application/x-ndjson", bytes.NewReader(batch))
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("batch: status %d", resp.StatusCode)
		}
	}
	after, err := usedMemory(addr)
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), nil
}

// usedMemory reads used_memory from INFO memory.
func usedMemory(addr string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("no used_memory in INFO memory")
}
