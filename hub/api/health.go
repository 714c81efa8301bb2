package api

import (
	"context"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// healthTimeout bounds /healthz, whatever the store does (a frozen Redis
// holds a reply for its client's full read timeout).
const healthTimeout = 2 * time.Second

// writeFailWindow is how long a failed write keeps /healthz at 503 when no
// write succeeded since. It expires so that a replica a load balancer took
// out of rotation (no more writes to succeed) is tried again.
const writeFailWindow = 30 * time.Second

// writeHealth remembers how the latest store writes went: a store can
// answer reads and pings while refusing every write (a full disk, Redis
// out of memory, read-only or short of replicas), and /healthz must say so.
type writeHealth struct {
	mu       sync.Mutex
	lastOK   time.Time
	lastFail time.Time
	lastErr  string
}

func (w *writeHealth) succeeded() {
	w.mu.Lock()
	w.lastOK = time.Now()
	w.mu.Unlock()
}

func (w *writeHealth) failed(err error) {
	w.mu.Lock()
	w.lastFail, w.lastErr = time.Now(), err.Error()
	w.mu.Unlock()
}

// failing returns the latest write error when a write failed within the
// window and none succeeded after it; "" otherwise.
func (w *writeHealth) failing(now time.Time) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastFail.IsZero() || w.lastOK.After(w.lastFail) || now.Sub(w.lastFail) > writeFailWindow {
		return ""
	}
	return w.lastErr
}

// probe runs at most one store health check at a time and gives up waiting
// for it when ctx ends: probes arriving while one is stuck share it instead
// of piling up goroutines on a frozen store.
type probe struct {
	mu   sync.Mutex
	call *probeCall
}

type probeCall struct {
	done chan struct{}
	h    store.Health
}

func (p *probe) check(ctx context.Context, st Store) store.Health {
	p.mu.Lock()
	c := p.call
	if c == nil {
		c = &probeCall{done: make(chan struct{})}
		p.call = c
		go func() {
			// Bounded by the store's own timeouts, not by this request.
			hctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c.h = st.Health(hctx)
			p.mu.Lock()
			p.call = nil
			p.mu.Unlock()
			close(c.done)
		}()
	}
	p.mu.Unlock()
	select {
	case <-c.done:
		return c.h
	case <-ctx.Done():
		return store.Health{Error: "store health check did not answer within " + healthTimeout.String()}
	}
}

// throttle lets one event through per interval and counts the others.
type throttle struct {
	mu   sync.Mutex
	last time.Time
	held int
}

const throttleEvery = 10 * time.Second

// allow reports whether to log now, with how many were held back since
// the last line.
func (t *throttle) allow(now time.Time) (bool, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < throttleEvery {
		t.held++
		return false, 0
	}
	held := t.held
	t.last, t.held = now, 0
	return true, held
}
