package embedded

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/saker-sec/saker/hub/alert"
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

func copyEvent(e store.Event) store.Event {
	e.OutputFields = maps.Clone(e.OutputFields)
	e.Tags = slices.Clone(e.Tags)
	return e
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
		return copyEvent(r.ev), nil
	}
	return store.Event{}, store.ErrNotFound
}

// window returns the index range [lo, hi) of retained events inside the
// filter's time bounds and strictly before the cursor.
func (s *Store) window(f *store.Filter, before string, now time.Time) (lo, hi int, err error) {
	lo = s.ageStart(now)
	hi = len(s.evs)
	if !f.Since.IsZero() {
		since := uint64(max(f.Since.UnixMilli(), 0))
		lo = max(lo, sort.Search(len(s.evs), func(i int) bool { return s.evs[i].ms >= since }))
	}
	if !f.Until.IsZero() {
		until := f.Until.UnixMilli()
		if until < 0 {
			return 0, 0, nil
		}
		hi = sort.Search(len(s.evs), func(i int) bool { return s.evs[i].ms > uint64(until) })
	}
	if before != "" {
		ms, seq, err := store.ParseID(before)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %w", store.ErrBadCursor, err)
		}
		b := sort.Search(len(s.evs), func(i int) bool { return !s.evs[i].before(ms, seq) })
		hi = min(hi, b)
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi, nil
}

// scan calls fn with each event in [lo, hi) matching f's non-time criteria,
// newest first, until fn returns false. It walks the smallest index that
// applies instead of every event.
func (s *Store) scan(f *store.Filter, lo, hi int, fn func(r *rec) bool) {
	var dims [][][]uint64
	addDim := func(keys []string) {
		var lists [][]uint64
		for _, k := range keys {
			if l := s.idx[k]; len(l) > 0 {
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
	match := f.MatchAlert
	if f.Text != "" {
		// Lower-case the needle once, not per event.
		g := *f
		g.Text = ""
		lowered := strings.ToLower(f.Text)
		match = func(a *alert.Alert) bool { return g.MatchAlert(a) && store.MatchText(a, lowered) }
	}
	if len(dims) == 0 {
		for i := hi - 1; i >= lo; i-- {
			if r := s.evs[i]; match(&r.ev.Alert) && !fn(r) {
				return
			}
		}
		return
	}
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
		return
	}
	// Merge the chosen dimension's lists (disjoint: an event has one rule,
	// one priority…) from the newest position below hi down to lo.
	lists := dims[best]
	posLo, posHi := s.base+uint64(lo), s.base+uint64(hi)
	cur := make([]int, len(lists))
	for i, l := range lists {
		cur[i] = sort.Search(len(l), func(j int) bool { return l[j] >= posHi }) - 1
	}
	for {
		pick := -1
		for i, l := range lists {
			if cur[i] >= 0 && l[cur[i]] >= posLo && (pick < 0 || l[cur[i]] > lists[pick][cur[pick]]) {
				pick = i
			}
		}
		if pick < 0 {
			return
		}
		pos := lists[pick][cur[pick]]
		cur[pick]--
		if r := s.evs[pos-s.base]; match(&r.ev.Alert) && !fn(r) {
			return
		}
	}
}

// Query implements store.Store.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo, hi, err := s.window(&q.Filter, q.Before, s.clock())
	if err != nil {
		return store.Page{}, err
	}
	page := store.Page{Events: []store.Event{}}
	s.scan(&q.Filter, lo, hi, func(r *rec) bool {
		if len(page.Events) == limit {
			page.Next = page.Events[limit-1].ID
			return false
		}
		page.Events = append(page.Events, copyEvent(r.ev))
		return true
	})
	return page, nil
}

// Stats implements store.Store. Time-only windows are answered from the
// per-minute counters for whole minutes plus the events of partial edge
// minutes; other filters aggregate the matching events (in memory, exact).
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	now := s.clock()
	b := store.NewStatsBuilder(q)
	s.mu.RLock()
	defer s.mu.RUnlock()
	lo, hi, err := s.window(&q.Filter, "", now)
	if err != nil {
		return store.Stats{}, err
	}
	add := func(r *rec) bool {
		b.Add(int64(r.ms), &r.ev.Alert)
		return true
	}
	if !q.TimeOnly() || lo >= hi {
		s.scan(&q.Filter, lo, hi, add)
		return b.Result(now), nil
	}
	minute := func(i int) int64 { return int64(s.evs[i].ms / 60000) }
	// A minute's counter is usable when every retained event of that
	// minute is inside [lo, hi).
	firstMin, lastMin := minute(lo), minute(hi-1)
	firstWhole := lo == 0 || minute(lo-1) < firstMin
	lastWhole := hi == len(s.evs) || minute(hi) > lastMin
	exact := func(a, z int) { // events [a, z)
		for i := a; i < z; i++ {
			add(s.evs[i])
		}
	}
	counter := func(m int64) {
		for field, n := range s.minutes[m] {
			dim, key, _ := strings.Cut(field, ":")
			if dim == "p" {
				b.AddTotal(key, n)
				b.AddSeries(m, key, n)
			} else {
				b.AddCount(dim, key, n)
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
		return b.Result(now), nil
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
	return b.Result(now), nil
}
