//go:build linux

package probe

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/engine"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/rules"
)

// ruleTypes approximates what a Falco-style rule set needs: file opens,
// process execution, network and namespace syscalls — never getpid.
var ruleTypes = []event.Type{
	event.TypeOpen, event.TypeOpenat, event.TypeOpenat2, event.TypeCreat,
	event.TypeUnlink, event.TypeUnlinkat, event.TypeRename, event.TypeRenameat, event.TypeRenameat2,
	event.TypeMkdir, event.TypeMkdirat, event.TypeConnect, event.TypeAccept, event.TypeAccept4,
	event.TypeSetns, event.TypeUnshare, event.TypePtrace, event.TypeMount, event.TypeSetuid,
}

// attach opens the probe with ruleTypes and drains it until the benchmark
// ends, returning the number of records read.
func attach(b *testing.B) (*Probe, *atomic.Uint64) {
	b.Helper()
	requireBPF(b)
	p, err := Open(Options{Types: ruleTypes})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx, func(*Record) { n.Add(1) })
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		p.Close()
	})
	return p, &n
}

// perOp returns the CPU time per call of k calls of fn on this thread
// (user + kernel, CLOCK_THREAD_CPUTIME_ID): the probe's programs run on
// the calling thread, so their cost is included, while time spent waiting
// for a CPU on a shared machine is not.
func perOp(fn func(), k int) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var t0, t1 unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0)
	for range k {
		fn()
	}
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1)
	return time.Duration(t1.Nano()-t0.Nano()) / time.Duration(k)
}

// BenchmarkOverhead measures each workload alternately without and with
// the probe attached (ruleTypes, a record consumer draining the ring
// buffer), in several rounds, and reports the ratio of the fastest
// attached round to the fastest bare round: on a shared, noisy machine the
// minimum is the stable estimate of each cost.
func BenchmarkOverhead(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, nil, 0o600)
	workloads := []struct {
		name  string
		k     int // ops per round
		fn    func()
		types []event.Type
	}{
		{"getpid", 1_000_000, func() { unix.Getpid() }, ruleTypes},
		// Only the process-lifecycle hooks (sched tp_btf + sys_exit_execve):
		// what any syscall tracepoint costs every syscall.
		{"getpid-lifecycle-only", 1_000_000, func() { unix.Getpid() }, []event.Type{}},
		{"openat+close", 100_000, func() {
			fd, err := unix.Open(path, unix.O_RDONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
		}, ruleTypes},
		// exec's cost is mostly in the child, outside this thread's CPU
		// time: its figure is the parent's side (fork, wait) only.
		{"execve-true", 200, func() { exec.Command("/bin/true").Run() }, ruleTypes},
	}
	const rounds = 4
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			requireBPF(b)
			bare, with := time.Duration(1<<62), time.Duration(1<<62)
			for b.Loop() {
				for range rounds {
					bare = min(bare, perOp(w.fn, w.k))
					b.StopTimer()
					p, stop := attachProbe(b, w.types)
					b.StartTimer()
					with = min(with, perOp(w.fn, w.k))
					b.StopTimer()
					stop()
					p.Close()
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(bare.Nanoseconds()), "bare-ns/op")
			b.ReportMetric(float64(with.Nanoseconds()), "probe-ns/op")
			b.ReportMetric(float64(with)/float64(bare), "ratio")
		})
	}
}

// attachProbe opens the probe for types with a draining reader; stop
// ends the reader.
func attachProbe(b *testing.B, types []event.Type) (*Probe, func()) {
	p, err := Open(Options{Types: types})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx, func(*Record) {})
	}()
	return p, func() { cancel(); <-done }
}

// BenchmarkEventRate drives openat+close as fast as two goroutines can and
// reports the captured event rate and how many records the ring buffer
// dropped.
func BenchmarkEventRate(b *testing.B) {
	p, read := attach(b)
	path := filepath.Join(b.TempDir(), "f")
	os.WriteFile(path, nil, 0o600)
	before, _ := p.Counts()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			fd, err := unix.Open(path, unix.O_RDONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
		}
	})
	el := time.Since(start)
	after, _ := p.Counts()
	seen := after.TotalSeen() - before.TotalSeen()
	b.ReportMetric(float64(seen)/el.Seconds(), "events/s")
	b.ReportMetric(float64(after.TotalDropped()-before.TotalDropped()), "dropped")
	_ = read
}

// BenchmarkOpenAllTypes loads and attaches the probe for every event type
// it captures (the cost the sensor pays at start, mostly the kernel's
// verifier), then closes it.
func BenchmarkOpenAllTypes(b *testing.B) {
	var all []event.Type
	for t := event.Type(1); t < event.NumTypes; t++ {
		all = append(all, t)
	}
	benchOpen(b, all)
}

// BenchmarkOpenOfficialTypes does the same for the event types the three
// official rules files need with their default selection, as the sensor
// loads them.
func BenchmarkOpenOfficialTypes(b *testing.B) {
	rs, err := rules.LoadFiles(rules.Config{}, "../rules/testdata/falco_rules.yaml",
		"../rules/testdata/falco-incubating_rules.yaml", "../rules/testdata/falco-sandbox_rules.yaml")
	if err != nil {
		b.Fatal(err)
	}
	benchOpen(b, engine.New(rs, engine.Options{}).EventTypes())
}

func benchOpen(b *testing.B, types []event.Type) {
	requireBPF(b)
	for i := 0; i < b.N; i++ {
		p, err := Open(Options{Types: types})
		if err != nil {
			b.Fatal(err)
		}
		p.Close()
	}
}
