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

// Query implements store.Store: every shard's page, merged in query order.
// The next cursor holds each shard's position.
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
	pages := make([]store.Page, len(s.shards))
	err = s.fanOut(func(i int, sh Shard) error {
		if cur[i] == nil {
			return nil
		}
		sq := q
		sq.Before, sq.Limit = *cur[i], limit
		p, err := sh.Query(ctx, sq)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		pages[i] = p
		return nil
	})
	if err != nil {
		return store.Page{}, fmt.Errorf("sharded store: query: %w", err)
	}
	out := store.Page{Events: make([]store.Event, 0, limit)}
	taken := make([]int, len(s.shards))
	var last *store.Event // the page's last event, with its shard's own ID
	lastShard := -1
	for len(out.Events) < limit {
		best := -1
		for i := range pages {
			if taken[i] < len(pages[i].Events) && (best < 0 || newer(&pages[i].Events[taken[i]], i, &pages[best].Events[taken[best]], best)) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		last, lastShard = &pages[best].Events[taken[best]], best
		out.Events = append(out.Events, global(*last, best))
		taken[best]++
	}
	// Every shard resumes after the page's last event: whatever a shard
	// holds that sorts before it was merged into this page, and events that
	// arrive later sorting before it (same time, newer ID) stay out of the
	// following pages. Shards' cursors are store.Position cursors.
	next := make(cursor, len(s.shards))
	for i := range s.shards {
		switch {
		case cur[i] == nil:
		case taken[i] == len(pages[i].Events) && pages[i].Next == "":
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
	p := store.PositionOf(last)
	if i < j {
		if ms, seq, err := store.ParseID(p.ID); err == nil {
			p.ID = store.FormatID(ms, seq+1)
		}
	}
	return p.Cursor()
}
