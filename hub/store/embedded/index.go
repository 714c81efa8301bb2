package embedded

import (
	"sort"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// publishLocked makes durable batches visible, in order.
func (s *Store) publishLocked(now time.Time) {
	n := 0
	for _, b := range s.unsynced {
		if b.end > s.durable {
			break
		}
		s.publishRecs(b.recs)
		n++
	}
	if n == 0 {
		return
	}
	s.unsynced = append(s.unsynced[:0], s.unsynced[n:]...)
	s.trimLocked(now)
	close(s.notify)
	s.notify = make(chan struct{})
	s.maybeKickLocked()
}

func indexKeys(a *alert.Alert) []string {
	keys := make([]string, 0, 4+len(a.Tags))
	keys = append(keys, "p\x00"+a.Priority.String(), "r\x00"+a.Rule, "s\x00"+a.Source, "h\x00"+a.Hostname)
	for _, t := range a.Tags {
		keys = append(keys, "t\x00"+t)
	}
	return keys
}

func (s *Store) publishRecs(recs []*rec) {
	for _, r := range recs {
		pos := s.base + uint64(len(s.evs))
		s.evs = append(s.evs, r)
		s.liveBytes += r.size
		for _, k := range indexKeys(&r.ev.Alert) {
			l := s.idx[k]
			if len(l) > 0 && l[0] < s.base {
				// Drop positions trimmed since; copy when mostly dead.
				cut := sort.Search(len(l), func(i int) bool { return l[i] >= s.base })
				if cut > len(l)/2 {
					l = append([]uint64(nil), l[cut:]...)
				} else {
					l = l[cut:]
				}
			}
			s.idx[k] = append(l, pos)
		}
		s.visMs, s.visSeq = r.ms, r.seq
		s.count(r, 1)
	}
}

// count adds d to the per-minute counters of one event.
func (s *Store) count(r *rec, d int64) {
	m := int64(r.ms / 60000)
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
