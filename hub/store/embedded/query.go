package embedded

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// find returns the visible, retained event with the ID, or nil.
func (s *Store) find(ms, seq uint64, now time.Time) *rec {
	lo := s.ageStart(now)
	i := lo + sort.Search(len(s.evs)-lo, func(i int) bool { return !s.evs[lo+i].before(ms, seq) })
	if i < len(s.evs) && s.evs[i].ms == ms && s.evs[i].seq == seq {
		return s.evs[i]
	}
	return nil
}

// firstAfter is the index of the first retained event with ID > (ms, seq).
func (s *Store) firstAfter(ms, seq uint64, now time.Time) int {
	lo := s.ageStart(now)
	return lo + sort.Search(len(s.evs)-lo, func(i int) bool { return s.evs[lo+i].after(ms, seq) })
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (store.Event, error) {
	ms, seq, err := store.ParseID(id)
	if err != nil {
		return store.Event{}, store.ErrNotFound
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.find(ms, seq, s.clock()); r != nil {
		return s.event(r)
	}
	return store.Event{}, store.ErrNotFound
}

// bounds limits a scan in query order: event times in [lo, hi] strictly
// before a cursor position, arrivals from cutoff on (older ones await
// retention).
type bounds struct {
	lo, hi    int64
	cur       bool // a cursor applies
	curMs     int64
	cms, cseq uint64
	cutoff    uint64
	empty     bool
}

func (s *Store) bounds(f *store.Filter, before string, now time.Time) (bounds, error) {
	b := bounds{lo: math.MinInt64, hi: math.MaxInt64}
	if s.opts.MaxAge > 0 {
		b.cutoff = uint64(max(now.Add(-s.opts.MaxAge).UnixMilli(), 0))
	}
	if !f.Since.IsZero() {
		b.lo = f.Since.UnixMilli()
	}
	if !f.Until.IsZero() {
		b.hi = f.Until.UnixMilli()
	}
	if before != "" {
		p, err := store.ParseCursor(before)
		if err != nil {
			return b, err
		}
		b.cur, b.curMs = true, p.Ms
		if b.cms, b.cseq, err = store.ParseID(p.ID); err != nil {
			return b, fmt.Errorf("%w: %w", store.ErrBadCursor, err)
		}
		if store.BareCursor(before) {
			if r := s.find(b.cms, b.cseq, now); r != nil {
				b.curMs = r.evMs
			}
		}
	}
	b.empty = b.hi < b.lo
	return b, nil
}

// below reports whether r is inside the upper bounds (until, cursor).
func (b *bounds) below(r *rec) bool {
	return r.evMs <= b.hi && (!b.cur || r.beforePos(b.curMs, b.cms, b.cseq))
}

// end is the index just past the list's records inside the upper bounds.
func (b *bounds) end(l []*rec) int {
	return sort.Search(len(l), func(i int) bool { return !b.below(l[i]) })
}

// scan calls fn with each event inside the bounds matching f's non-time
// criteria, in query order (newest event time first), until fn returns
// false. It walks the smallest index that applies. fn gets the event when
// matching had to read it from the log (uuid, output field and text
// filters), nil otherwise.
func (s *Store) scan(f *store.Filter, b bounds, fn func(r *rec, ev *store.Event) (bool, error)) error {
	if b.empty {
		return nil
	}
	var dims [][][]*rec
	addDim := func(keys []string) {
		var lists [][]*rec
		for _, k := range keys {
			if l := s.listOf(k); len(l) > 0 {
				lists = append(lists, l)
			}
		}
		dims = append(dims, lists)
	}
	if ps, ok := f.PrioritySet(); ok {
		keys := make([]string, len(ps))
		for i, p := range ps {
			keys[i] = "p\x00" + p.String()
		}
		addDim(keys)
	}
	prefixed := func(prefix string, vals []string) []string {
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = prefix + v
		}
		return out
	}
	if len(f.Rules) > 0 {
		addDim(prefixed("r\x00", f.Rules))
	}
	if len(f.Sources) > 0 {
		addDim(prefixed("s\x00", f.Sources))
	}
	if len(f.Hostnames) > 0 {
		addDim(prefixed("h\x00", f.Hostnames))
	}
	for _, t := range f.Tags {
		addDim([]string{"t\x00" + t})
	}
	if len(dims) == 0 {
		addDim([]string{allKey})
	}
	match := s.matcher(f)
	best, bestN := -1, 0
	for d, lists := range dims {
		n := 0
		for _, l := range lists {
			n += len(l)
		}
		if best < 0 || n < bestN {
			best, bestN = d, n
		}
	}
	if bestN == 0 {
		return nil
	}
	// Merge the chosen dimension's lists (disjoint: an event has one rule,
	// one priority…) from the newest record inside the bounds down.
	lists := dims[best]
	cur := make([]int, len(lists))
	for i, l := range lists {
		cur[i] = b.end(l) - 1
	}
	for {
		pick := -1
		for i, l := range lists {
			if cur[i] >= 0 && l[cur[i]].evMs >= b.lo && (pick < 0 || lists[pick][cur[pick]].less(l[cur[i]])) {
				pick = i
			}
		}
		if pick < 0 {
			return nil
		}
		r := lists[pick][cur[pick]]
		cur[pick]--
		if r.dead || r.ms < b.cutoff {
			continue
		}
		ok, ev, err := match(r)
		if ok {
			ok, err = fn(r, ev)
			if err == nil && !ok {
				return nil
			}
		}
		if err != nil {
			return err
		}
	}
}

// matcher returns f's test of an event. The index fields (r.m) settle
// priority, rule, source, hostname and tags; uuid, output field and text
// criteria read the event from the log, and a text search first looks in
// the raw bytes for the part of the needle they must hold (literalRun).
func (s *Store) matcher(f *store.Filter) func(r *rec) (bool, *store.Event, error) {
	coarse := *f
	coarse.UUIDs, coarse.Fields, coarse.Text = nil, nil, ""
	if len(f.UUIDs) == 0 && len(f.Fields) == 0 && f.Text == "" {
		return func(r *rec) (bool, *store.Event, error) { return coarse.MatchAlert(&r.m.a), nil, nil }
	}
	fine := *f
	fine.Text = ""
	lowered := strings.ToLower(f.Text) // once, not per event
	run := literalRun(lowered)
	return func(r *rec) (ok bool, ev *store.Event, err error) {
		if !coarse.MatchAlert(&r.m.a) {
			return false, nil, nil
		}
		err = s.withRaw(s.f, r.loc(), func(raw []byte) error {
			if len(run) > 0 && r.flat && !bytes.Contains(bytes.ToLower(raw), run) {
				return nil
			}
			e, err := s.decodeAt(r.loc(), raw)
			if err != nil {
				return err
			}
			if fine.MatchAlert(&e.Alert) && (f.Text == "" || store.MatchText(&e.Alert, lowered)) {
				ok, ev = true, &e
			}
			return nil
		})
		return ok, ev, err
	}
}

// literalRun is the longest run of a lower-cased text needle made of
// characters no JSON encoder escapes (ASCII letters, digits, space and
// punctuation but " \ / < > &): an event whose values contain the needle
// holds that run verbatim in its JSON (case folded), whatever else the
// encoder escaped. Empty when there is none.
func literalRun(lowered string) []byte {
	best, start := "", 0
	for i := 0; i <= len(lowered); i++ {
		if i < len(lowered) && literal(lowered[i]) {
			continue
		}
		if i-start > len(best) {
			best = lowered[start:i]
		}
		start = i + 1
	}
	return []byte(best)
}

func literal(c byte) bool {
	return c >= ' ' && c < 0x7f && !strings.ContainsRune(`"\/<>&`, rune(c))
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	// The page's events are read after s.mu is released (see read.go);
	// those a filter had to read already come with their event.
	s.fileMu.RLock()
	defer s.fileMu.RUnlock()
	s.mu.RLock()
	b, err := s.bounds(&q.Filter, q.Before, s.clock())
	if err != nil {
		s.mu.RUnlock()
		return store.Page{}, err
	}
	type hit struct {
		l    loc
		evMs int64
		ev   *store.Event
	}
	var hits []hit
	page := store.Page{Events: []store.Event{}}
	err = s.scan(&q.Filter, b, func(r *rec, ev *store.Event) (bool, error) {
		if len(hits) == limit {
			last := hits[limit-1]
			page.Next = store.Position{Ms: last.evMs, ID: last.l.id()}.Cursor()
			return false, nil
		}
		hits = append(hits, hit{l: r.loc(), evMs: r.evMs, ev: ev})
		return true, nil
	})
	f := s.f
	s.mu.RUnlock()
	if err != nil {
		return store.Page{}, err
	}
	for _, h := range hits {
		if h.ev == nil {
			e, err := s.read(f, h.l)
			if err != nil {
				return store.Page{}, err
			}
			h.ev = &e
		}
		page.Events = append(page.Events, *h.ev)
	}
	return page, nil
}

// Stats implements store.Store. Time-only windows are answered from the
// per-minute counters (by event time) for whole minutes plus the events of
// partial edge minutes; other filters aggregate the matching events (in
// memory, exact).
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	now := s.clock()
	sb := store.NewStatsBuilder(q)
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := s.bounds(&q.Filter, "", now)
	if err != nil {
		return store.Stats{}, err
	}
	add := func(r *rec, _ *store.Event) (bool, error) {
		sb.Add(r.evMs, &r.m.a)
		return true, nil
	}
	all := s.listOf(allKey)
	hi := b.end(all)
	lo := sort.Search(hi, func(i int) bool { return all[i].evMs >= b.lo })
	if !q.TimeOnly() || lo >= hi || b.empty {
		if err := s.scan(&q.Filter, b, add); err != nil {
			return store.Stats{}, err
		}
		return sb.Result(now), nil
	}
	minute := func(i int) int64 { return all[i].evMs / 60000 }
	// A minute's counter is usable when every retained event of that
	// minute is inside [lo, hi).
	firstMin, lastMin := minute(lo), minute(hi-1)
	firstWhole := lo == 0 || minute(lo-1) < firstMin
	lastWhole := hi == len(all) || minute(hi) > lastMin
	exact := func(a, z int) { // events [a, z)
		for _, r := range all[a:z] {
			if !r.dead && r.ms >= b.cutoff {
				add(r, nil)
			}
		}
	}
	counter := func(m int64) {
		for mt, n := range s.minutes[m] {
			sb.AddTotal(mt.prio, n)
			sb.AddSeries(m, mt.prio, n)
			for _, d := range mt.dims {
				sb.AddCount(d[0], d[1], n)
			}
		}
	}
	// endOf is the index just past minute m's events, starting at i.
	endOf := func(i int, m int64) int {
		return i + sort.Search(hi-i, func(j int) bool { return minute(i+j) > m })
	}
	if firstMin == lastMin {
		if firstWhole && lastWhole {
			counter(firstMin)
		} else {
			exact(lo, hi)
		}
		return sb.Result(now), nil
	}
	if firstWhole {
		counter(firstMin)
	} else {
		exact(lo, endOf(lo, firstMin))
	}
	if lastWhole {
		counter(lastMin)
	} else {
		exact(endOf(lo, lastMin-1), hi)
	}
	if span := lastMin - firstMin - 1; span > 0 && int64(len(s.minutes)) < span {
		for m := range s.minutes {
			if m > firstMin && m < lastMin {
				counter(m)
			}
		}
	} else {
		for m := firstMin + 1; m < lastMin; m++ {
			counter(m)
		}
	}
	return sb.Result(now), nil
}
