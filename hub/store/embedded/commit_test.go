package embedded

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
)

// heldAppend is an Append whose flush is held before its write.
type heldAppend struct {
	release chan struct{}
	done    chan error
}

// holdAppend starts appending a and returns once the append's flush is
// held before its write (through s.beforeWrite, which it sets: the first
// flush to reach it is held, later ones pass).
func holdAppend(s *Store, a alert.Alert) *heldAppend {
	h := &heldAppend{release: make(chan struct{}), done: make(chan error, 1)}
	held := make(chan struct{})
	var once sync.Once
	s.beforeWrite = func() {
		once.Do(func() {
			close(held)
			<-h.release
		})
	}
	go func() {
		_, err := s.Append(context.Background(), []alert.Alert{a})
		h.done <- err
	}()
	<-held
	return h
}

// Release lets the held flush write.
func (h *heldAppend) Release() { close(h.release) }

// Wait returns the held Append's error.
func (h *heldAppend) Wait() error { return <-h.done }

// queued is how many records wait for the next flush.
func (s *Store) queued() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.pendT)
}

// Appends that arrive while a flush is in flight go out together in the
// next one: one write() and one fsync for all of them, whatever their
// number. (Each append used to make its own write() under the store lock.)
func TestAppendsDuringFlushShareOneWrite(t *testing.T) {
	for _, policy := range []FsyncPolicy{FsyncAlways, FsyncInterval} {
		t.Run(policy.String(), func(t *testing.T) {
			s := openT(t, Options{Dir: t.TempDir(), Fsync: policy, FsyncInterval: time.Hour})
			ctx := context.Background()
			lead := holdAppend(s, sample("lead"))
			writes0, fsyncs0 := s.writes.Load(), s.fsyncs.Load()
			const n = 20
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := s.Append(ctx, []alert.Alert{sample(fmt.Sprint("f", i))})
					errs <- err
				}()
			}
			deadline := time.Now().Add(10 * time.Second)
			for s.queued() < n {
				if time.Now().After(deadline) {
					t.Fatalf("only %d of %d appends queued", s.queued(), n)
				}
				runtime.Gosched()
			}
			lead.Release()
			if err := lead.Wait(); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			// The lead append's write and fsync were not counted yet when
			// it blocked: one each for it, one each for all the others.
			if w := s.writes.Load() - writes0; w != 2 {
				t.Errorf("the lead append and %d queued ones took %d writes, want 2", n, w)
			}
			wantSyncs := int64(2)
			if policy == FsyncInterval {
				wantSyncs = 0
			}
			if f := s.fsyncs.Load() - fsyncs0; f != wantSyncs {
				t.Errorf("the lead append and %d queued ones took %d fsyncs, want %d", n, f, wantSyncs)
			}
			if got := len(uuids(t, s)); got != n+1 {
				t.Errorf("%d events stored, want %d", got, n+1)
			}
		})
	}
}

// A lone append flushes on its own goroutine: one write, one fsync, and
// with FsyncInterval no fsync before it returns; the background fsync
// follows within the interval, and Close syncs what is left.
func TestFsyncPolicy(t *testing.T) {
	ctx := context.Background()
	s := openT(t, Options{Dir: t.TempDir(), Fsync: FsyncAlways})
	if _, err := s.Append(ctx, []alert.Alert{sample("a")}); err != nil {
		t.Fatal(err)
	}
	if w, f := s.writes.Load(), s.fsyncs.Load(); w != 1 || f != 1 {
		t.Errorf("always: %d writes, %d fsyncs for one append; want 1, 1", w, f)
	}

	// The zero value, as the hub's default SAKER_FSYNC, is interval.
	s = openT(t, Options{Dir: t.TempDir(), FsyncInterval: time.Hour})
	if _, err := s.Append(ctx, []alert.Alert{sample("a")}); err != nil {
		t.Fatal(err)
	}
	if w, f := s.writes.Load(), s.fsyncs.Load(); w != 1 || f != 0 {
		t.Errorf("interval: %d writes, %d fsyncs before the append returned; want 1, 0", w, f)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f := s.fsyncs.Load(); f != 1 {
		t.Errorf("interval: Close made %d fsyncs, want 1", f)
	}

	s = openT(t, Options{Dir: t.TempDir(), Fsync: FsyncInterval, FsyncInterval: 10 * time.Millisecond})
	if _, err := s.Append(ctx, []alert.Alert{sample("a")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.fsyncs.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no background fsync within 10 s of a 10 ms interval")
		}
		runtime.Gosched()
	}
	s.mu.RLock()
	dirty := s.dirty
	s.mu.RUnlock()
	if dirty {
		t.Error("still dirty after the background fsync")
	}
}

// A failed write fails every append of its group and leaves no trace: the
// uuids are not remembered (a retry is stored, not answered with the ID of
// an alert that never reached the log), and the store takes appends again.
func TestFailedWriteForgetsItsAlerts(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	ctx := context.Background()
	s.mu.Lock()
	good := s.f
	ro, err := os.Open(good.Name()) // read-only: write() fails with EBADF
	if err != nil {
		s.mu.Unlock()
		t.Fatal(err)
	}
	s.f = ro
	s.mu.Unlock()
	if _, err := s.Append(ctx, []alert.Alert{sample("x")}); err == nil {
		t.Fatal("append succeeded on a read-only log")
	}
	s.mu.Lock()
	s.f = good
	s.mu.Unlock()
	ro.Close()
	ids, err := s.Append(ctx, []alert.Alert{sample("x")})
	if err != nil {
		t.Fatalf("retry after the failed write: %v", err)
	}
	if _, err := s.Get(ctx, ids[0]); err != nil {
		t.Fatalf("retried alert %s not stored: %v", ids[0], err)
	}
	s.Close()
	s2 := openT(t, Options{Dir: dir})
	if got := uuids(t, s2); len(got) != 1 || got[0] != "x" {
		t.Fatalf("after reopen: %v, want [x]", got)
	}
}
