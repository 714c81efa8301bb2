package sharded

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// Tail implements store.Store: the shards' streams merged in ID order.
//
// An event is handed out only once no shard can still store an older one:
// each shard's Horizon, read before its events, bounds what it may store
// later, so the merge takes events up to the lowest horizon (and up to the
// last event of a shard whose read was cut at count). A caller resuming
// after the last event it got therefore misses nothing.
func (s *Store) Tail(ctx context.Context, after string, count int, block time.Duration) ([]store.Event, error) {
	if count <= 0 {
		count = store.DefaultLimit
	}
	if after == "$" && block <= 0 {
		return nil, nil
	}
	pos, err := s.tailStart(ctx, after)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(block)
	for {
		evs, waiting, err := s.tailOnce(ctx, pos, count)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		left := time.Until(deadline)
		if waiting {
			// Even without blocking, stored events are worth a short wait.
			left = max(left, time.Until(start.Add(skewWait)))
		}
		if left <= 0 {
			return nil, nil
		}
		if waiting {
			// Events are there but a shard's clock has not passed them yet:
			// a millisecond or the clock skew between masters.
			t := time.NewTimer(min(left, time.Millisecond))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			continue
		}
		if err := s.waitAny(ctx, pos, min(left, blockSlice)); err != nil {
			return nil, err
		}
	}
}

// skewWait is how long a Tail that does not block still waits for events
// already stored but held back by another shard's horizon (normally a
// millisecond; more when the masters' clocks disagree).
const skewWait = 20 * time.Millisecond

// tailStart gives each shard's position after which the tail starts.
func (s *Store) tailStart(ctx context.Context, after string) ([]string, error) {
	pos := make([]string, len(s.shards))
	switch after {
	case "", "0":
		for i := range pos {
			pos[i] = "0-0"
		}
		return pos, nil
	case "$":
		return s.horizons(ctx)
	}
	l, k, err := s.local(after)
	if err != nil {
		return nil, err
	}
	ms, seq, err := store.ParseID(l)
	if err != nil {
		return nil, err
	}
	// Events of lower shards with the same "<ms>-<seq>" are older than
	// after (CompareIDs), of higher shards newer.
	for i := range pos {
		if i <= k {
			pos[i] = store.FormatID(ms, seq)
		} else {
			pos[i] = predecessor(ms, seq)
		}
	}
	return pos, nil
}

// horizons reads every shard's Horizon.
func (s *Store) horizons(ctx context.Context) ([]string, error) {
	pos := make([]string, len(s.shards))
	err := s.fanOut(func(i int, sh Shard) error {
		h, err := sh.Horizon(ctx)
		pos[i] = h
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sharded store: %w", err)
	}
	return pos, nil
}

// predecessor is the greatest ID below "<ms>-<seq>".
func predecessor(ms, seq uint64) string {
	switch {
	case seq > 0:
		return store.FormatID(ms, seq-1)
	case ms > 0:
		return store.FormatID(ms-1, math.MaxUint64)
	}
	return "0-0"
}

type tagged struct {
	e     store.Event // with the shard's own ID
	shard int
}

// tailOnce reads every shard once without blocking and returns the events
// safe to hand out, in order; waiting reports events held back because a
// shard's horizon has not passed them yet.
func (s *Store) tailOnce(ctx context.Context, pos []string, max int) (out []store.Event, waiting bool, err error) {
	got := make([][]store.Event, len(s.shards))
	bound := make([]string, len(s.shards)) // per shard: every event up to it was read
	err = s.fanOut(func(i int, sh Shard) error {
		h, err := sh.Horizon(ctx)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		evs, err := sh.Tail(ctx, pos[i], max, 0)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		got[i], bound[i] = evs, h
		if len(evs) == max {
			bound[i] = evs[len(evs)-1].ID
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("sharded store: tail: %w", err)
	}
	low := bound[0]
	for _, b := range bound[1:] {
		if store.CompareIDs(b, low) < 0 {
			low = b
		}
	}
	var all []tagged
	for i, evs := range got {
		for _, e := range evs {
			if store.CompareIDs(e.ID, low) <= 0 {
				all = append(all, tagged{e, i})
			} else {
				waiting = true
			}
		}
	}
	sort.Slice(all, func(a, b int) bool {
		if c := store.CompareIDs(all[a].e.ID, all[b].e.ID); c != 0 {
			return c < 0
		}
		return all[a].shard < all[b].shard
	})
	if len(all) > max {
		all = all[:max]
	}
	for _, t := range all {
		out = append(out, global(t.e, t.shard))
	}
	return out, waiting, nil
}

// errNothing: a shard's wait ended without an event.
var errNothing = errors.New("no event")

// waitAny blocks until some shard has an event after its position, up to
// wait. It only reads (Tail), so the shards still waiting when one answers
// are left to finish their wait on their own.
func (s *Store) waitAny(ctx context.Context, pos []string, wait time.Duration) error {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, len(s.shards))
	for i, sh := range s.shards {
		go func() {
			evs, err := sh.Tail(wctx, pos[i], 1, wait)
			if err == nil && len(evs) == 0 {
				err = errNothing
			}
			done <- err
		}()
	}
	defer cancel()
	for range s.shards {
		select {
		case err := <-done:
			if errors.Is(err, errNothing) {
				continue
			}
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("sharded store: tail: %w", err)
			}
			return ctx.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Head implements store.Store: the lowest of the shards' horizons, as a
// composed ID. Every shard has stored nothing after its horizon, so a
// Tail from Head misses nothing; it may hand out again what a shard
// stored between the lowest horizon and its own (a millisecond, or the
// masters' clock skew).
func (s *Store) Head(ctx context.Context) (string, error) {
	pos, err := s.horizons(ctx)
	if err != nil {
		return "", err
	}
	low := ""
	for i, h := range pos {
		if id := store.ShardID(h, i); low == "" || store.CompareIDs(id, low) < 0 {
			low = id
		}
	}
	return low, nil
}
