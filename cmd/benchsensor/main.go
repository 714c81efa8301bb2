//go:build linux

// Command benchsensor measures what the whole sensor costs the workloads of
// the node it watches: `saker sensor` (a built binary: probe, process state,
// rule engine, outputs) runs with the rules files users load, while this
// process times syscall loops by wall clock. Each round measures, in an
// order that rotates between rounds:
//
//   - none:   no BPF program attached;
//   - floor:  one empty BPF program on one syscall tracepoint the loops never
//     call. Any syscall tracepoint sets SYSCALL_TRACEPOINT on every task,
//     so every syscall of the machine takes the kernel's slow entry/exit
//     path: no tracepoint-based sensor can cost less than this;
//   - sensor: the whole `saker sensor` process, alerts written to a file.
//
// It prints ns/op per mode and round, the ratios per round and their
// medians, and the records the sensor's ring buffer dropped (from its
// Prometheus endpoint). After the timed loops of each round it also prices
// the kernel side alone, with the kernel's BPF run-time statistics on:
// the sensor's sys_openat program per openat+close, and the floor's empty
// program per getppid (what the statistics' own clock reads add to every
// run). Run it as root with `make bench-sensor`.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

func main() {
	saker := flag.String("saker", "bin/saker", "saker binary")
	sakerB := flag.String("saker-b", "", "a second saker binary (an older build) run in the same rounds as mode sensor-b: an A/B comparison")
	rulesList := flag.String("rules", "sensor/rules/testdata/falco_rules.yaml,sensor/rules/testdata/falco-incubating_rules.yaml,sensor/rules/testdata/falco-sandbox_rules.yaml",
		"comma-separated rules files the sensor loads")
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	getpidOps := flag.Int("getpid-ops", 5_000_000, "getpid calls per measurement")
	openOps := flag.Int("open-ops", 500_000, "openat+close pairs per measurement")
	ratesList := flag.String("rates", "20000,50000,100000", "comma-separated openat+close rates per second at which drops are measured")
	pacedFor := flag.Duration("paced-for", 3*time.Second, "length of each paced run")
	flag.Parse()
	var rates []int
	for _, f := range strings.Split(*ratesList, ",") {
		if f == "" {
			continue
		}
		r, err := strconv.Atoi(f)
		if err != nil || r <= 0 {
			fmt.Fprintf(os.Stderr, "benchsensor: -rates: bad rate %q\n", f)
			os.Exit(2)
		}
		rates = append(rates, r)
	}
	cfg := config{
		saker:  *saker,
		sakerB: *sakerB,
		rules:  strings.Split(*rulesList, ","),
		rounds: *rounds,
		loads: []workload{
			{name: "getpid", ops: *getpidOps, run: loopGetpid},
			{name: "openat+close", ops: *openOps, run: loopOpenClose},
		},
		rates:    rates,
		pacedFor: *pacedFor,
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "benchsensor:", err)
		os.Exit(1)
	}
}

type config struct {
	saker  string
	sakerB string
	rules  []string
	rounds int
	loads  []workload
	// rates (openat+close per second) at which drops are measured, each
	// for pacedFor, in every sensor round.
	rates    []int
	pacedFor time.Duration
}

// workload is a syscall loop; run performs ops iterations on the calling
// (locked) thread.
type workload struct {
	name string
	ops  int
	run  func(ops int, path *byte) error
}

// mode is one configuration of the machine under which the loops run.
type mode struct {
	name  string
	start func() (running, error)
}

// running is a started mode.
type running struct {
	// counters reads the sensor's probe counters (zero without one).
	counters func() (kernelCounts, error)
	// cpu is the CPU time the sensor process has used (0 without one).
	cpu  func() time.Duration
	stop func()
	// prog is the program priced with the run-time statistics (the
	// sensor's sys_openat, the floor's empty one; nil for none), loop the
	// syscall loop that runs it.
	prog *ebpf.Program
	loop func(ops int, path *byte) error
}

func noCPU() time.Duration { return 0 }

// kernelCounts are the probe's counters, summed over event types: records
// written to the ring buffer, records dropped because it was full, and
// opens the open filter left in the kernel.
type kernelCounts struct{ events, drops, filtered uint64 }

func noCounters() (kernelCounts, error) { return kernelCounts{}, nil }

