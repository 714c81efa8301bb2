package sharded

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/saker-sec/saker/hub/store"
)

// newer orders events of shards sa and sb (with the shards' own IDs) as a
// page does, in query order (event time, then ID, then shard; see
// store.Position): it reports whether a comes before b.
func newer(a *store.Event, sa int, b *store.Event, sb int) bool {
	if c := store.CompareEvents(a, b); c != 0 {
		return c > 0
	}
	return sa > sb
}

// cursor is a merged page's position: per shard, the cursor of that
// shard's next page; nil when the shard has nothing more.
type cursor []*string

func (s *Store) startCursor() cursor {
	c := make(cursor, len(s.shards))
	empty := ""
	for i := range c {
		c[i] = &empty
	}
	return c
}

// encode makes the opaque, URL-safe cursor; "" when every shard is done.
func (c cursor) encode() string {
	for _, p := range c {
		if p != nil {
			b, _ := json.Marshal([]*string(c))
			return base64.RawURLEncoding.EncodeToString(b)
		}
	}
	return ""
}

func (s *Store) decodeCursor(v string) (cursor, error) {
	if v == "" {
		return s.startCursor(), nil
	}
	if v[0] >= '0' && v[0] <= '9' && !store.BareCursor(v) {
		// One event's position, "<ms>_<id>" (the API hands one out with
		// each event; a page cursor is base64 of a JSON array, never a
		// digit first): every shard resumes right after it, as after a page
		// ending there.
		p, err := store.ParseCursor(v)
		var local string
		j := 0
		if err == nil {
			local, j, err = store.SplitShard(p.ID)
		}
		if err == nil && (j < 0 || j >= len(s.shards)) {
			err = fmt.Errorf("shard %d of %d", j, len(s.shards))
		}
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", store.ErrBadCursor, v, err)
		}
		c := make(cursor, len(s.shards))
		for i := range c {
			after := afterPos(store.Position{Ms: p.Ms, ID: local}, j, i)
			c[i] = &after
		}
		return c, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	var c cursor
	if err == nil {
		err = json.Unmarshal(raw, (*[]*string)(&c))
	}
	if err == nil && len(c) != len(s.shards) {
		err = fmt.Errorf("cursor of %d shards, the store has %d", len(c), len(s.shards))
	}
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", store.ErrBadCursor, v, err)
	}
	return c, nil
}

// reader walks one shard's pages for a merged Query.
type reader struct {
	sh    Shard
	buf   []store.Event
	taken int    // events of buf on the merged page
	next  string // the shard's cursor after buf; "" at its end
}

func (r *reader) fill(ctx context.Context, q store.Query, before string, limit int) error {
	q.Before, q.Limit = before, limit
	p, err := r.sh.Query(ctx, q)
	if err != nil {
		return err
	}
	r.buf, r.taken, r.next = p.Events, 0, p.Next
	return nil
}

// head is the reader's next event, refilling from the shard when its
// chunk is used up; nil when the shard has no more.
func (r *reader) head(ctx context.Context, q store.Query, chunk int) (*store.Event, error) {
	for r.taken == len(r.buf) {
		if r.next == "" {
			return nil, nil
		}
		if err := r.fill(ctx, q, r.next, chunk); err != nil {
			return nil, err
		}
	}
	return &r.buf[r.taken], nil
}

// Query implements store.Store: the shards' pages merged in query order.
// Each shard is read in chunks of about its share of the page (alerts are
// spread evenly by uuid), more only where the merge needs them. The next
// cursor holds each shard's position.
func (s *Store) Query(ctx context.Context, q store.Query) (store.Page, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	limit = min(limit, store.MaxLimit)
	cur, err := s.decodeCursor(q.Before)
	if err != nil {
		return store.Page{}, err
	}
	chunk := min(limit, limit*3/(2*len(s.shards))+2)
	rs := make([]*reader, len(s.shards))
	err = s.fanOut(func(i int, sh Shard) error {
		rs[i] = &reader{sh: sh}
		if cur[i] == nil {
			return nil
		}
		if err := rs[i].fill(ctx, q, *cur[i], chunk); err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		return nil
	})
	if err != nil {
		return store.Page{}, fmt.Errorf("sharded store: query: %w", err)
	}
	out := store.Page{Events: make([]store.Event, 0, limit)}
	var last *store.Event // the page's last event, with its shard's own ID
	lastShard := -1
	for len(out.Events) < limit {
		best := -1
		var bestE *store.Event
		for i, r := range rs {
			e, err := r.head(ctx, q, chunk)
			if err != nil {
				return store.Page{}, fmt.Errorf("sharded store: query: shard %d: %w", i, err)
			}
			if e != nil && (best < 0 || newer(e, i, bestE, best)) {
				best, bestE = i, e
			}
		}
		if best < 0 {
			break
		}
		last, lastShard = bestE, best
		out.Events = append(out.Events, global(*last, best))
		rs[best].taken++
	}
	// Every shard resumes after the page's last event: whatever a shard
	// holds that sorts before it was merged into this page, and events that
	// arrive later sorting before it (same time, newer ID) stay out of the
	// following pages. Shards' cursors are store.Position cursors.
	next := make(cursor, len(s.shards))
	for i, r := range rs {
		switch {
		case cur[i] == nil:
		case r.taken == len(r.buf) && r.next == "":
			// The shard had no more.
		case last == nil:
			next[i] = cur[i]
		default:
			c := afterPosition(last, lastShard, i)
			next[i] = &c
		}
	}
	out.Next = next.encode()
	return out, nil
}

// afterPosition is the cursor, in shard i's own terms, for the events that
// come after event last of shard j in a merged page: on equal positions a
// higher shard comes first, so a lower shard keeps an event at last's very
// position.
func afterPosition(last *store.Event, j, i int) string {
	return afterPos(store.PositionOf(last), j, i)
}

// afterPos is afterPosition for the position p (with shard j's own ID).
func afterPos(p store.Position, j, i int) string {
	if i < j {
		if ms, seq, err := store.ParseID(p.ID); err == nil {
			p.ID = store.FormatID(ms, seq+1)
		}
	}
	return p.Cursor()
}
