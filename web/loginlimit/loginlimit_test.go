package loginlimit

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store/redistest"
)

// limiter is what both implementations offer.
type limiter interface {
	Attempt(ctx context.Context, client netip.Prefix) (Verdict, error)
	Succeeded(ctx context.Context, client netip.Prefix) error
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newRedisClient(t *testing.T) redis.UniversalClient {
	srv := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestLimiters runs one contract over the in-process and the Redis limiter.
func TestLimiters(t *testing.T) {
	impls := map[string]func(t *testing.T, now func() time.Time) limiter{
		"memory": func(_ *testing.T, now func() time.Time) limiter { return NewMemory(DefaultPolicy(), now) },
		"redis": func(t *testing.T, now func() time.Time) limiter {
			return NewRedis(newRedisClient(t), "{saker-ui}:login:", DefaultPolicy(), now)
		},
	}
	for name, mk := range impls {
		t.Run(name+"/lockout", func(t *testing.T) { testLockout(t, mk) })
		t.Run(name+"/overall", func(t *testing.T) { testOverall(t, mk) })
	}
}

var (
	guesser = ClientKey(netip.MustParseAddr("192.0.2.7"))
	other   = ClientKey(netip.MustParseAddr("2001:db8:1:2:3::9"))
)

func attempt(t *testing.T, l limiter, c netip.Prefix) Verdict {
	t.Helper()
	v, err := l.Attempt(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testLockout(t *testing.T, mk func(*testing.T, func() time.Time) limiter) {
	clk := &clock{time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	l := mk(t, clk.now)
	for i := range 6 { // 5 free, the 6th is checked and starts a lock-out
		if v := attempt(t, l, guesser); !v.OK {
			t.Fatalf("attempt %d refused: %+v", i+1, v)
		}
	}
	if v := attempt(t, l, guesser); v.OK || v.Wait != 30*time.Second || !v.First {
		t.Fatalf("7th attempt: %+v, want refused for 30s, first", v)
	}
	clk.t = clk.t.Add(10 * time.Second)
	if v := attempt(t, l, guesser); v.OK || v.Wait != 20*time.Second || v.First {
		t.Fatalf("during the lock-out: %+v, want refused for 20s, not first", v)
	}
	// Another client is not locked out by the first one's guesses.
	if v := attempt(t, l, other); !v.OK {
		t.Fatalf("other client: %+v", v)
	}
	// The lock-out can be waited out; each further failure doubles it.
	clk.t = clk.t.Add(21 * time.Second)
	if v := attempt(t, l, guesser); !v.OK {
		t.Fatalf("after the wait: %+v", v)
	}
	if v := attempt(t, l, guesser); v.OK || v.Wait != 60*time.Second || !v.First {
		t.Fatalf("second lock-out: %+v, want 60s", v)
	}
	// Success forgives.
	clk.t = clk.t.Add(61 * time.Second)
	if v := attempt(t, l, guesser); !v.OK {
		t.Fatalf("after the second wait: %+v", v)
	}
	if err := l.Succeeded(t.Context(), guesser); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if v := attempt(t, l, guesser); !v.OK {
			t.Fatalf("after success, attempt %d refused: %+v", i+1, v)
		}
	}
	// The longest lock-out is 15 minutes.
	for range 20 {
		clk.t = clk.t.Add(time.Hour)
		attempt(t, l, guesser)
	}
	clk.t = clk.t.Add(time.Second)
	if v := attempt(t, l, guesser); v.OK || v.Wait != 15*time.Minute-time.Second {
		t.Fatalf("capped lock-out: %+v", v)
	}
}

func testOverall(t *testing.T, mk func(*testing.T, func() time.Time) limiter) {
	clk := &clock{time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	l := mk(t, clk.now)
	from := func(i int) netip.Prefix {
		return ClientKey(netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i % 250)}))
	}
	for i := range 60 {
		if v := attempt(t, l, from(i)); !v.OK {
			t.Fatalf("attempt %d of the burst refused: %+v", i, v)
		}
	}
	if v := attempt(t, l, from(60)); v.OK || v.Wait != time.Second {
		t.Fatalf("61st client at once: %+v, want refused for 1s", v)
	}
	clk.t = clk.t.Add(time.Second)
	if v := attempt(t, l, from(61)); !v.OK {
		t.Fatalf("after a second: %+v", v)
	}
	if v := attempt(t, l, from(62)); v.OK {
		t.Fatalf("two in one second: %+v", v)
	}
}

// TestRedisSharedByReplicas: two replicas' limiters on one Redis count
// one client's guesses together.
func TestRedisSharedByReplicas(t *testing.T) {
	c := newRedisClient(t)
	clk := &clock{time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	a := NewRedis(c, "{saker-ui}:login:", DefaultPolicy(), clk.now)
	b := NewRedis(c, "{saker-ui}:login:", DefaultPolicy(), clk.now)
	for i := range 6 {
		l := []limiter{a, b}[i%2]
		if v := attempt(t, l, guesser); !v.OK {
			t.Fatalf("attempt %d: %+v", i, v)
		}
	}
	for _, l := range []limiter{a, b} {
		if v := attempt(t, l, guesser); v.OK {
			t.Fatalf("replica let a locked-out client try: %+v", v)
		}
	}
	if err := b.Succeeded(t.Context(), guesser); err != nil {
		t.Fatal(err)
	}
	if v := attempt(t, a, guesser); !v.OK {
		t.Fatalf("forgiven on one replica, not on the other: %+v", v)
	}
}

// TestRedisDown: an unreachable Redis is an error, not a verdict.
func TestRedisDown(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	l := NewRedis(c, "x:", DefaultPolicy(), time.Now)
	if v, err := l.Attempt(t.Context(), guesser); err == nil {
		t.Fatalf("Attempt with Redis down: %+v, no error", v)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":           "192.0.2.7/32",
		"::ffff:192.0.2.7":    "192.0.2.7/32",
		"2001:db8:1:2:3::9":   "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::": "2001:db8:1:2::/64",
	} {
		if got := ClientKey(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("ClientKey(%s) = %s, want %s", in, got, want)
		}
	}
	if ClientKey(netip.Addr{}).IsValid() {
		t.Error("ClientKey of no address is valid")
	}
}
