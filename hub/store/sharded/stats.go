package sharded

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// shardTop is how many entries of each ranked list a shard returns: the
// merged ranking is exact while no list has more distinct keys per shard.
const shardTop = 1000

// Stats implements store.Store: the shards' counts summed. So that their
// series share one grid, every shard is asked for the same bucket width
// over the same window; without a start time the window starts at the
// oldest minute any shard counted.
func (s *Store) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	now := time.Now()
	top := q.Top
	if top <= 0 {
		top = 10
	}
	sq := q
	sq.Top = max(top, shardTop)
	if sq.Since.IsZero() {
		first, err := s.firstMinute(ctx, sq)
		if err != nil {
			return store.Stats{}, err
		}
		if first.IsZero() {
			return store.NewStatsBuilder(q).Result(now), nil
		}
		sq.Since = first
	}
	until := sq.Until
	if until.IsZero() {
		until = now
	}
	if until.Before(sq.Since) {
		until = sq.Since
	}
	sq.Bucket = store.ChooseBucket(q.Bucket, until.Sub(sq.Since))
	res, err := s.statsAll(ctx, sq)
	if err != nil {
		return store.Stats{}, err
	}
	b := store.NewStatsBuilder(store.StatsQuery{Filter: sq.Filter, Bucket: sq.Bucket, Top: top})
	for _, st := range res {
		for p, n := range st.ByPriority {
			b.AddTotal(p, n)
		}
		for _, d := range []struct {
			dim  string
			list []store.Count
		}{{store.DimRule, st.Rules}, {store.DimHostname, st.Hostnames}, {store.DimSource, st.Sources},
			{store.DimTag, st.Tags}, {store.DimContainer, st.Containers}, {store.DimImage, st.Images}} {
			for _, c := range d.list {
				b.AddCount(d.dim, c.Key, c.Count)
			}
		}
		for _, bk := range st.Series {
			for p, n := range bk.Counts {
				// A bucket's counts land in its first minute, on the grid
				// every shard shares.
				b.AddSeries(bk.Start.Unix()/60, p, n)
			}
		}
	}
	return b.Result(now), nil
}

func (s *Store) statsAll(ctx context.Context, q store.StatsQuery) ([]store.Stats, error) {
	res := make([]store.Stats, len(s.shards))
	err := s.fanOut(func(i int, sh Shard) error {
		st, err := sh.Stats(ctx, q)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		res[i] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sharded store: stats: %w", err)
	}
	return res, nil
}

// firstMinute finds where a window without a start begins: the start of
// the earliest non-empty bucket any shard reports, at one-minute
// resolution when the shard's span allows it. Zero when nothing matches.
func (s *Store) firstMinute(ctx context.Context, q store.StatsQuery) (time.Time, error) {
	q.Bucket, q.Top = time.Minute, 1
	res, err := s.statsAll(ctx, q)
	if err != nil {
		return time.Time{}, err
	}
	var starts []time.Time
	for _, st := range res {
		for _, bk := range st.Series {
			if len(bk.Counts) > 0 {
				starts = append(starts, bk.Start)
				break
			}
		}
	}
	if len(starts) == 0 {
		return time.Time{}, nil
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	return starts[0], nil
}
