package embedded

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// Appends, claims, acks and reads complete while a compaction copies the
// retained events (it used to hold the store lock throughout, so every
// append waited for it); the records they made during it are in the new
// log, readable at their moved offsets and replayed once after a restart.
func TestAppendsDuringCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	ctx := context.Background()
	l, err := s.Deliveries(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := s.Append(ctx, []alert.Alert{sample(fmt.Sprintf("old%03d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := l.Claim(ctx, "c", 2, time.Minute, 0)
	if err != nil || len(first) != 2 {
		t.Fatalf("Claim: %d, %v", len(first), err)
	}

	copying, release := make(chan struct{}), make(chan struct{})
	s.duringCompaction = func() {
		close(copying)
		<-release
	}
	compacted := make(chan error, 1)
	go func() { compacted <- s.compact(false) }()
	<-copying

	// More than tailChunk, so part of it is copied before the swap and
	// part during it.
	var during []string
	pad := strings.Repeat("p", 1000)
	for i := 0; i < 1200; i += 10 {
		batch := make([]alert.Alert, 10)
		for j := range batch {
			batch[j] = sample(fmt.Sprintf("new%04d", i+j))
			batch[j].Output = pad
			during = append(during, batch[j].UUID)
		}
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Ack(ctx, first[0].ID); err != nil {
		t.Fatal(err)
	}
	second, err := l.Claim(ctx, "c", 1, time.Minute, 0)
	if err != nil || len(second) != 1 {
		t.Fatalf("Claim during compaction: %d, %v", len(second), err)
	}
	if got := uuids(t, s); got[0] != "new1199" {
		t.Fatalf("query during compaction: newest %v", got[:1])
	}
	select {
	case err := <-compacted:
		t.Fatalf("compaction finished before it was released: %v", err)
	default:
	}
	close(release)
	if err := <-compacted; err != nil {
		t.Fatal(err)
	}

	// Read from the new file: the events appended during the copy moved.
	check := func(s *Store) {
		t.Helper()
		for _, u := range []string{"old000", "old299", "new0000", "new0600", "new1199"} {
			p, err := s.Query(ctx, store.Query{Filter: store.Filter{UUIDs: []string{u}}, Limit: 10})
			if err != nil || len(p.Events) != 1 || p.Events[0].UUID != u {
				t.Fatalf("query %s after compaction: %+v, %v", u, p.Events, err)
			}
		}
		if h := s.Health(ctx); h.Events != 1500 {
			t.Fatalf("%d events after compaction, want 1500", h.Events)
		}
	}
	check(s)
	s.Close()
	s2 := openT(t, Options{Dir: dir})
	check(s2)
	// old000 was acked during the compaction; old001 and old002 (claimed
	// during it) were claimed once each.
	l2, _ := s2.Deliveries(ctx, "g")
	again, err := l2.Claim(ctx, "c2", 3, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range again {
		got = append(got, fmt.Sprintf("%s/%d", d.UUID, d.Attempts))
	}
	if want := []string{"old001/2", "old002/2", "old003/1"}; !slices.Equal(got, want) {
		t.Errorf("after a restart, claims = %v, want %v", got, want)
	}
}

// A claim is applied in memory when it is queued; one still queued when a
// compaction takes its snapshot would be counted by the snapshot and then
// replayed from the log a second time: after a restart, its event's next
// delivery would say attempt 3 instead of 2. (Reported last session; main
// had stopped showing it since Claim took the file lock that kept the old
// compaction out. The compaction that no longer holds the store's locks
// must drain the queue before its snapshot: without that, this fails.)
func TestClaimQueuedAtCompactionCountedOnce(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	ctx := context.Background()
	l, err := s.Deliveries(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []alert.Alert{sample("a"), sample("b")}); err != nil {
		t.Fatal(err)
	}
	// Hold a flush in flight, so the claim waits in the queue.
	lead := holdAppend(s, sample("c"))
	ds, err := l.Claim(ctx, "c", 1, time.Minute, 0)
	if err != nil || len(ds) != 1 || ds[0].UUID != "a" || ds[0].Attempts != 1 {
		t.Fatalf("Claim: %+v, %v", ds, err)
	}
	if q := s.queued(); q != 1 {
		t.Fatalf("%d records queued behind the flush, want the claim", q)
	}
	compacted := make(chan error, 1)
	go func() { compacted <- s.compact(false) }()
	lead.Release()
	if err := <-compacted; err != nil {
		t.Fatal(err)
	}
	if err := lead.Wait(); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s2 := openT(t, Options{Dir: dir})
	l2, err := s2.Deliveries(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	again, err := l2.Claim(ctx, "c2", 1, 0, 0)
	if err != nil || len(again) != 1 || again[0].UUID != "a" {
		t.Fatalf("reclaim after restart: %+v, %v", again, err)
	}
	if again[0].Attempts != 2 {
		t.Errorf("redelivery of a claimed once says attempt %d, want 2", again[0].Attempts)
	}
}

// A compaction that fails (here: its new file cannot be created, as on a
// full disk) leaves the log as it was and the store usable; it used to make
// every later append fail until a restart.
func TestFailedCompactionKeepsStoreUsable(t *testing.T) {
	dir := t.TempDir()
	var logs strings.Builder
	var logMu sync.Mutex
	s := openT(t, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))})
	ctx := context.Background()
	if _, err := s.Append(ctx, []alert.Alert{sample("before")}); err != nil {
		t.Fatal(err)
	}
	// A directory where the new log file would go: creating it fails.
	if err := os.Mkdir(filepath.Join(dir, logName+".tmp"), 0o750); err != nil {
		t.Fatal(err)
	}
	s.compactInBackground()
	logMu.Lock()
	logged := logs.String()
	logMu.Unlock()
	if !strings.Contains(logged, "compaction failed") {
		t.Errorf("the failed compaction was not logged: %q", logged)
	}
	if s.compactRetry.Load() <= time.Now().UnixNano() {
		t.Error("no pause before the janitor tries again")
	}
	if h := s.Health(ctx); !h.OK {
		t.Fatalf("unhealthy after a failed compaction: %s", h.Error)
	}
	if _, err := s.Append(ctx, []alert.Alert{sample("after")}); err != nil {
		t.Fatalf("append after a failed compaction: %v", err)
	}
	os.Remove(filepath.Join(dir, logName+".tmp"))
	if err := s.compact(false); err != nil {
		t.Fatalf("compaction once possible again: %v", err)
	}
	s.Close()
	s2 := openT(t, Options{Dir: dir})
	if got := uuids(t, s2); !slices.Equal(got, []string{"after", "before"}) {
		t.Fatalf("after reopen: %v", got)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// The log a compaction replaced is closed with no lock held: it is unlinked
// by then, and closing it frees its page cache, which took 0.4 s for 512 MiB
// here; under the store's lock every append waited for it.
func TestOldLogClosedOutsideTheLock(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	if _, err := s.Append(ctx, []alert.Alert{sample("a")}); err != nil {
		t.Fatal(err)
	}
	called := false
	s.closingOldLog = func() {
		called = true
		if !s.mu.TryLock() {
			t.Error("the store is locked while the old log is closed")
			return
		}
		s.mu.Unlock()
		if !s.fileMu.TryLock() {
			t.Error("readers are locked out while the old log is closed")
			return
		}
		s.fileMu.Unlock()
	}
	if err := s.compact(false); err != nil {
		t.Fatal(err)
	}
	if !called {
		t.Fatal("compaction closed no old log")
	}
	if _, err := s.Append(ctx, []alert.Alert{sample("b")}); err != nil {
		t.Fatal(err)
	}
	if got := uuids(t, s); !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("after compaction: %v", got)
	}
}
