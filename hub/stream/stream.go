// Package stream fans newly stored alerts out to many subscribers (the
// dashboard's websockets). One loop per hub reads the store's tail, so it
// sees alerts stored by every replica sharing the store, and publishes each
// batch to every subscriber without blocking: a subscriber has a bounded
// queue, and one that falls behind is told (ErrLagged) and dropped instead
// of slowing the others or growing memory.
//
// A subscriber may resume after an event ID (a reconnecting websocket): it
// is first replayed the stored events after that ID, then switched to the
// live feed without gaps or duplicates.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// Tailer is the part of store.Store the feed reads.
type Tailer interface {
	Tail(ctx context.Context, after string, max int, block time.Duration) ([]store.Event, error)
	Query(ctx context.Context, q store.Query) (store.Page, error)
}

// ErrLagged is a subscription's error when it was dropped for not keeping up.
var ErrLagged = errors.New("subscriber lagged behind the live feed and was dropped")

// ErrClosed is a subscription's error after Close or when the feed stopped.
var ErrClosed = errors.New("subscription closed")

// DefaultQueue is the per-subscriber queue length.
const DefaultQueue = 1024

// maxReplay bounds a resume: a subscriber further behind than this is told
// it lagged rather than replayed the whole store.
const maxReplay = 10000

// Feed is the live feed of stored events.
type Feed struct {
	src   Tailer
	log   *slog.Logger
	queue int

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	head    string // ID of the newest event published
	started chan struct{}
	stopped bool
}

// New returns a feed over src; queue is the per-subscriber queue length
// (0 = DefaultQueue). Call Run to start it.
func New(src Tailer, logger *slog.Logger, queue int) *Feed {
	if queue <= 0 {
		queue = DefaultQueue
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Feed{src: src, log: logger, queue: queue, subs: map[*Subscription]struct{}{}, started: make(chan struct{})}
}

// Run tails the store and publishes until ctx ends, then closes every
// subscription with ErrClosed.
func (f *Feed) Run(ctx context.Context) error {
	defer f.closeAll()
	// Start after the newest stored event rather than at "$": with "$"
	// events stored between two Tail calls would be missed.
	head := "0"
	for {
		p, err := f.src.Query(ctx, store.Query{Limit: 1})
		if err == nil {
			if len(p.Events) > 0 {
				head = p.Events[0].ID
			}
			break
		}
		f.log.Warn("stream: find newest event", "err", err)
		if !sleep(ctx, time.Second) {
			return nil
		}
	}
	f.mu.Lock()
	f.head = head
	close(f.started)
	f.mu.Unlock()

	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		evs, err := f.src.Tail(ctx, head, 512, time.Second)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			f.log.Warn("stream: tail store", "err", err)
			if !sleep(ctx, backoff) {
				break
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(evs) == 0 {
			continue
		}
		head = evs[len(evs)-1].ID
		f.publish(evs)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// publish hands evs to every subscriber without blocking.
func (f *Feed) publish(evs []store.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.head = evs[len(evs)-1].ID
	for s := range f.subs {
		for _, ev := range evs {
			select {
			case s.in <- ev:
			default:
				delete(f.subs, s)
				s.end(ErrLagged)
				f.log.Info("stream: dropped lagging subscriber", "queue", f.queue)
			}
			if s.isDone() {
				break
			}
		}
	}
}

func (f *Feed) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = true
	for s := range f.subs {
		delete(f.subs, s)
		s.end(ErrClosed)
	}
}

// Subscribers reports how many subscriptions are live.
func (f *Feed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// Subscription receives events in store order on C until it ends; then C is
// closed and Err says why.
type Subscription struct {
	// C delivers events oldest first.
	C <-chan store.Event

	in   chan store.Event
	out  chan store.Event
	feed *Feed
	done chan struct{}
	once sync.Once
	err  error
}

func (s *Subscription) end(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

func (s *Subscription) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Err reports why the subscription ended (ErrLagged, ErrClosed or a store
// error during replay); nil while it is live.
func (s *Subscription) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.feed.mu.Lock()
	delete(s.feed.subs, s)
	s.feed.mu.Unlock()
	s.end(ErrClosed)
}

// Subscribe starts a subscription. With after == "" it receives events
// stored from now on; otherwise it first receives the stored events after
// that ID (a resume), then live ones. ctx bounds the wait for the feed to
// start.
func (f *Feed) Subscribe(ctx context.Context, after string) (*Subscription, error) {
	select {
	case <-f.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s := &Subscription{
		in:   make(chan store.Event, f.queue),
		out:  make(chan store.Event),
		feed: f,
		done: make(chan struct{}),
	}
	s.C = s.out
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return nil, ErrClosed
	}
	// Registering before the replay means nothing published from here on
	// is missed; the pump skips what the replay already delivered.
	f.subs[s] = struct{}{}
	head := f.head
	f.mu.Unlock()
	if after == "" || after == "$" {
		after = head
	}
	go s.pump(after, head)
	return s, nil
}

// pump replays stored events in (after, head] and then forwards the live
// queue, skipping events the replay covered.
func (s *Subscription) pump(after, head string) {
	defer close(s.out)
	last := after
	if store.CompareIDs(after, head) < 0 {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.done:
			case <-ctx.Done():
			}
			cancel()
		}()
		replayed := 0
		for store.CompareIDs(last, head) < 0 {
			evs, err := s.feed.src.Tail(ctx, last, 256, 0)
			if err != nil {
				cancel()
				s.feed.mu.Lock()
				delete(s.feed.subs, s)
				s.feed.mu.Unlock()
				s.end(fmt.Errorf("replay after %s: %w", last, err))
				return
			}
			if len(evs) == 0 {
				break
			}
			for _, ev := range evs {
				if store.CompareIDs(ev.ID, head) > 0 {
					break // the live queue has it
				}
				select {
				case s.out <- ev:
				case <-s.done:
					cancel()
					return
				}
				last = ev.ID
				replayed++
			}
			if replayed > maxReplay {
				cancel()
				s.feed.mu.Lock()
				delete(s.feed.subs, s)
				s.feed.mu.Unlock()
				s.end(ErrLagged)
				return
			}
			if store.CompareIDs(evs[len(evs)-1].ID, head) >= 0 {
				break
			}
		}
		cancel()
	}
	for {
		select {
		case ev := <-s.in:
			if store.CompareIDs(ev.ID, last) <= 0 {
				continue
			}
			select {
			case s.out <- ev:
				last = ev.ID
			case <-s.done:
				return
			}
		case <-s.done:
			// Drain what was queued before a lag so the subscriber can
			// still show it, but never block on it.
			return
		}
	}
}
