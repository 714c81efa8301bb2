package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store"
)

// layout is the value of the "layout" key once the indexes are in the
// event-time layout this package writes.
const layout = "4"

// olderLayoutPatterns match the index keys only older layouts wrote:
// layout 1's arrival-ordered "i:*" sets, layout 2's per-event source and
// tag indexes, layout 3's per-event priority indexes. Every event of those
// layouts is in one of them until the migration ends.
var olderLayoutPatterns = []string{"i:*", "x:s:*", "x:t:*", "x:p:*"}

// olderLayoutKeys reports whether any key of an older layout exists.
func (s *Store) olderLayoutKeys(ctx context.Context) (bool, error) {
	for _, pattern := range olderLayoutPatterns {
		var cursor uint64
		for {
			keys, next, err := s.c.Scan(ctx, cursor, s.pfx+pattern, 1000).Result()
			if err != nil {
				return false, fmt.Errorf("scan for older index keys: %w", err)
			}
			if len(keys) > 0 {
				return true, nil
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return false, nil
}

// migrate brings data written by layout 1 (arrival-ordered "i:*" indexes),
// 2 (sources and tags indexed per event in "x:s:*" and "x:t:*") or 3
// (priorities indexed per event in "x:p:*") to layout 4: it indexes every
// retained stream entry in the "x:*" sorted sets and the "g:*" rule sets,
// deletes the older layouts' keys, then marks the layout done. Appends
// index new events in layout 4 meanwhile; queries find the older events
// once their chunk is indexed (layout 3's through its priority indexes
// until then: rulesOf). One replica at a time does it (a lock key), resuming
// where the last one stopped; the others skip it.
func (s *Store) migrate(ctx context.Context) error {
	if s.migrated.Load() {
		return nil
	}
	v, err := s.c.Get(ctx, s.pfx+"layout").Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("read layout: %w", err)
	}
	if v == layout {
		s.migrated.Store(true)
		return nil
	}
	got, err := s.c.SetNX(ctx, s.pfx+"migrating", "1", 2*time.Minute).Result()
	if err != nil || !got {
		return err // another replica is at it
	}
	defer s.c.Del(context.WithoutCancel(ctx), s.pfx+"migrating")
	old, err := s.olderLayoutKeys(ctx)
	if err != nil {
		return err
	}
	if !old {
		// No key of an older layout: the events were written in this one
		// after the marker was lost (a FLUSHALL while hubs ran; their
		// appends recreated the stream). Mark it; nothing to re-index.
		if err := s.c.Set(ctx, s.pfx+"layout", layout, 0).Err(); err != nil {
			return fmt.Errorf("mark layout: %w", err)
		}
		s.migrated.Store(true)
		return nil
	}
	start, err := s.c.Get(ctx, s.pfx+"migrated-to").Result()
	if errors.Is(err, goredis.Nil) {
		start, err = "-", nil
	}
	if err != nil {
		return fmt.Errorf("read progress: %w", err)
	}
	indexed := 0
	for {
		msgs, err := s.c.XRangeN(ctx, s.stream, start, "+", 1000).Result()
		if err != nil {
			return fmt.Errorf("read stream: %w", err)
		}
		if len(msgs) == 0 {
			break
		}
		pipe := s.c.Pipeline()
		for _, m := range msgs {
			e, ok := decodeMessage(m)
			if !ok {
				continue
			}
			ms, seq, _ := store.ParseID(e.ID)
			mem := member(e.EventMs(), ms, seq)
			for _, k := range indexSuffixes(&e.Alert) {
				pipe.ZAdd(ctx, s.pfx+"x:"+k, goredis.Z{Member: mem})
			}
			for _, k := range append(ruleSets(&e.Alert), prioritySet(&e.Alert)) {
				pipe.SAdd(ctx, s.pfx+k, e.Rule)
			}
		}
		start = "(" + msgs[len(msgs)-1].ID
		pipe.Set(ctx, s.pfx+"migrated-to", start, 0)
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("index events: %w", err)
		}
		indexed += len(msgs)
	}
	for _, pattern := range olderLayoutPatterns {
		var cursor uint64
		for {
			keys, next, err := s.c.Scan(ctx, cursor, s.pfx+pattern, 500).Result()
			if err != nil {
				return fmt.Errorf("scan old index keys: %w", err)
			}
			if len(keys) > 0 {
				if err := s.c.Unlink(ctx, keys...).Err(); err != nil {
					return fmt.Errorf("delete old index keys: %w", err)
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	if err := s.c.Set(ctx, s.pfx+"layout", layout, 0).Err(); err != nil {
		return fmt.Errorf("mark layout: %w", err)
	}
	s.c.Del(ctx, s.pfx+"migrated-to")
	if indexed > 0 {
		s.log.Info("redis store: re-indexed the events of an older layout", "events", indexed, "layout", layout)
	}
	s.migrated.Store(true)
	return nil
}
