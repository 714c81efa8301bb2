package redis

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store/redistest"
)

// recorder is a committer's write: it answers the k-th alert of a write
// with ID "<write>-<k>" and records the batch sizes; while hold is set, every
// write first reports on started and waits for release.
type recorder struct {
	mu      sync.Mutex
	batches [][]int // alerts per request, per write
	hold    bool
	started chan struct{}
	release chan struct{}
}

func (r *recorder) write(batch []*commitReq) {
	r.mu.Lock()
	w := len(r.batches)
	sizes := make([]int, len(batch))
	for i, q := range batch {
		sizes[i] = q.n
	}
	r.batches = append(r.batches, sizes)
	hold := r.hold
	r.mu.Unlock()
	if hold {
		r.started <- struct{}{}
		<-r.release
	}
	k := 0
	for _, q := range batch {
		ids := make([]string, q.n)
		for i := range ids {
			ids[i] = fmt.Sprintf("%d-%d", w, k)
			k++
		}
		q.done <- commitRes{ids: ids}
	}
}

func (r *recorder) writes() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// queued waits until n commits are queued behind the writes in flight.
func queued(t *testing.T, c *committer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.pending)
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d commits queued, want %d", got, n)
		}
		runtime.Gosched()
	}
}

type outcome struct {
	ids []string
	err error
}

// Commits arriving while every write slot is busy go out together in the
// next write (up to max alerts each), each caller gets its own IDs, and a
// lone commit is written at once.
func TestCommitterCoalescesWhileWriting(t *testing.T) {
	r := &recorder{hold: true, started: make(chan struct{}), release: make(chan struct{})}
	c := newCommitter(1, 5, r.write)
	ctx := context.Background()
	first := make(chan outcome, 1)
	go func() {
		ids, err := c.commit(ctx, &commitReq{n: 1})
		first <- outcome{ids, err}
	}()
	<-r.started
	const n = 7 // single alerts, then one of 3
	out := make(chan outcome, n+1)
	for i := range n + 1 {
		go func() {
			size := 1
			if i == n {
				size = 3
			}
			ids, err := c.commit(ctx, &commitReq{n: size})
			out <- outcome{ids, err}
		}()
		queued(t, c, i+1)
	}
	r.mu.Lock()
	r.hold = false
	r.mu.Unlock()
	close(r.release)
	if o := <-first; o.err != nil || !slices.Equal(o.ids, []string{"0-0"}) {
		t.Fatalf("first commit = %v, %v", o.ids, o.err)
	}
	seen := map[string]bool{}
	for range n + 1 {
		o := <-out
		if o.err != nil || len(o.ids) == 0 {
			t.Fatalf("commit = %v, %v", o.ids, o.err)
		}
		for _, id := range o.ids {
			if seen[id] {
				t.Fatalf("ID %s handed out twice", id)
			}
			seen[id] = true
		}
	}
	// 8 queued commits of 10 alerts with max 5: the first write in flight,
	// then 5 single alerts, then 2 singles and the 3 (queue order).
	want := [][]int{{1}, {1, 1, 1, 1, 1}, {1, 1, 3}}
	if got := r.writes(); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("writes %v, want %v", got, want)
	}
	// Nothing in flight: the next commit is a write of its own.
	if ids, err := c.commit(ctx, &commitReq{n: 2}); err != nil || len(ids) != 2 {
		t.Fatalf("lone commit = %v, %v", ids, err)
	}
	if got := r.writes(); len(got) != 4 || !slices.Equal(got[3], []int{2}) {
		t.Fatalf("writes after a lone commit %v", got)
	}
}

// close waits for every accepted commit to be written (none is dropped
// unanswered) and refuses later ones; a caller whose context ended before
// it committed is not written.
func TestCommitterClose(t *testing.T) {
	r := &recorder{hold: true, started: make(chan struct{}), release: make(chan struct{})}
	c := newCommitter(1, 100, r.write)
	ctx := context.Background()
	out := make(chan outcome, 3)
	go func() {
		ids, err := c.commit(ctx, &commitReq{n: 1})
		out <- outcome{ids, err}
	}()
	<-r.started
	for i := range 2 {
		go func() {
			ids, err := c.commit(ctx, &commitReq{n: 1})
			out <- outcome{ids, err}
		}()
		queued(t, c, i+1)
	}
	closed := make(chan struct{})
	go func() {
		c.close()
		close(closed)
	}()
	// close is waiting on the writes: a new commit is refused meanwhile.
	for {
		c.mu.Lock()
		isClosed := c.closed
		c.mu.Unlock()
		if isClosed {
			break
		}
		runtime.Gosched()
	}
	if _, err := c.commit(ctx, &commitReq{n: 1}); !errors.Is(err, errClosed) {
		t.Fatalf("commit while closing: %v, want errClosed", err)
	}
	r.mu.Lock()
	r.hold = false
	r.mu.Unlock()
	close(r.release)
	for range 3 {
		if o := <-out; o.err != nil || len(o.ids) != 1 {
			t.Fatalf("accepted commit = %v, %v", o.ids, o.err)
		}
	}
	<-closed
	if got := r.writes(); len(got) != 2 {
		t.Fatalf("writes %v, want the one in flight and the queued two together", got)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	c2 := newCommitter(1, 100, r.write)
	if _, err := c2.commit(cctx, &commitReq{n: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("commit with an ended context: %v", err)
	}
	if got := r.writes(); len(got) != 2 {
		t.Fatalf("a commit with an ended context was written: %v", got)
	}
}

// An Append after Redis forgot the append script (SCRIPT FLUSH, a restart
// without persistence of scripts) loads it again and stores the alert.
func TestAppendAfterScriptFlush(t *testing.T) {
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}})
	ctx := context.Background()
	if _, err := s.Append(ctx, []alert.Alert{sample(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	ids, err := s.Append(ctx, []alert.Alert{sample(2)})
	if err != nil || len(ids) != 1 {
		t.Fatalf("Append after SCRIPT FLUSH: %v, %v", ids, err)
	}
	if e, err := s.Get(ctx, ids[0]); err != nil || e.UUID != "u2" {
		t.Fatalf("Get(%s) = %+v, %v", ids[0], e, err)
	}
}

// The buffers entries are compressed into are reused only once their
// script run has returned: concurrent Appends of distinct alerts each read
// back their own body.
func TestConcurrentAppendsKeepTheirBodies(t *testing.T) {
	s := newT(t, Options{Addresses: []string{redistest.Addr(t)}})
	ctx := context.Background()
	const senders, each = 16, 40
	ids := make([][]string, senders)
	var wg sync.WaitGroup
	for g := 0; g < senders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				a := sample(g*each + i)
				a.UUID = fmt.Sprintf("g%d-%d", g, i)
				// compressible, and different in each alert
				a.Output = strings.Repeat(a.UUID+" wrote below /etc ", 40+i)
				got, err := s.Append(ctx, []alert.Alert{a})
				if err != nil {
					t.Error(err)
					return
				}
				ids[g] = append(ids[g], got...)
			}
		}()
	}
	wg.Wait()
	for g := range ids {
		for i, id := range ids[g] {
			uuid := fmt.Sprintf("g%d-%d", g, i)
			e, err := s.Get(ctx, id)
			if err != nil || e.UUID != uuid || e.Output != strings.Repeat(uuid+" wrote below /etc ", 40+i) {
				t.Fatalf("Get(%s) = %s %.40q…, %v; want %s", id, e.UUID, e.Output, err, uuid)
			}
		}
	}
}
