package hub

import (
	"testing"

	"github.com/saker-sec/saker/hub/store/redistest"
)

// redisEnv starts a throw-away redis-server (skipping, or failing when
// SAKER_REQUIRE_REDIS=1, without one) and returns the hub settings for it.
func redisEnv(t testing.TB) map[string]string {
	return map[string]string{"REDIS_ADDRESS": redistest.Addr(t)}
}

func benchRedisEnv(b *testing.B) map[string]string { return redisEnv(b) }
