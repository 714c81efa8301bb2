package embedded

import (
	"strings"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// DefaultDedupeWindow is how long an appended alert's uuid is remembered so
// a retried append of it is not stored twice.
const DefaultDedupeWindow = 5 * time.Minute

// dedupe remembers the IDs of recently appended uuids, oldest first, for
// window (by the store's clock). At a sender's sustained rate that is
// millions of entries, so a canonical uuid (what Saker's sensor sends) is
// kept as its 16 bytes: no string to hash at length, and maps and lists
// without pointers, which the collector does not scan. Any other uuid is
// kept as it was sent.
type dedupe struct {
	window time.Duration
	ids    map[uuidKey]eventID
	order  []seenKey
	// others and otherOrder hold uuids that are not canonical.
	others     map[string]eventID
	otherOrder []seen
}

// uuidKey is a canonical uuid's 16 bytes.
type uuidKey [16]byte

// eventID is an event's ID as numbers: formatted only when a retry asks.
type eventID struct{ ms, seq uint64 }

func (id eventID) String() string { return store.FormatID(id.ms, id.seq) }

type seenKey struct {
	key uuidKey
	id  eventID
	at  int64 // unix ms
}

type seen struct {
	uuid string
	id   eventID
	at   int64 // unix ms
}

func newDedupe(window time.Duration) *dedupe {
	return &dedupe{window: window, ids: map[uuidKey]eventID{}, others: map[string]eventID{}}
}

// canonicalUUID returns the bytes of a uuid in its canonical text form
// (8-4-4-4-12 lower-case hex digits). Upper-case or other forms are not
// canonical: they stay strings, so two spellings stay two uuids, as a
// string comparison has it.
func canonicalUUID(s string) (k uuidKey, ok bool) {
	if len(s) != 36 {
		return k, false
	}
	j := 0
	for i := 0; i < 36; {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return k, false
			}
			i++
			continue
		}
		hi, ok1 := lowerHex(s[i])
		lo, ok2 := lowerHex(s[i+1])
		if !ok1 || !ok2 {
			return k, false
		}
		k[j] = hi<<4 | lo
		i, j = i+2, j+1
	}
	return k, true
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// lookup returns the ID stored for uuid within the window.
func (d *dedupe) lookup(uuid string, now time.Time) (string, bool) {
	if d.window <= 0 || uuid == "" {
		return "", false
	}
	d.expire(now)
	var id eventID
	var ok bool
	if k, canon := canonicalUUID(uuid); canon {
		id, ok = d.ids[k]
	} else {
		id, ok = d.others[uuid]
	}
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
	if k, canon := canonicalUUID(uuid); canon {
		if _, ok := d.ids[k]; !ok {
			d.ids[k] = id
			d.order = append(d.order, seenKey{key: k, id: id, at: at})
		}
		return
	}
	if _, ok := d.others[uuid]; !ok {
		// A copy: uuid may point into a larger buffer (a request body,
		// a log record read at open) that it would keep alive.
		uuid = strings.Clone(uuid)
		d.others[uuid] = id
		d.otherOrder = append(d.otherOrder, seen{uuid: uuid, id: id, at: at})
	}
}

// forget drops uuid's entry if it still names id (its write failed).
func (d *dedupe) forget(uuid string, id eventID) {
	if k, canon := canonicalUUID(uuid); canon {
		if got, ok := d.ids[k]; ok && got == id {
			delete(d.ids, k)
		}
		return
	}
	if got, ok := d.others[uuid]; ok && got == id {
		delete(d.others, uuid)
	}
}

func (d *dedupe) expire(now time.Time) {
	cut := now.Add(-d.window).UnixMilli()
	d.order = expireOldest(d.order, cut, func(o seenKey) int64 { return o.at }, func(o seenKey) {
		if d.ids[o.key] == o.id {
			delete(d.ids, o.key)
		}
	})
	d.otherOrder = expireOldest(d.otherOrder, cut, func(o seen) int64 { return o.at }, func(o seen) {
		if d.others[o.uuid] == o.id {
			delete(d.others, o.uuid)
		}
	})
}

// expireOldest drops the entries of order (oldest first) seen before cut,
// calling drop for each, and returns what is left.
func expireOldest[T any](order []T, cut int64, at func(T) int64, drop func(T)) []T {
	n := 0
	for n < len(order) && at(order[n]) < cut {
		drop(order[n])
		n++
	}
	if n == 0 {
		return order
	}
	clear(order[:n])
	order = order[n:]
	if cap(order) > 2*len(order)+1024 {
		order = append([]T(nil), order...)
	}
	return order
}