func run(cfg config) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (it loads BPF programs and runs the sensor)")
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return fmt.Errorf("memlock: %w", err)
	}
	for _, f := range append([]string{cfg.saker}, cfg.rules...) {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "benchsensor")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	target := filepath.Join(tmp, "f")
	if err := os.WriteFile(target, []byte("x"), 0o600); err != nil {
		return err
	}
	path, err := unix.BytePtrFromString(target)
	if err != nil {
		return err
	}

	modes := []mode{
		{"none", func() (running, error) { return running{counters: noCounters, cpu: noCPU, stop: func() {}}, nil }},
		{"floor", startFloor},
		{"sensor", func() (running, error) { return startSensor(cfg.saker, cfg.rules, tmp) }},
	}
	if cfg.sakerB != "" {
		modes = append(modes, mode{"sensor-b", func() (running, error) { return startSensor(cfg.sakerB, cfg.rules, tmp) }})
		fmt.Printf("sensor-b = %s\n", cfg.sakerB)
	}
	fmt.Printf("%d rounds; rules: %s\n", cfg.rounds, strings.Join(cfg.rules, " "))
	fmt.Println("floor = one empty BPF program on tracepoint syscalls/sys_enter_getppid (never called by the loops)")
	// nsop[workload][mode] = one figure per round
	nsop := map[string]map[string][]float64{}
	// per sensor mode, one figure per round
	drops, events := map[string][]uint64{}, map[string][]uint64{}
	// ns per program run with the statistics on, per mode, one per round
	progNS := map[string][]float64{}
	for r := 0; r < cfg.rounds; r++ {
		for i := range modes {
			m := modes[(i+r)%len(modes)]
			rm, err := m.start()
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, m.name, err)
			}
			line := fmt.Sprintf("round %d  %-7s", r+1, m.name)
			for _, w := range cfg.loads {
				cpu0 := rm.cpu()
				ns, err := timeLoop(w, path)
				if err != nil {
					rm.stop()
					return fmt.Errorf("%s: %w", w.name, err)
				}
				if nsop[w.name] == nil {
					nsop[w.name] = map[string][]float64{}
				}
				nsop[w.name][m.name] = append(nsop[w.name][m.name], ns)
				line += fmt.Sprintf("  %s %7.1f ns/op", w.name, ns)
				if isSensor(m.name) {
					// The warm-up's ops are in the sensor's CPU time too.
					cpuNS := float64((rm.cpu() - cpu0).Nanoseconds()) / float64(w.ops+w.ops/20)
					line += fmt.Sprintf(" (sensor CPU %.0f ns/op)", cpuNS)
				}
			}
			kc, err := rm.counters()
			if err != nil {
				rm.stop()
				return fmt.Errorf("round %d, %s: %w", r+1, m.name, err)
			}
			if isSensor(m.name) {
				drops[m.name] = append(drops[m.name], kc.drops)
				events[m.name] = append(events[m.name], kc.events)
				line += fmt.Sprintf("  (sensor: %d kernel records, %d dropped, %d opens filtered in the kernel)", kc.events, kc.drops, kc.filtered)
			}
			if rm.prog != nil {
				ns, err := progCost(rm, path, cfg.loads[len(cfg.loads)-1].ops/5)
				if err != nil {
					rm.stop()
					return fmt.Errorf("round %d, %s: %w", r+1, m.name, err)
				}
				progNS[m.name] = append(progNS[m.name], ns)
				line += fmt.Sprintf("  (BPF stats: %.1f ns per %s run)", ns, progName(rm.prog))
			}
			fmt.Println(line)
			if isSensor(m.name) {
				for _, rate := range cfg.rates {
					if err := paced(rm, rate, cfg.pacedFor, path); err != nil {
						rm.stop()
						return err
					}
				}
			}
			rm.stop()
		}
	}
	fmt.Println("\nmedian over rounds of the per-round ratios:")
	for _, w := range cfg.loads {
		byMode := nsop[w.name]
		ratio := func(a, b string) float64 {
			var v []float64
			for i := range byMode[a] {
				v = append(v, byMode[a][i]/byMode[b][i])
			}
			return medianOf(v)
		}
		fmt.Printf("%-13s none %7.1f ns/op  floor %7.1f  sensor %7.1f   floor/none %.2f×  sensor/none %.2f×  sensor/floor %.2f×\n",
			w.name, medianOf(byMode["none"]), medianOf(byMode["floor"]), medianOf(byMode["sensor"]),
			ratio("floor", "none"), ratio("sensor", "none"), ratio("sensor", "floor"))
		if cfg.sakerB != "" {
			fmt.Printf("%-13s sensor-b %7.1f ns/op   sensor-b/none %.2f×  sensor/sensor-b %.2f×\n",
				w.name, medianOf(byMode["sensor-b"]), ratio("sensor-b", "none"), ratio("sensor", "sensor-b"))
		}
	}
	for _, m := range modes {
		if !isSensor(m.name) {
			continue
		}
		fmt.Printf("%s: ring-buffer drops during the unpaced loops, per round: %v (records written: %v)\n", m.name, drops[m.name], events[m.name])
	}
	for _, m := range modes {
		if v := progNS[m.name]; len(v) > 0 {
			fmt.Printf("%s: BPF run-time statistics, ns per program run, median %.1f, per round %.1f\n", m.name, medianOf(v), v)
		}
	}
	fmt.Println("(a program's run time includes the statistics' two clock reads: the floor's empty program is what they cost)")
	return nil
}

