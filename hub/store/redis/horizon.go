package redis

import (
	"context"
	"fmt"
	"math"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store"
)

// horizonScript runs on the master owning the stream's slot (KEYS[1]), so
// it reads that server's clock and stream together.
var horizonScript = goredis.NewScript(`
local t = redis.call('TIME')
local last = '0-0'
local info = redis.pcall('XINFO', 'STREAM', KEYS[1])
if type(info) == 'table' and info.err == nil then
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
end
return {t[1], t[2], last}
`)

// Horizon returns an event ID every event stored from now on will exceed:
// the later of the stream's last generated ID and the server's current
// millisecond minus one. Redis gives a new entry the current millisecond
// (or, when the clock is behind the last ID, the last ID's successor), so
// once Horizon returned, no entry at or below it can still appear, unless
// the server's clock steps back. A store composing several shards tails
// them in one order with it (hub/store/sharded).
func (s *Store) Horizon(ctx context.Context) (string, error) {
	v, err := horizonScript.Run(ctx, s.c, []string{s.stream}).Slice()
	if err != nil {
		return "", fmt.Errorf("redis store: horizon: %w", err)
	}
	if len(v) != 3 {
		return "", fmt.Errorf("redis store: horizon: unexpected reply %v", v)
	}
	sec, err1 := parseUint(v[0])
	last, ok := v[2].(string)
	if err1 != nil || !ok {
		return "", fmt.Errorf("redis store: horizon: unexpected reply %v", v)
	}
	now := sec * 1000
	if usec, err := parseUint(v[1]); err == nil {
		now += usec / 1000
	}
	clock := store.FormatID(now-1, math.MaxUint64)
	if now == 0 {
		clock = "0-0"
	}
	if store.CompareIDs(last, clock) > 0 {
		return last, nil
	}
	return clock, nil
}

func parseUint(v any) (uint64, error) {
	switch v := v.(type) {
	case string:
		var n uint64
		_, err := fmt.Sscan(v, &n)
		return n, err
	case int64:
		return uint64(v), nil
	}
	return 0, fmt.Errorf("not a number: %v", v)
}
