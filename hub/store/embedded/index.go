package embedded

import (
	"math"
	"sort"

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

// newRec builds the index entry of a stored event, held at off (n bytes)
// in the log: its arrival time comes from the ID and its event time from
// the alert (store.EventMs).
func newRec(ms, seq uint64, a *alert.Alert, raw []byte, off int64, size int64) *rec {
	return &rec{ms: ms, seq: seq, evMs: store.EventMs(a.Time, int64(ms)), off: off, n: int32(len(raw)),
		size: int32(min(size, math.MaxInt32)), flat: flat(a), m: newMeta(a, metaKey(a))}
}

// flat reports whether a has no nested output field: a text search looks
// at those in their fmt form ("map[k:v]"), which the JSON does not hold.
func flat(a *alert.Alert) bool { return !a.HasNestedField() }

// meta holds what queries filter on and stats count by, interned: events
// with the same values share one (s.metas), so an index entry costs a
// pointer rather than its strings.
type meta struct {
	// a is a skeleton alert: priority, rule, source, hostname, tags and
	// the container name and image output fields (store.Dimensions).
	a    alert.Alert
	key  string // metaKey(&a)
	refs int
	// Derived once, when first interned, rather than for every event:
	// the index lists the events go to, the priority's name and the
	// Stats dimensions.
	idxKeys []string
	prio    string
	dims    [][2]string
	// lists are s.idx's lists of idxKeys, resolved each time m is
	// interned, so publishing an event costs no map lookup per index.
	lists []*idxList
}

// idxList is one index key's events, sorted by (event time, ID).
type idxList struct{ recs []*rec }

// newMeta is the (not yet interned) meta of a, whose metaKey is key.
func newMeta(a *alert.Alert, key string) *meta { return &meta{a: skeleton(a), key: key} }

// skeleton copies the fields of a that meta keeps.
func skeleton(a *alert.Alert) alert.Alert {
	k := alert.Alert{Priority: a.Priority, Rule: a.Rule, Source: a.Source, Hostname: a.Hostname, Tags: a.Tags}
	for _, f := range [...]string{"container.name", "container.image.repository"} {
		if v, ok := a.Field(f); ok {
			if k.OutputFields == nil {
				k.OutputFields = map[string]any{}
			}
			k.OutputFields[f] = v
		}
	}
	return k
}

// metaKey identifies a skeleton: its shape's key (store.AppendShapeKey).
func metaKey(a *alert.Alert) string { return string(store.AppendShapeKey(nil, a)) }

// metaLocked returns the interned meta of a, whose metaKey is key, or a
// new one (interned when an event using it is published).
func (s *Store) metaLocked(a *alert.Alert, key []byte) *meta {
	if m := s.metas[string(key)]; m != nil {
		return m
	}
	return newMeta(a, string(key))
}

// intern replaces r's meta by the shared one with the same values. (r's
// meta may be one a previous event used and released meanwhile: it is
// interned again.)
func (s *Store) intern(r *rec) {
	m := s.metas[r.m.key]
	if m == nil {
		m = r.m
		if m.idxKeys == nil {
			m.idxKeys, m.prio, m.dims = indexKeys(&m.a), m.a.Priority.String(), store.Dimensions(&m.a)
		}
		// Resolved again at every interning: retention may have dropped
		// a list while m was not interned.
		m.lists = make([]*idxList, len(m.idxKeys))
		for i, k := range m.idxKeys {
			l := s.idx[k]
			if l == nil {
				l = &idxList{}
				s.idx[k] = l
			}
			m.lists[i] = l
		}
		s.metas[m.key] = m
	}
	m.refs++
	r.m = m
}

// release drops one reference to r's meta.
func (s *Store) release(r *rec) {
	if r.m.refs--; r.m.refs == 0 {
		delete(s.metas, r.m.key)
	}
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
		s.intern(r)
		s.evs = append(grow(s.evs), r)
		s.liveBytes += int64(r.size)
		for _, l := range r.m.lists {
			l.recs = insertByTime(cutDead(l.recs), r)
		}
		s.visMs, s.visSeq = r.ms, r.seq
		s.count(r, 1)
	}
}

// insertByTime adds r to a list sorted by event time: an append for
// alerts that arrive in time order, an insertion for a late one.
func insertByTime(l []*rec, r *rec) []*rec {
	l = grow(l)
	if len(l) == 0 || !r.less(l[len(l)-1]) {
		return append(l, r)
	}
	i := sort.Search(len(l), func(i int) bool { return r.less(l[i]) })
	l = append(l, nil)
	copy(l[i+1:], l[i:])
	l[i] = r
	return l
}

// grow makes room for one more entry in l, doubling its capacity when it
// is full: append grows a long slice by a quarter, which copies each
// entry of an ever-growing index list about four times over.
func grow(l []*rec) []*rec {
	if len(l) < cap(l) {
		return l
	}
	return append(make([]*rec, 0, 2*len(l)+8), l...)
}

// listOf is the index list of key k (nil when it has none).
func (s *Store) listOf(k string) []*rec {
	if l := s.idx[k]; l != nil {
		return l.recs
	}
	return nil
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

// count adds d to the per-minute counter of one event's meta, by event
// time.
func (s *Store) count(r *rec, d int64) {
	m := r.evMs / 60000
	c := s.minutes[m]
	if c == nil {
		c = map[*meta]int64{}
		s.minutes[m] = c
	}
	if c[r.m] += d; c[r.m] == 0 {
		delete(c, r.m)
		if len(c) == 0 {
			delete(s.minutes, m)
		}
	}
}
