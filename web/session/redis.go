package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store in Redis (standalone, Sentinel or Cluster), shared by
// every hub replica on that Redis. Each session is one key that Redis
// expires with the session.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedis returns a Store using c, with keys prefix+<key>.
func NewRedis(c redis.UniversalClient, prefix string) *Redis {
	return &Redis{c: c, prefix: prefix}
}

// Put implements Store.
func (r *Redis) Put(ctx context.Context, key string, s Session) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := r.c.SetArgs(ctx, r.prefix+key, b, redis.SetArgs{ExpireAt: s.Expires}).Err(); err != nil {
		return fmt.Errorf("session put: %w", err)
	}
	return nil
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, key string) (Session, error) {
	b, err := r.c.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, ErrNotFound
	}
	if err != nil {
		return Session{}, fmt.Errorf("session get: %w", err)
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return Session{}, fmt.Errorf("session %s: %w", key, err)
	}
	if !s.Expires.After(time.Now()) {
		return Session{}, ErrNotFound
	}
	return s, nil
}

// Delete implements Store.
func (r *Redis) Delete(ctx context.Context, key string) error {
	if err := r.c.Del(ctx, r.prefix+key).Err(); err != nil {
		return fmt.Errorf("session delete: %w", err)
	}
	return nil
}