// progCost runs rm's loop ops times on a locked thread with the kernel's
// BPF run-time statistics on and returns the mean run time of rm.prog.
// The statistics stay on only for this loop: the timed ones do not pay
// for their clock reads.
func progCost(rm running, path *byte, ops int) (float64, error) {
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return 0, fmt.Errorf("enable BPF statistics: %w", err)
	}
	defer stats.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, n0, err := progRuntime(rm.prog)
	if err != nil {
		return 0, err
	}
	if err := rm.loop(ops, path); err != nil {
		return 0, err
	}
	t1, n1, err := progRuntime(rm.prog)
	if err != nil {
		return 0, err
	}
	if n1 == n0 {
		return 0, fmt.Errorf("program %s did not run", progName(rm.prog))
	}
	return float64((t1 - t0).Nanoseconds()) / float64(n1-n0), nil
}

func progRuntime(p *ebpf.Program) (time.Duration, uint64, error) {
	st, err := p.Stats()
	if err != nil {
		return 0, 0, fmt.Errorf("program statistics: %w", err)
	}
	return st.Runtime, st.RunCount, nil
}

func progName(p *ebpf.Program) string {
	if info, err := p.Info(); err == nil && info.Name != "" {
		return info.Name
	}
	return "empty program"
}

// lastProgramID is the highest BPF program ID in use now.
func lastProgramID() ebpf.ProgramID {
	var last ebpf.ProgramID
	for id, err := ebpf.ProgramGetNextID(0); err == nil; id, err = ebpf.ProgramGetNextID(id) {
		last = id
	}
	return last
}

// programAfter returns the first program named name loaded after ID
// after: the sensor started then loads its programs in one go (another
// sensor started on the machine meanwhile could be taken instead).
func programAfter(after ebpf.ProgramID, name string) (*ebpf.Program, error) {
	for id, err := ebpf.ProgramGetNextID(after); err == nil; id, err = ebpf.ProgramGetNextID(id) {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue
		}
		if info, err := p.Info(); err == nil && info.Name == name {
			return p, nil
		}
		p.Close()
	}
	return nil, fmt.Errorf("no program %s loaded by the sensor", name)
}

// paced runs openat+close at rate pairs per second for d under the sensor
// and prints the records the ring buffer dropped meanwhile: the unpaced
// loop is as fast as one CPU can issue syscalls, far above what rules see
// on a busy node, so drops are also measured at set rates.
func paced(rm running, rate int, d time.Duration, path *byte) error {
	k0, err := rm.counters()
	if err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const tick = time.Millisecond
	perTick := max(1, rate/int(time.Second/tick))
	start := time.Now()
	n := 0
	for next := start; time.Since(start) < d; {
		if err := loopOpenClose(perTick, path); err != nil {
			return err
		}
		n += perTick
		next = next.Add(tick)
		time.Sleep(time.Until(next))
	}
	el := time.Since(start)
	k1, err := rm.counters()
	if err != nil {
		return err
	}
	fmt.Printf("         paced openat+close at %6d/s (achieved %6.0f/s for %v): %d kernel records, %d dropped, %d filtered\n",
		rate, float64(n)/el.Seconds(), d, k1.events-k0.events, k1.drops-k0.drops, k1.filtered-k0.filtered)
	return nil
}

// timeLoop runs w on a locked OS thread and returns wall-clock ns per op.
func timeLoop(w workload, path *byte) (float64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// A short warm-up: caches, and the sensor's first records of a new thread.
	if err := w.run(w.ops/20, path); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := w.run(w.ops, path); err != nil {
		return 0, err
	}
	return float64(time.Since(start).Nanoseconds()) / float64(w.ops), nil
}

