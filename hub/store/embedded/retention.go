package embedded

import (
	"sort"
	"time"
)

func (s *Store) background() {
	defer s.wg.Done()
	var tick <-chan time.Time
	if s.opts.MaxAge > 0 {
		every := min(max(s.opts.MaxAge/4, 50*time.Millisecond), time.Minute)
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	var fsyncTick <-chan time.Time
	if s.opts.Fsync == FsyncInterval {
		t := time.NewTicker(s.opts.FsyncInterval)
		defer t.Stop()
		fsyncTick = t.C
	}
	for {
		select {
		case <-s.done:
			return
		case <-fsyncTick:
			s.syncDirty()
		case <-tick:
			s.mu.Lock()
			s.trimLocked(s.clock())
			s.cutIndexes()
			s.mu.Unlock()
			s.maybeCompact()
		case <-s.kick:
			s.compactInBackground()
		}
	}
}

// trimLocked applies retention by count, size and age.
func (s *Store) trimLocked(now time.Time) {
	s.trimSize()
	if s.opts.MaxAge > 0 {
		cut := s.ageStart(now)
		s.dropFront(cut)
	}
}

// trimSize applies retention by count and by bytes.
func (s *Store) trimSize() {
	if over := len(s.evs) - s.opts.MaxEvents; s.opts.MaxEvents > 0 && over > 0 {
		s.dropFront(over)
	}
	if limit := s.opts.MaxBytes / 2; s.opts.MaxBytes > 0 && s.liveBytes > limit {
		k, excess := 0, s.liveBytes-limit
		for ; k < len(s.evs) && excess > 0; k++ {
			excess -= int64(s.evs[k].size)
		}
		s.dropFront(k)
	}
}

func (s *Store) dropFront(k int) {
	if k <= 0 {
		return
	}
	for _, r := range s.evs[:k] {
		s.liveBytes -= int64(r.size)
		s.count(r, -1)
		s.release(r)
		r.dead = true
	}
	clear(s.evs[:k])
	s.evs = s.evs[k:]
	if cap(s.evs) > 2*len(s.evs)+1024 {
		s.evs = append(make([]*rec, 0, len(s.evs)+len(s.evs)/4+16), s.evs...)
	}
	if len(s.evs) == 0 {
		// Every index entry is dead: start afresh instead of keeping lists.
		clear(s.idx)
		clear(s.minutes)
	}
}

// cutIndexes drops the leading dead records of every index list, and
// lists left empty (keys of hosts or rules that stopped appearing).
func (s *Store) cutIndexes() {
	for k, l := range s.idx {
		// A list left empty belongs to no interned meta (an interned
		// meta's live events are in each of its lists).
		if l.recs = cutDead(l.recs); len(l.recs) == 0 {
			delete(s.idx, k)
		}
	}
}

// ageStart is the index of the first event young enough to keep.
func (s *Store) ageStart(now time.Time) int {
	if s.opts.MaxAge <= 0 {
		return 0
	}
	cutoff := uint64(max(now.Add(-s.opts.MaxAge).UnixMilli(), 0))
	if len(s.evs) == 0 || s.evs[0].ms >= cutoff {
		return 0 // the common case, checked at every flush: nothing to drop
	}
	return sort.Search(len(s.evs), func(i int) bool { return s.evs[i].ms >= cutoff })
}
