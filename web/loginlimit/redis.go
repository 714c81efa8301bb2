package loginlimit

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis counts attempts in Redis (standalone, Sentinel or Cluster), so
// every hub replica on it shares one count per client and one overall
// budget: a guesser gains nothing by spreading over replicas. Each check
// is one script run, atomic across replicas.
//
// Times come from the replica's clock (now); replicas' clocks a few
// seconds apart shift a 30 s lock-out by as much. A client's record
// expires a day after its last attempt.
type Redis struct {
	c      redis.UniversalClient
	client func(netip.Prefix) string
	all    string
	p      Policy
	now    func() time.Time
}

// NewRedis returns a limiter keeping its counts under prefix. On Redis
// Cluster the prefix must carry a hash tag ("{saker-ui}:login:"), since
// each script run touches a client's key and the overall one.
func NewRedis(c redis.UniversalClient, prefix string, p Policy, now func() time.Time) *Redis {
	return &Redis{c: c, p: p, now: now, all: prefix + "all",
		client: func(k netip.Prefix) string { return prefix + "c:" + k.String() }}
}

// attemptScript: KEYS client, overall; ARGV now_ms free base_ms max_ms
// rate_ms burst idle_ms. Returns {ok, wait_ms, first}. Mirrors
// Memory.Attempt.
var attemptScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local locked = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if now < locked then
  local told = redis.call('HGET', KEYS[1], 'told')
  if told ~= '1' then redis.call('HSET', KEYS[1], 'told', '1') end
  return {0, locked - now, told ~= '1' and 1 or 0}
end
local rate, burst = tonumber(ARGV[5]), tonumber(ARGV[6])
local g = redis.call('HMGET', KEYS[2], 'tokens', 'at')
local tokens = tonumber(g[1]) or burst
local at = tonumber(g[2]) or now
-- A replica whose clock is behind adds nothing and moves nothing back.
if now > at then
  tokens = math.min(burst, tokens + (now - at) / rate)
  at = now
end
local refill = math.ceil(burst * rate)
if tokens < 1 then
  redis.call('HSET', KEYS[2], 'tokens', tostring(tokens), 'at', tostring(at))
  redis.call('PEXPIRE', KEYS[2], refill)
  return {0, math.ceil((1 - tokens) * rate), 0}
end
redis.call('HSET', KEYS[2], 'tokens', tostring(tokens - 1), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[2], refill)
local f = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local free = tonumber(ARGV[2])
if f > free then
  local lock = math.min(tonumber(ARGV[3]) * 2 ^ math.min(f - free - 1, 20), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'until', tostring(now + lock), 'told', '0')
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {1, 0, 0}
`)

// succeededScript: KEYS client, overall; ARGV burst.
var succeededScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
local t = tonumber(redis.call('HGET', KEYS[2], 'tokens') or '')
if t then redis.call('HSET', KEYS[2], 'tokens', tostring(math.min(tonumber(ARGV[1]), t + 1))) end
return 1
`)

// clientIdle is how long a client's record outlives its last attempt.
const clientIdle = 24 * time.Hour

// Attempt reserves one login attempt for client; an error means Redis did
// not answer (nothing was counted).
func (l *Redis) Attempt(ctx context.Context, client netip.Prefix) (Verdict, error) {
	res, err := attemptScript.Run(ctx, l.c, []string{l.client(client), l.all},
		l.now().UnixMilli(), l.p.Free, l.p.BaseLock.Milliseconds(), l.p.MaxLock.Milliseconds(),
		l.p.Rate.Milliseconds(), l.p.Burst, clientIdle.Milliseconds()).Int64Slice()
	if err != nil {
		return Verdict{}, fmt.Errorf("login limit: %w", err)
	}
	if len(res) != 3 {
		return Verdict{}, fmt.Errorf("login limit: script answered %v", res)
	}
	return Verdict{OK: res[0] == 1, Wait: time.Duration(res[1]) * time.Millisecond, First: res[2] == 1}, nil
}

// Succeeded forgives the client's attempts after a correct password.
func (l *Redis) Succeeded(ctx context.Context, client netip.Prefix) error {
	if err := succeededScript.Run(ctx, l.c, []string{l.client(client), l.all}, l.p.Burst).Err(); err != nil {
		return fmt.Errorf("login limit: %w", err)
	}
	return nil
}
