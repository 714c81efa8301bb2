package stream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// memTail is a minimal append-only log with the Tail semantics of
// store.Store; the feed only needs Tail and a newest-first Query.
type memTail struct {
	mu   sync.Mutex
	evs  []store.Event
	wake chan struct{}
}

func newMem() *memTail { return &memTail{wake: make(chan struct{})} }

func (m *memTail) add(n int) {
	m.mu.Lock()
	for i := 0; i < n; i++ {
		m.evs = append(m.evs, store.Event{ID: store.FormatID(1000, uint64(len(m.evs)+1))})
	}
	close(m.wake)
	m.wake = make(chan struct{})
	m.mu.Unlock()
}

func (m *memTail) Query(ctx context.Context, q store.Query) (store.Page, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.evs) == 0 {
		return store.Page{}, nil
	}
	return store.Page{Events: []store.Event{m.evs[len(m.evs)-1]}}, nil
}

func (m *memTail) Tail(ctx context.Context, after string, max int, block time.Duration) ([]store.Event, error) {
	deadline := time.Now().Add(block)
	for {
		m.mu.Lock()
		var out []store.Event
		for _, e := range m.evs {
			if store.CompareIDs(e.ID, after) > 0 && len(out) < max {
				out = append(out, e)
			}
		}
		wake := m.wake
		m.mu.Unlock()
		if len(out) > 0 || block <= 0 || time.Now().After(deadline) {
			return out, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Until(deadline)):
		}
	}
}

func recv(t *testing.T, s *Subscription, n int) []string {
	t.Helper()
	var ids []string
	timeout := time.After(5 * time.Second)
	for len(ids) < n {
		select {
		case ev, ok := <-s.C:
			if !ok {
				t.Fatalf("closed after %d: %v", len(ids), s.Err())
			}
			ids = append(ids, ev.ID)
		case <-timeout:
			t.Fatalf("got %d of %d", len(ids), n)
		}
	}
	return ids
}

func start(t *testing.T, m *memTail, queue int) *Feed {
	ctx, cancel := context.WithCancel(context.Background())
	f := New(m, nil, queue)
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return f
}

func TestLiveFanOut(t *testing.T) {
	m := newMem()
	m.add(5) // existing events are not sent to live subscribers
	f := start(t, m, 0)
	ctx := context.Background()
	a, _ := f.Subscribe(ctx, "")
	b, _ := f.Subscribe(ctx, "")
	m.add(3)
	for _, s := range []*Subscription{a, b} {
		ids := recv(t, s, 3)
		if ids[0] != "1000-6" || ids[2] != "1000-8" {
			t.Fatal(ids)
		}
	}
	a.Close()
	if _, ok := <-a.C; ok {
		t.Fatal("C open after Close")
	}
	if !errors.Is(a.Err(), ErrClosed) || f.Subscribers() != 1 {
		t.Fatal(a.Err(), f.Subscribers())
	}
}

func TestResumeNoGapNoDup(t *testing.T) {
	m := newMem()
	m.add(10)
	f := start(t, m, 0)
	s, err := f.Subscribe(context.Background(), "1000-4")
	if err != nil {
		t.Fatal(err)
	}
	m.add(5)
	ids := recv(t, s, 11)
	for i, id := range ids {
		if want := store.FormatID(1000, uint64(i+5)); id != want {
			t.Fatalf("event %d = %s, want %s (%v)", i, id, want, ids)
		}
	}
}

func TestLaggedSubscriberDropped(t *testing.T) {
	m := newMem()
	f := start(t, m, 4)
	slow, _ := f.Subscribe(context.Background(), "")
	fast, _ := f.Subscribe(context.Background(), "")
	done := make(chan []string)
	go func() { done <- recv(t, fast, 20) }()
	for i := 0; i < 20; i++ {
		m.add(1)
		time.Sleep(time.Millisecond)
	}
	if ids := <-done; len(ids) != 20 {
		t.Fatal(ids)
	}
	// The slow one never read: it is dropped and told so.
	deadline := time.After(5 * time.Second)
	for slow.Err() == nil {
		select {
		case <-deadline:
			t.Fatal("slow subscriber not dropped")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if !errors.Is(slow.Err(), ErrLagged) {
		t.Fatal(slow.Err())
	}
	for range slow.C { // drains then closes
	}
	if f.Subscribers() != 1 {
		t.Fatal(f.Subscribers())
	}
}