// loopGetppid calls getppid(2), which runs the floor's program.
func loopGetppid(ops int, _ *byte) error {
	for range ops {
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	return nil
}

// loopGetpid calls getpid(2) directly (no runtime bookkeeping, no libc
// cache).
func loopGetpid(ops int, _ *byte) error {
	for range ops {
		unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	}
	return nil
}

// loopOpenClose opens and closes one file relative to AT_FDCWD.
func loopOpenClose(ops int, path *byte) error {
	cwd := unix.AT_FDCWD
	for range ops {
		fd, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(path)), unix.O_RDONLY|unix.O_CLOEXEC, 0, 0, 0)
		if errno != 0 {
			return fmt.Errorf("openat: %w", errno)
		}
		unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	}
	return nil
}

// startFloor attaches one empty program to a syscall tracepoint.
func startFloor() (running, error) {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.TracePoint,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 0), asm.Return()},
	})
	if err != nil {
		return running{}, fmt.Errorf("load empty program: %w", err)
	}
	l, err := link.Tracepoint("syscalls", "sys_enter_getppid", prog, nil)
	if err != nil {
		prog.Close()
		return running{}, fmt.Errorf("attach empty program: %w", err)
	}
	return running{counters: noCounters, cpu: noCPU, stop: func() {
		l.Close()
		prog.Close()
	}, prog: prog, loop: loopGetppid}, nil
}

var metricsAddrRE = regexp.MustCompile(`msg="serving metrics" addr=(\S+)`)

// startSensor starts `saker sensor` with the rules files, its alerts going
// to a file output (stdout off), and waits until its probe is attached.
// Its counters are read from its metrics endpoint.
func startSensor(bin string, rulesFiles []string, dir string) (running, error) {
	args := []string{"sensor", "--metrics-addr", "127.0.0.1:0",
		"-o", "stdout_output.enabled=false",
		"-o", "file_output.enabled=true", "-o", "file_output.filename=" + filepath.Join(dir, "alerts.txt"),
		"-o", "json_output=true"}
	for _, f := range rulesFiles {
		args = append(args, "-r", f)
	}
	before := lastProgramID()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return running{}, err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return running{}, err
	}
	exited := make(chan error, 1)
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads after start-up
			}
		}
		exited <- cmd.Wait()
	}()
	kill := func() {
		cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	var addr string
	var log []string
	deadline := time.After(60 * time.Second)
	for started := false; !started; {
		select {
		case l := <-lines:
			log = append(log, l)
			if m := metricsAddrRE.FindStringSubmatch(l); m != nil {
				addr = m[1]
			}
			started = strings.Contains(l, "sensor started")
		case err := <-exited:
			return running{}, fmt.Errorf("sensor exited: %v\n%s", err, strings.Join(log, "\n"))
		case <-deadline:
			kill()
			return running{}, fmt.Errorf("sensor not started after 60s:\n%s", strings.Join(log, "\n"))
		}
	}
	if addr == "" {
		kill()
		return running{}, fmt.Errorf("sensor printed no metrics address:\n%s", strings.Join(log, "\n"))
	}
	prog, err := programAfter(before, "sys_openat")
	if err != nil {
		kill()
		return running{}, err
	}
	// "sensor started" is logged once the probe is attached; the ready
	// callback follows at once, so the loops run under the whole sensor.
	return running{
		counters: func() (kernelCounts, error) { return kernelCounters("http://" + addr + "/metrics") },
		cpu:      func() time.Duration { return processCPU(cmd.Process.Pid) },
		stop: func() {
			prog.Close()
			kill()
		},
		prog: prog,
		loop: loopOpenClose,
	}, nil
}

func isSensor(mode string) bool { return strings.HasPrefix(mode, "sensor") }

// processCPU returns the user+system CPU time of process pid, from
// /proc/PID/stat (clock ticks of 10 ms), or 0 when it cannot be read.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command: state is field 3, utime 14.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// kernelCounters sums saker_sensor_kernel_{events,dropped,filtered}_total.
func kernelCounters(url string) (kc kernelCounts, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return kc, fmt.Errorf("read metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		var sum *uint64
		switch {
		case strings.HasPrefix(l, "saker_sensor_kernel_dropped_total{"):
			sum = &kc.drops
		case strings.HasPrefix(l, "saker_sensor_kernel_events_total{"):
			sum = &kc.events
		case strings.HasPrefix(l, "saker_sensor_kernel_filtered_total{"):
			sum = &kc.filtered
		default:
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return kc, fmt.Errorf("metrics line %q: %w", l, err)
		}
		*sum += uint64(v)
	}
	return kc, sc.Err()
}

func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	sort.Float64s(v)
	return v[len(v)/2]
}
