// Package sharded is a store.Store spread over several shards: each alert
// goes to one shard picked by a hash of its uuid, and reads (queries,
// statistics, the live tail, the forwarders' consumer groups) ask every
// shard and merge the answers in the store's order. On a Redis Cluster each
// shard is a redis.Store with its own hash tag, so the shards' keys live on
// different masters and the cluster's capacity adds up (see Tags).
//
// Event IDs name their shard: "<shard's own ID>.<shard>" (store.ShardID);
// an ID without a shard is shard 0's, so IDs handed out before a store
// grew from one shard to several stay valid. Paging cursors hold one
// cursor per shard.
//
// Limits of composing independent shards: a batch whose alerts go to
// several shards is stored by each shard atomically, but not atomically as
// a whole: when a shard fails, the alerts other shards took stay stored (a
// retry stores them once, appends being idempotent by uuid). Retention by
// count applies per shard (MaxEvents/N each). Within one millisecond, IDs
// of different shards order by shard number, not by arrival.
package sharded

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// Shard is one shard's store. Horizon returns an event ID that every event
// the shard stores from now on exceeds (redis.Store.Horizon); the tail
// merges shards with it so it never hands out an event while another
// shard may still store an older one.
type Shard interface {
	store.Store
	Horizon(ctx context.Context) (string, error)
}

// Store spreads alerts over shards. It is safe for concurrent use.
type Store struct {
	shards []Shard
	// rr spreads alerts without a uuid (they cannot be deduplicated, so
	// any shard will do).
	rr atomic.Uint64
}

// New composes the shards, in order: an alert's shard is a hash of its
// uuid modulo len(shards), so reopening with the same shards in the same
// order finds every alert where it was stored.
func New(shards []Shard) (*Store, error) {
	if len(shards) == 0 {
		return nil, errors.New("sharded store: no shards")
	}
	if len(shards) > store.MaxShards {
		return nil, fmt.Errorf("sharded store: %d shards, at most %d", len(shards), store.MaxShards)
	}
	return &Store{shards: shards}, nil
}

// shardOf picks the shard of an alert: by uuid, so a retried alert reaches
// the shard that deduplicates it.
func (s *Store) shardOf(a *alert.Alert) int {
	n := uint64(len(s.shards))
	if a.UUID == "" {
		return int(s.rr.Add(1) % n)
	}
	h := fnv.New64a()
	h.Write([]byte(a.UUID))
	return int(h.Sum64() % n)
}

// fanOut runs fn for every shard concurrently and joins their errors.
func (s *Store) fanOut(fn func(i int, sh Shard) error) error {
	if len(s.shards) == 1 {
		return fn(0, s.shards[0])
	}
	errs := make([]error, len(s.shards))
	var wg sync.WaitGroup
	for i, sh := range s.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i, sh)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// global turns a shard's event into the composed store's.
func global(e store.Event, shard int) store.Event {
	e.ID = store.ShardID(e.ID, shard)
	return e
}

// local splits a composed ID into its shard and the shard's own ID.
func (s *Store) local(id string) (string, int, error) {
	l, i, err := store.SplitShard(id)
	if err != nil {
		return "", 0, err
	}
	if i >= len(s.shards) {
		return "", 0, fmt.Errorf("event id %q names shard %d of %d", id, i, len(s.shards))
	}
	return l, i, nil
}

// Append implements store.Store: each shard stores its part of the batch
// atomically, the shards in parallel.
func (s *Store) Append(ctx context.Context, alerts []alert.Alert) ([]string, error) {
	if len(alerts) == 0 {
		return nil, nil
	}
	// Refuse what every shard would refuse before any shard stores a part.
	for i := range alerts {
		if !alerts[i].Priority.Valid() {
			return nil, fmt.Errorf("append alert %d: invalid priority %d", i, int(alerts[i].Priority))
		}
	}
	parts := make([][]alert.Alert, len(s.shards))
	pos := make([][]int, len(s.shards))
	for i := range alerts {
		k := s.shardOf(&alerts[i])
		parts[k] = append(parts[k], alerts[i])
		pos[k] = append(pos[k], i)
	}
	ids := make([]string, len(alerts))
	err := s.fanOut(func(k int, sh Shard) error {
		if len(parts[k]) == 0 {
			return nil
		}
		got, err := sh.Append(ctx, parts[k])
		if err != nil {
			return fmt.Errorf("shard %d: %w", k, err)
		}
		if len(got) != len(parts[k]) {
			return fmt.Errorf("shard %d: %d ids for %d alerts", k, len(got), len(parts[k]))
		}
		for j, id := range got {
			ids[pos[k][j]] = store.ShardID(id, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sharded store: %w", err)
	}
	return ids, nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (store.Event, error) {
	l, k, err := s.local(id)
	if err != nil {
		return store.Event{}, store.ErrNotFound
	}
	e, err := s.shards[k].Get(ctx, l)
	if err != nil {
		return store.Event{}, err
	}
	return global(e, k), nil
}

// Health implements store.Store: OK when every shard is.
func (s *Store) Health(ctx context.Context) store.Health {
	hs := make([]store.Health, len(s.shards))
	_ = s.fanOut(func(i int, sh Shard) error {
		hs[i] = sh.Health(ctx)
		return nil
	})
	h := store.Health{OK: true, Kind: hs[0].Kind}
	var details, errs []string
	for i, x := range hs {
		h.Events += x.Events
		if !x.OK {
			h.OK = false
		}
		if x.Error != "" {
			errs = append(errs, fmt.Sprintf("shard %d: %s", i, x.Error))
		}
		if i == 0 || x.Detail != hs[0].Detail {
			details = append(details, x.Detail)
		}
	}
	h.Detail = fmt.Sprintf("%d shards: %s", len(s.shards), strings.Join(details, "; "))
	h.Error = strings.Join(errs, "; ")
	return h
}

// Close implements store.Store.
func (s *Store) Close() error {
	var errs []error
	for i, sh := range s.shards {
		if err := sh.Close(); err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// blockSlice bounds one blocking wait on the shards: a merged Tail or
// Claim notices an event on any shard within it.
const blockSlice = 100 * time.Millisecond

var _ store.Store = (*Store)(nil)

// ShardCount reports how many shards the store spreads alerts over.
func (s *Store) ShardCount() int { return len(s.shards) }
