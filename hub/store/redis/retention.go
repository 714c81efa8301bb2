package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store"
)

// DefaultTrimInterval is how often the background retention pass runs.
const DefaultTrimInterval = 5 * time.Second

// trimChunk is how many events one run of the trim script removes; a pass
// runs it until nothing is left to remove, so Redis serves appends between
// chunks and a large backlog (a lowered MaxAge) never stalls them.
const trimChunk = 500

// janitor applies retention in the background, off the append path.
func (s *Store) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.TrimInterval)
	defer t.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if err := s.migrate(ctx); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("redis store: re-index of layout 1 data", "err", err)
	}
	cancel()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := s.migrate(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("redis store: re-index of layout 1 data", "err", err)
			}
			if _, err := s.trimOnce(ctx, time.Now()); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("redis store: retention pass", "err", err)
			}
			cancel()
		}
	}
}

// trimOnce removes, oldest first, the events that arrived before the age
// cutoff and those beyond MaxEvents, each chunk with its index entries and
// its counts in one atomic script, and returns how many it removed.
// Replicas may run it concurrently: a chunk another replica removed first
// is skipped (the script checks the stream still starts where it read it).
func (s *Store) trimOnce(ctx context.Context, now time.Time) (int64, error) {
	var removed int64
	for {
		select {
		case <-s.done:
			return removed, nil
		default:
		}
		n, err := s.c.XLen(ctx, s.stream).Result()
		if err != nil {
			return removed, fmt.Errorf("stream length: %w", err)
		}
		over := n - s.opts.MaxEvents
		cutoff := s.cutoff(now)
		// Most passes find nothing to do: look at the oldest entry alone
		// before reading a chunk.
		first, err := s.c.XRangeN(ctx, s.stream, "-", "+", 1).Result()
		if err != nil {
			return removed, fmt.Errorf("read oldest event: %w", err)
		}
		if len(first) == 0 {
			return removed, nil
		}
		if ms, _, _ := store.ParseID(first[0].ID); over <= 0 && int64(ms) >= cutoff {
			return removed, nil
		}
		msgs, err := s.c.XRangeN(ctx, s.stream, "-", "+", trimChunk).Result()
		if err != nil {
			return removed, fmt.Errorf("read oldest events: %w", err)
		}
		k := 0
		for k < len(msgs) {
			ms, _, _ := store.ParseID(msgs[k].ID)
			if int64(k) >= over && int64(ms) >= cutoff {
				break
			}
			k++
		}
		if k == 0 {
			return removed, nil
		}
		res, err := s.trim.Run(ctx, s.c, []string{s.stream}, s.trimArgs(msgs[:k])...).Int64()
		if err != nil {
			return removed, fmt.Errorf("trim: %w", err)
		}
		if res > 0 {
			removed += res
		}
	}
}

// trimArgs builds the trim script's arguments for removing msgs, the
// oldest entries of the stream: their index members and counter fields,
// recomputed from each alert (an entry that does not decode has no index
// entries or counts to remove: it was never a stored alert).
func (s *Store) trimArgs(msgs []goredis.XMessage) []any {
	members := map[string][]string{}     // index suffix → members
	counts := map[int64]map[string]int{} // minute → field → n
	for _, m := range msgs {
		e, ok := decodeMessage(m)
		if !ok {
			continue
		}
		ms, seq, _ := store.ParseID(e.ID)
		ev := e.EventMs()
		mem := member(ev, ms, seq)
		for _, k := range indexSuffixes(&e.Alert) {
			members[k] = append(members[k], mem)
		}
		c := counts[ev/60000]
		if c == nil {
			c = map[string]int{}
			counts[ev/60000] = c
		}
		if countedPerDimension(m.Values) {
			for _, f := range counterFields(&e.Alert) {
				c[f]++
			}
		} else {
			c[counterKey(&e.Alert)]++
		}
	}
	last, lastSeq, _ := store.ParseID(msgs[len(msgs)-1].ID)
	args := []any{s.pfx, msgs[0].ID, store.FormatID(last, lastSeq+1), len(members)}
	for k, ms := range members {
		args = append(args, k, len(ms))
		for _, m := range ms {
			args = append(args, m)
		}
	}
	args = append(args, len(counts))
	for minute, fields := range counts {
		args = append(args, strconv.FormatInt(minute, 10), len(fields))
		for f, n := range fields {
			args = append(args, f, n)
		}
	}
	return args
}
