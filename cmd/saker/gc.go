package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// hubGCPercent is the hub's GOGC when the user sets none. The hub's live
// heap is small beside the garbage each request makes (decoded payloads,
// encodings, buffers), so the default 100 collects after every few
// thousand alerts; at 400 the collector's share of the hub's CPU falls:
// CPU per alert −3 to −20 % (most on the batch route) in an interleaved
// A/B run of make bench-hub (README, hub throughput).
const hubGCPercent = 400

// gcSettings are the collector settings the hub applies; a negative value
// leaves the runtime's own.
type gcSettings struct {
	percent int   // debug.SetGCPercent
	limit   int64 // debug.SetMemoryLimit, bytes
}

// hubGC decides the hub's collector settings. GOGC and GOMEMLIMIT, when
// set, are the user's and left alone (the runtime reads them). Otherwise
// GOGC is hubGCPercent and, as the heap may then grow to five times what
// is live, a soft memory limit of three quarters of memBytes (the
// cgroup's limit or the machine's RAM; 0 = unknown, no limit) makes the
// collector work harder before the process runs out of memory.
func hubGC(lookup func(string) (string, bool), memBytes int64) gcSettings {
	s := gcSettings{percent: -1, limit: -1}
	if _, ok := lookup("GOGC"); !ok {
		s.percent = hubGCPercent
		if _, ok := lookup("GOMEMLIMIT"); !ok && memBytes > 0 {
			s.limit = memBytes / 4 * 3
		}
	}
	return s
}

func (s gcSettings) apply() {
	if s.percent >= 0 {
		debug.SetGCPercent(s.percent)
	}
	if s.limit > 0 {
		debug.SetMemoryLimit(s.limit)
	}
}

// memoryBytes is the memory the process may use: its cgroup v2 limit when
// one is set, else the machine's RAM; 0 when neither can be read.
func memoryBytes() int64 {
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			f := strings.Fields(v) // "24576000 kB"
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil && len(f) == 2 && f[1] == "kB" {
				return n << 10
			}
		}
	}
	return 0
}
