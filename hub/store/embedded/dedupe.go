package embedded

import (
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// DefaultDedupeWindow is how long an appended alert's uuid is remembered so
// a retried append of it is not stored twice.
const DefaultDedupeWindow = 5 * time.Minute

// dedupe remembers the IDs of recently appended uuids, oldest first, for
// window (by the store's clock).
type dedupe struct {
	window time.Duration
	ids    map[string]eventID
	order  []seen
}

// eventID is an event's ID as numbers: formatted only when a retry asks.
type eventID struct{ ms, seq uint64 }

func (id eventID) String() string { return store.FormatID(id.ms, id.seq) }

type seen struct {
	uuid string
	id   eventID
	at   int64 // unix ms
}

func newDedupe(window time.Duration) *dedupe {
	return &dedupe{window: window, ids: map[string]eventID{}}
}

// lookup returns the ID stored for uuid within the window.
func (d *dedupe) lookup(uuid string, now time.Time) (string, bool) {
	if d.window <= 0 || uuid == "" {
		return "", false
	}
	d.expire(now)
	id, ok := d.ids[uuid]
	if !ok {
		return "", false
	}
	return id.String(), true
}

// add remembers uuid's ID, appended at unix ms at (replay passes the
// event's arrival time, so a reopened store dedupes what it held).
func (d *dedupe) add(uuid string, id eventID, at int64, now time.Time) {
	if d.window <= 0 || uuid == "" || at < now.Add(-d.window).UnixMilli() {
		return
	}
	if _, ok := d.ids[uuid]; ok {
		return
	}
	d.ids[uuid] = id
	d.order = append(d.order, seen{uuid: uuid, id: id, at: at})
}

// forget drops uuid's entry if it still names id (its write failed).
func (d *dedupe) forget(uuid string, id eventID) {
	if got, ok := d.ids[uuid]; ok && got == id {
		delete(d.ids, uuid)
	}
}

func (d *dedupe) expire(now time.Time) {
	cut := now.Add(-d.window).UnixMilli()
	n := 0
	for n < len(d.order) && d.order[n].at < cut {
		if o := d.order[n]; d.ids[o.uuid] == o.id {
			delete(d.ids, o.uuid)
		}
		n++
	}
	if n > 0 {
		clear(d.order[:n])
		d.order = d.order[n:]
		if cap(d.order) > 2*len(d.order)+1024 {
			d.order = append([]seen(nil), d.order...)
		}
	}
}
