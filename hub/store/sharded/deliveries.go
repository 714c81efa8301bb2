package sharded

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// Deliveries implements store.Store: the group exists on every shard, and
// its log hands out the shards' events together.
func (s *Store) Deliveries(ctx context.Context, group string) (store.DeliveryLog, error) {
	logs := make([]store.DeliveryLog, len(s.shards))
	err := s.fanOut(func(i int, sh Shard) error {
		l, err := sh.Deliveries(ctx, group)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		logs[i] = l
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sharded store: %w", err)
	}
	return &deliveryLog{s: s, logs: logs}, nil
}

type deliveryLog struct {
	s    *Store
	logs []store.DeliveryLog
	mu   sync.Mutex
	// first is the shard the next Claim asks first, so one busy shard
	// does not starve the others.
	first int
}

func (l *deliveryLog) fanOut(fn func(i int, dl store.DeliveryLog) error) error {
	return l.s.fanOut(func(i int, _ Shard) error { return fn(i, l.logs[i]) })
}

// Claim implements store.DeliveryLog. The shards are asked in turn, each
// for what is still wanted, so no more than max events are handed out; only
// when none has any does it wait, on all shards at once and only reading
// (Tail), so an event taken by this wait is never stranded in a Claim
// nobody returns.
func (l *deliveryLog) Claim(ctx context.Context, consumer string, max int, minIdle, block time.Duration) ([]store.Delivery, error) {
	if max <= 0 {
		max = 1
	}
	deadline := time.Now().Add(block)
	for {
		out, err := l.claimOnce(ctx, consumer, max, minIdle)
		if err != nil || len(out) > 0 {
			return out, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		// Positions to wait from, then one more look: whatever is stored
		// after them is seen by the wait, whatever before by the look.
		pos, err := l.s.horizons(ctx)
		if err != nil {
			return nil, err
		}
		if out, err = l.claimOnce(ctx, consumer, max, minIdle); err != nil || len(out) > 0 {
			return out, err
		}
		if err := l.s.waitAny(ctx, pos, min(left, blockSlice)); err != nil {
			return nil, err
		}
	}
}

func (l *deliveryLog) claimOnce(ctx context.Context, consumer string, max int, minIdle time.Duration) ([]store.Delivery, error) {
	l.mu.Lock()
	first := l.first
	l.first = (l.first + 1) % len(l.logs)
	l.mu.Unlock()
	var out []store.Delivery
	var errs []error
	for j := range l.logs {
		if len(out) == max {
			break
		}
		i := (first + j) % len(l.logs)
		ds, err := l.logs[i].Claim(ctx, consumer, max-len(out), minIdle, 0)
		if err != nil {
			// Hand out what other shards gave: their events are now this
			// consumer's, and a failing shard must not hold them up.
			errs = append(errs, fmt.Errorf("shard %d: %w", i, err))
			continue
		}
		for _, d := range ds {
			d.Event = global(d.Event, i)
			out = append(out, d)
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, fmt.Errorf("sharded store: claim: %w", errors.Join(errs...))
	}
	sort.SliceStable(out, func(a, b int) bool { return store.CompareIDs(out[a].ID, out[b].ID) < 0 })
	return out, nil
}

// byShard splits composed IDs into each shard's own IDs.
func (l *deliveryLog) byShard(ids []string) ([][]string, error) {
	parts := make([][]string, len(l.logs))
	for _, id := range ids {
		loc, k, err := l.s.local(id)
		if err != nil {
			return nil, err
		}
		parts[k] = append(parts[k], loc)
	}
	return parts, nil
}

// Ack implements store.DeliveryLog.
func (l *deliveryLog) Ack(ctx context.Context, ids ...string) error {
	parts, err := l.byShard(ids)
	if err != nil {
		return err
	}
	return l.fanOut(func(i int, dl store.DeliveryLog) error {
		if len(parts[i]) == 0 {
			return nil
		}
		if err := dl.Ack(ctx, parts[i]...); err != nil {
			return fmt.Errorf("sharded store: shard %d: %w", i, err)
		}
		return nil
	})
}

// DeadLetter implements store.DeliveryLog.
func (l *deliveryLog) DeadLetter(ctx context.Context, d store.Delivery, reason string) error {
	loc, k, err := l.s.local(d.ID)
	if err != nil {
		return err
	}
	d.ID = loc
	if err := l.logs[k].DeadLetter(ctx, d, reason); err != nil {
		return fmt.Errorf("sharded store: shard %d: %w", k, err)
	}
	return nil
}

// DeadLetters implements store.DeliveryLog: newest first across shards.
func (l *deliveryLog) DeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	lists := make([][]store.DeadLetter, len(l.logs))
	err := l.fanOut(func(i int, dl store.DeliveryLog) error {
		got, err := dl.DeadLetters(ctx, limit)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		for j := range got {
			got[j].ID = store.ShardID(got[j].ID, i)
		}
		lists[i] = got
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sharded store: dead letters: %w", err)
	}
	var out []store.DeadLetter
	for _, ls := range lists {
		out = append(out, ls...)
	}
	// Each shard's list is newest first; a stable sort keeps that order
	// among letters recorded in the same instant.
	sort.SliceStable(out, func(a, b int) bool { return out[a].At.After(out[b].At) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// DropDeadLetters implements store.DeliveryLog.
func (l *deliveryLog) DropDeadLetters(ctx context.Context, ids ...string) (int, error) {
	parts := make([][]string, len(l.logs))
	for _, id := range ids {
		// Unknown IDs are ignored, as a single store does.
		if loc, k, err := l.s.local(id); err == nil {
			parts[k] = append(parts[k], loc)
		}
	}
	counts := make([]int, len(l.logs))
	err := l.fanOut(func(i int, dl store.DeliveryLog) error {
		if len(parts[i]) == 0 {
			return nil
		}
		n, err := dl.DropDeadLetters(ctx, parts[i]...)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		counts[i] = n
		return nil
	})
	n := 0
	for _, c := range counts {
		n += c
	}
	if err != nil {
		return n, fmt.Errorf("sharded store: drop dead letters: %w", err)
	}
	return n, nil
}

// Lag implements store.DeliveryLog: the shards' backlogs added up, aged by
// the oldest.
func (l *deliveryLog) Lag(ctx context.Context) (int64, time.Duration, error) {
	ns := make([]int64, len(l.logs))
	ages := make([]time.Duration, len(l.logs))
	err := l.fanOut(func(i int, dl store.DeliveryLog) error {
		n, age, err := dl.Lag(ctx)
		if err != nil {
			return fmt.Errorf("shard %d: %w", i, err)
		}
		ns[i], ages[i] = n, age
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("sharded store: lag: %w", err)
	}
	var n int64
	var age time.Duration
	for i := range ns {
		n += ns[i]
		age = max(age, ages[i])
	}
	return n, age, nil
}

// resetTaker is the optional part of a shard's log that reports consumer
// groups it found lost and re-created (the forwarders count the events
// lost with them).
type resetTaker interface {
	TakeResets() []store.GroupReset
}

// TakeResets returns every shard's group re-creations since the last call,
// with positions in composed IDs.
func (l *deliveryLog) TakeResets() []store.GroupReset {
	var out []store.GroupReset
	for i, dl := range l.logs {
		rt, ok := dl.(resetTaker)
		if !ok {
			continue
		}
		for _, r := range rt.TakeResets() {
			r.After = store.ShardID(r.After, i)
			out = append(out, r)
		}
	}
	return out
}
