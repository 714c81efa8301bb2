package sharded

import (
	"context"
	"errors"
	"fmt"

	redisstore "github.com/saker-sec/saker/hub/store/redis"
)

// OpenRedis opens n Redis stores with the options, each with its own hash
// tag (Tags of o.HashTag), and composes them. o.MaxEvents bounds the
// whole: each shard keeps its share (rounded up).
func OpenRedis(ctx context.Context, o redisstore.Options, n int) (*Store, error) {
	if n < 1 {
		return nil, fmt.Errorf("sharded store: %d shards, need at least 1", n)
	}
	base := o.HashTag
	if base == "" {
		base = redisstore.DefaultHashTag
	}
	if o.MaxEvents > 0 {
		o.MaxEvents = (o.MaxEvents + int64(n) - 1) / int64(n)
	}
	var shards []Shard
	for i, tag := range Tags(base, n) {
		so := o
		so.HashTag = tag
		sh, err := redisstore.New(ctx, so)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("shard %d {%s}: %w", i, tag, err), closeAll(shards))
		}
		shards = append(shards, sh)
	}
	s, err := New(shards)
	if err != nil {
		return nil, errors.Join(err, closeAll(shards))
	}
	return s, nil
}

func closeAll(shards []Shard) error {
	var errs []error
	for _, s := range shards {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
