package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub/api"
)

// item is one stored event, JSON-encoded once for every browser.
type item struct {
	id  string
	raw json.RawMessage
}

// subscriber is one browser's bounded queue of live events. The
// broadcaster only ever appends under a short lock, so a slow browser can
// never slow the hub: when its queue is full it is marked lagged and its
// queue dropped; its websocket writer then tells it and disconnects it.
type subscriber struct {
	mu     sync.Mutex
	q      []item
	max    int
	lagged bool
	notify chan struct{} // capacity 1: "the queue changed"
	gone   chan struct{} // closed when the broadcaster shuts down
	tab    string        // the browser tab's id, "" when it sent none
}

func (s *subscriber) push(items []item) {
	s.mu.Lock()
	switch {
	case s.lagged:
	case len(s.q)+len(items) > s.max:
		s.lagged, s.q = true, nil
	default:
		s.q = append(s.q, items...)
	}
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// take empties the queue.
func (s *subscriber) take() (items []item, lagged bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	items, s.q = s.q, nil
	return items, s.lagged
}

// broadcaster runs one Tail over the store for the whole process while at
// least one browser is connected, and fans every new event out to the
// subscribers' queues. It stops when the last browser leaves so an idle
// dashboard costs nothing at high ingest rates.
type broadcaster struct {
	st  Store
	log *slog.Logger

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	gen    int           // bumps on every start so a stopped tail cannot publish
	cancel func()        // stops the running tail
	ready  chan struct{} // closed once pos is known for the running tail
	pos    string        // newest event ID the running tail has published
	closed bool
	gone   chan struct{}
}

func newBroadcaster(st Store, log *slog.Logger) *broadcaster {
	return &broadcaster{st: st, log: log, subs: map[*subscriber]struct{}{}, gone: make(chan struct{})}
}

// subscribe registers a queue of the given size and returns it with a
// position: every event with an ID after pos will be pushed to the queue,
// so a browser replaying from the store up to pos and then reading the
// queue sees no gap.
func (b *broadcaster) subscribe(ctx context.Context, size int, tab string) (*subscriber, string, error) {
	s := &subscriber{max: size, notify: make(chan struct{}, 1), gone: b.gone, tab: tab}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, "", context.Canceled
	}
	b.subs[s] = struct{}{}
	if b.cancel == nil {
		b.start()
	}
	ready := b.ready
	b.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
		b.unsubscribe(s)
		return nil, "", ctx.Err()
	}
	b.mu.Lock()
	pos := b.pos
	b.mu.Unlock()
	return s, pos, nil
}

func (b *broadcaster) unsubscribe(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, s)
	if len(b.subs) == 0 && b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
}

// clients reports how many browser tabs are subscribed: sockets of one
// tab (an old one not yet noticed closed and its replacement) count once.
func (b *broadcaster) clients() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	tabs := map[string]bool{}
	n := 0
	for s := range b.subs {
		if s.tab == "" {
			n++
		} else if !tabs[s.tab] {
			tabs[s.tab] = true
			n++
		}
	}
	return n
}

// start launches the tail; b.mu is held.
func (b *broadcaster) start() {
	ctx, cancel := context.WithCancel(context.Background())
	b.gen++
	b.cancel, b.ready, b.pos = cancel, make(chan struct{}), ""
	go b.run(ctx, b.gen, b.ready)
}

func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.cancel != nil {
		b.cancel()
		b.cancel = nil
	}
	close(b.gone)
}

// head returns the newest stored event ID by arrival, "0" for an empty
// store: the feed pushes what arrives after it. (Query's newest is by
// event time: a late alert arriving last is not it.)
func (b *broadcaster) head(ctx context.Context) (string, error) {
	return b.st.Head(ctx)
}

func (b *broadcaster) run(ctx context.Context, gen int, ready chan struct{}) {
	backoff := func(err error, what string) bool {
		b.log.Warn("dashboard live feed: "+what, "err", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Second):
			return true
		}
	}
	var pos string
	for {
		h, err := b.head(ctx)
		if err == nil {
			pos = h
			break
		}
		if ctx.Err() != nil || !backoff(err, "read newest event") {
			return
		}
	}
	b.mu.Lock()
	if b.gen != gen {
		b.mu.Unlock()
		return
	}
	b.pos = pos
	close(ready)
	b.mu.Unlock()

	for ctx.Err() == nil {
		evs, err := b.st.Tail(ctx, pos, 1024, 2*time.Second)
		if err != nil {
			if ctx.Err() != nil || !backoff(err, "tail store") {
				return
			}
			continue
		}
		if len(evs) == 0 {
			continue
		}
		items := make([]item, 0, len(evs))
		for i := range evs {
			raw, err := json.Marshal(api.Listed(&evs[i]))
			if err != nil {
				b.log.Warn("dashboard live feed: encode event", "id", evs[i].ID, "err", err)
				continue
			}
			items = append(items, item{id: evs[i].ID, raw: raw})
		}
		pos = evs[len(evs)-1].ID
		b.mu.Lock()
		if b.gen != gen {
			b.mu.Unlock()
			return
		}
		for s := range b.subs {
			s.push(items)
		}
		b.pos = pos
		b.mu.Unlock()
	}
}
