package embedded

import (
	"sort"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// Indexes. evs holds the visible events in arrival (ID) order, for Tail,
// deliveries and retention. Queries and Stats go by event time (see
// store.Position): idx maps each index key to its events sorted by
// (event time, ID), the key "" holding every event. Retention marks the
// records it drops dead; lists lose their leading dead records as they
// grow and on each retention pass, and readers skip the others.

// allKey is the index list of every event.
const allKey = ""

// newRec builds the record of a stored event: its arrival time comes from
// the ID and its event time from the alert (store.EventMs).
func newRec(ms, seq uint64, ev store.Event, size int64) *rec {
	ev.Received = time.UnixMilli(int64(ms)).UTC()
	return &rec{ms: ms, seq: seq, evMs: ev.EventMs(), ev: ev, size: size}
}

// less orders records by event time, then ID.
func (r *rec) less(o *rec) bool {
	if r.evMs != o.evMs {
		return r.evMs < o.evMs
	}
	return r.before(o.ms, o.seq)
}

// beforePos reports whether r comes strictly before (older than) p in
// query order.
func (r *rec) beforePos(evMs int64, ms, seq uint64) bool {
	if r.evMs != evMs {
		return r.evMs < evMs
	}
	return r.before(ms, seq)
}

func indexKeys(a *alert.Alert) []string {
	keys := make([]string, 0, 5+len(a.Tags))
	keys = append(keys, allKey, "p\x00"+a.Priority.String(), "r\x00"+a.Rule, "s\x00"+a.Source, "h\x00"+a.Hostname)
	for _, t := range a.Tags {
		keys = append(keys, "t\x00"+t)
	}
	return keys
}

func (s *Store) publishRecs(recs []*rec) {
	for _, r := range recs {
		s.evs = append(s.evs, r)
		s.liveBytes += r.size
		for _, k := range indexKeys(&r.ev.Alert) {
			s.idx[k] = insertByTime(cutDead(s.idx[k]), r)
		}
		s.visMs, s.visSeq = r.ms, r.seq
		s.count(r, 1)
	}
}

// insertByTime adds r to a list sorted by event time: an append for
// alerts that arrive in time order, an insertion for a late one.
func insertByTime(l []*rec, r *rec) []*rec {
	if len(l) == 0 || !r.less(l[len(l)-1]) {
		return append(l, r)
	}
	i := sort.Search(len(l), func(i int) bool { return r.less(l[i]) })
	l = append(l, nil)
	copy(l[i+1:], l[i:])
	l[i] = r
	return l
}

// cutDead drops a list's leading dead records, copying when they were
// most of it so the memory is released.
func cutDead(l []*rec) []*rec {
	cut := 0
	for cut < len(l) && l[cut].dead {
		cut++
	}
	switch {
	case cut == 0:
		return l
	case cut > len(l)/2:
		return append([]*rec(nil), l[cut:]...)
	}
	clear(l[:cut])
	return l[cut:]
}

// count adds d to the per-minute counters of one event, by event time.
func (s *Store) count(r *rec, d int64) {
	m := r.evMs / 60000
	c := s.minutes[m]
	if c == nil {
		c = map[string]int64{}
		s.minutes[m] = c
	}
	a := &r.ev.Alert
	c["p:"+a.Priority.String()] += d
	for _, dim := range store.Dimensions(a) {
		k := dim[0] + ":" + dim[1]
		if c[k] += d; c[k] == 0 {
			delete(c, k)
		}
	}
	if c["p:"+a.Priority.String()] == 0 {
		delete(c, "p:"+a.Priority.String())
		if len(c) == 0 {
			delete(s.minutes, m)
		}
	}
}
