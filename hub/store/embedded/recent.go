package embedded

import (
	"sync"

	"github.com/saker-sec/saker/hub/store"
)

// recentEvents keeps the last events read from the log, decoded: the live
// tail of each dashboard, each forwarder's Claim and the dashboard's
// newest page read the same new events, and decoding one (about 9 µs for a
// Falco alert) costs far more than copying it. Events never change once
// written and IDs are never reused, so an entry needs no invalidation
// (compaction moves events, not IDs). Readers get their own copy.
type recentEvents struct {
	mu   sync.Mutex
	byID map[eventID]*store.Event
	ring []eventID // insertion order; the oldest is replaced first
	next int
}

// recentSize bounds the cache: a few seconds of alerts at full ingest
// rate, a few MiB.
const recentSize = 4096

func newRecentEvents(n int) *recentEvents {
	return &recentEvents{byID: make(map[eventID]*store.Event, n), ring: make([]eventID, 0, n)}
}

// get returns a copy of the cached event id.
func (c *recentEvents) get(id eventID) (store.Event, bool) {
	c.mu.Lock()
	e, ok := c.byID[id]
	c.mu.Unlock()
	if !ok {
		return store.Event{}, false
	}
	return copyEvent(*e), true
}

// put caches a copy of e as id.
func (c *recentEvents) put(id eventID, e store.Event) {
	e = copyEvent(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[id]; ok {
		return
	}
	if len(c.ring) < cap(c.ring) {
		c.ring = append(c.ring, id)
	} else {
		delete(c.byID, c.ring[c.next])
		c.ring[c.next] = id
		c.next = (c.next + 1) % len(c.ring)
	}
	c.byID[id] = &e
}
