package web

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// memStore is a small in-process store.Store read side with real tail
// semantics (blocking, resume after an ID), used by the handler tests so
// they do not depend on another package's implementation details.
type memStore struct {
	mu     sync.Mutex
	evs    []store.Event
	lastMs uint64
	seq    uint64
	wake   chan struct{}
}

func newMemStore() *memStore { return &memStore{wake: make(chan struct{})} }

func (m *memStore) Append(_ context.Context, as []alert.Alert) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, len(as))
	for i, a := range as {
		ms := uint64(time.Now().UnixMilli())
		if ms <= m.lastMs {
			ms, m.seq = m.lastMs, m.seq+1
		} else {
			m.seq = 0
		}
		m.lastMs = ms
		ids[i] = store.FormatID(ms, m.seq)
		m.evs = append(m.evs, store.Event{ID: ids[i], Alert: a})
	}
	close(m.wake)
	m.wake = make(chan struct{})
	return ids, nil
}

func (m *memStore) Get(_ context.Context, id string) (store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.evs {
		if e.ID == id {
			return e, nil
		}
	}
	return store.Event{}, store.ErrNotFound
}

func (m *memStore) Query(_ context.Context, q store.Query) (store.Page, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	lim := q.Limit
	if lim <= 0 {
		lim = store.DefaultLimit
	}
	var p store.Page
	for i := len(m.evs) - 1; i >= 0; i-- {
		e := m.evs[i]
		if q.Before != "" && store.CompareIDs(e.ID, q.Before) >= 0 {
			continue
		}
		if !matchMem(&q.Filter, &e) {
			continue
		}
		if len(p.Events) == lim {
			p.Next = p.Events[lim-1].ID
			break
		}
		p.Events = append(p.Events, e)
	}
	return p, nil
}

func matchMem(f *store.Filter, e *store.Event) bool {
	t := store.IDTime(e.ID)
	if (!f.Since.IsZero() && t.Before(f.Since.Truncate(time.Millisecond))) || (!f.Until.IsZero() && t.After(f.Until)) {
		return false
	}
	if f.MinPriority != alert.PriorityUnset && e.Priority < f.MinPriority {
		return false
	}
	in := func(list []string, v string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	if !in(f.Rules, e.Rule) || !in(f.Sources, e.Source) || !in(f.Hostnames, e.Hostname) {
		return false
	}
	for _, t := range f.Tags {
		if !in(e.Tags, t) || len(e.Tags) == 0 {
			return false
		}
	}
	if f.Text != "" && !strings.Contains(strings.ToLower(e.Output+" "+e.Rule), strings.ToLower(f.Text)) {
		return false
	}
	return true
}

func (m *memStore) Stats(_ context.Context, q store.StatsQuery) (store.Stats, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := store.Stats{ByPriority: map[string]int64{}, Bucket: time.Minute}
	rules, hosts, srcs, tags := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	buckets := map[int64]map[string]int64{}
	for i := range m.evs {
		e := &m.evs[i]
		if !matchMem(&q.Filter, e) {
			continue
		}
		st.Total++
		st.ByPriority[e.Priority.String()]++
		rules[e.Rule]++
		hosts[e.Hostname]++
		srcs[e.Source]++
		for _, t := range e.Tags {
			tags[t]++
		}
		b := store.IDTime(e.ID).Truncate(time.Minute).UnixMilli()
		if buckets[b] == nil {
			buckets[b] = map[string]int64{}
		}
		buckets[b][e.Priority.String()]++
	}
	top := func(m map[string]int64) []store.Count {
		var out []store.Count
		for k, v := range m {
			out = append(out, store.Count{Key: k, Count: v})
		}
		sort.Slice(out, func(i, j int) bool {
			return out[i].Count > out[j].Count || out[i].Count == out[j].Count && out[i].Key < out[j].Key
		})
		if len(out) > 10 {
			out = out[:10]
		}
		return out
	}
	st.Rules, st.Hostnames, st.Sources, st.Tags = top(rules), top(hosts), top(srcs), top(tags)
	for b, c := range buckets {
		st.Series = append(st.Series, store.Bucket{Start: time.UnixMilli(b).UTC(), Counts: c})
	}
	sort.Slice(st.Series, func(i, j int) bool { return st.Series[i].Start.Before(st.Series[j].Start) })
	return st, nil
}

func (m *memStore) Tail(ctx context.Context, after string, max int, block time.Duration) ([]store.Event, error) {
	deadline := time.Now().Add(block)
	for {
		m.mu.Lock()
		if after == "$" {
			after = "0"
			if n := len(m.evs); n > 0 {
				after = m.evs[n-1].ID
			}
		}
		i := sort.Search(len(m.evs), func(i int) bool { return store.CompareIDs(m.evs[i].ID, after) > 0 })
		if i < len(m.evs) {
			out := append([]store.Event(nil), m.evs[i:min(len(m.evs), i+max)]...)
			m.mu.Unlock()
			return out, nil
		}
		wake := m.wake
		m.mu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (m *memStore) Health(context.Context) store.Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	return store.Health{OK: true, Kind: "memory", Detail: "test store", Events: int64(len(m.evs))}
}
