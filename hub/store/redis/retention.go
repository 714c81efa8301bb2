package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store"
)

// DefaultTrimInterval is how often the background retention pass runs.
const DefaultTrimInterval = 5 * time.Second

// janitor applies retention to the indexes in the background, off the
// append path: every index key (not only the ones recent appends touched,
// so keys of hostnames or rules that stopped appearing are emptied and
// vanish too) loses the entries of events the stream no longer holds.
func (s *Store) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.TrimInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := s.trimIndexes(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("redis store: retention pass", "err", err)
			}
			cancel()
		}
	}
}

// trimIndexes trims the stream to its retention, then removes from every
// index key the members older than the stream's first entry. It returns
// how many index entries it removed.
func (s *Store) trimIndexes(ctx context.Context) (int64, error) {
	if s.opts.MaxAge > 0 {
		min := store.FormatID(uint64(s.cutoff(time.Now())), 0)
		if err := s.c.XTrimMinID(ctx, s.stream, min).Err(); err != nil {
			return 0, fmt.Errorf("trim stream: %w", err)
		}
	}
	first, err := s.c.XRangeN(ctx, s.stream, "-", "+", 1).Result()
	if err != nil {
		return 0, fmt.Errorf("read first entry: %w", err)
	}
	below := "+" // an empty stream: every index entry is stale
	if len(first) > 0 {
		ms, seq, _ := store.ParseID(first[0].ID)
		below = "(" + pad(ms, seq)
	}
	var removed int64
	var cursor uint64
	for {
		keys, next, err := s.c.Scan(ctx, cursor, s.pfx+"i:*", 500).Result()
		if err != nil {
			return removed, fmt.Errorf("scan index keys: %w", err)
		}
		if len(keys) > 0 {
			pipe := s.c.Pipeline()
			cmds := make([]*goredis.IntCmd, len(keys))
			for i, k := range keys {
				cmds[i] = pipe.ZRemRangeByLex(ctx, k, "-", below)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				return removed, fmt.Errorf("trim indexes: %w", err)
			}
			for _, c := range cmds {
				removed += c.Val()
			}
		}
		if cursor = next; cursor == 0 {
			return removed, nil
		}
	}
}
