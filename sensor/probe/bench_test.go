//go:build linux

package probe

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/sensor/event"
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

// perOp times k calls of fn.
func perOp(fn func(), k int) time.Duration {
	start := time.Now()
	for range k {
		fn()
	}
	return time.Since(start) / time.Duration(k)
}

// BenchmarkOverhead measures each workload with the probe attached and
// reports the ratio to the same workload timed without it (bare-ns is the
// mean of a run before attaching and one after detaching).
func BenchmarkOverhead(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "f")
	os.WriteFile(path, nil, 0o600)
	workloads := []struct {
		name string
		k    int
		fn   func()
	}{
		{"getpid", 2_000_000, func() { unix.Getpid() }},
		{"openat+close", 200_000, func() {
			fd, err := unix.Open(path, unix.O_RDONLY, 0)
			if err == nil {
				unix.Close(fd)
			}
		}},
		{"execve-true", 300, func() { exec.Command("/bin/true").Run() }},
	}
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			requireBPF(b)
			before := perOp(w.fn, w.k)
			b.StopTimer()
			p, _ := attach(b)
			b.StartTimer()
			for b.Loop() {
				w.fn()
			}
			b.StopTimer()
			with := b.Elapsed() / time.Duration(b.N)
			p.Close()
			after := perOp(w.fn, w.k)
			bare := (before + after) / 2
			b.ReportMetric(float64(bare.Nanoseconds()), "bare-ns/op")
			b.ReportMetric(float64(with)/float64(bare), "ratio")
		})
	}
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
