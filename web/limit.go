package web

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// loginLimiter slows password guessing down. Each client (an IPv4
// address, or an IPv6 /64) gets a few free attempts; after those every
// failure locks it out for twice as long as the one before (30 s up to
// 15 min), so a legitimate user who mistyped waits, and a guesser gets a
// handful of tries an hour. On top, failures from all clients together
// are a token bucket (one a second, 60 in a burst), which bounds a
// guesser spread over many addresses.
//
// Every attempt is counted as a failure before the password is checked
// and forgiven on success, so parallel connections cannot slip guesses in
// between a check and its verdict.
type loginLimiter struct {
	now func() time.Time

	free      int           // attempts before lock-outs start
	baseLock  time.Duration // first lock-out
	maxLock   time.Duration // longest lock-out
	rate      time.Duration // one global token per rate
	burst     float64
	maxClient int // clients tracked at most

	mu      sync.Mutex
	clients map[netip.Prefix]*clientAttempts
	tokens  float64
	tokenAt time.Time
}

type clientAttempts struct {
	failures    int
	lockedUntil time.Time
	last        time.Time
	told        bool // the current lock-out was logged once already
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{
		now: now, free: 5, baseLock: 30 * time.Second, maxLock: 15 * time.Minute,
		rate: time.Second, burst: 60, maxClient: 100000,
		clients: map[netip.Prefix]*clientAttempts{}, tokens: 60, tokenAt: now(),
	}
}

// clientKey is the address a request comes from, IPv6 grouped by /64
// (one host usually owns a whole /64).
func clientKey(r *http.Request) netip.Prefix {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// attempt reserves one login attempt for client; when refused it says how
// long to wait, and first is true for the first refusal of a lock-out (to
// log once, not once per guess).
func (l *loginLimiter) attempt(client netip.Prefix) (wait time.Duration, ok, first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	c := l.clients[client]
	if c != nil && now.Before(c.lockedUntil) {
		first, c.told = !c.told, true
		return c.lockedUntil.Sub(now), false, first
	}
	l.tokens = min(l.burst, l.tokens+float64(now.Sub(l.tokenAt))/float64(l.rate))
	l.tokenAt = now
	if l.tokens < 1 {
		return time.Duration((1 - l.tokens) * float64(l.rate)), false, false
	}
	l.tokens--
	if c == nil {
		l.prune(now)
		c = &clientAttempts{}
		l.clients[client] = c
	}
	c.failures++
	c.last = now
	if c.failures > l.free {
		lock := l.baseLock << min(c.failures-l.free-1, 20)
		c.lockedUntil = now.Add(min(lock, l.maxLock))
		c.told = false
	}
	return 0, true, false
}

// succeeded forgives the client's attempts after a correct password.
func (l *loginLimiter) succeeded(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, client)
	l.tokens = min(l.burst, l.tokens+1)
}

// prune forgets clients idle for a day, and the oldest unlocked ones when
// too many are tracked. Callers hold l.mu.
func (l *loginLimiter) prune(now time.Time) {
	if len(l.clients) < l.maxClient {
		return
	}
	for k, c := range l.clients {
		if now.Sub(c.last) > 24*time.Hour || (len(l.clients) >= l.maxClient && !now.Before(c.lockedUntil)) {
			delete(l.clients, k)
		}
	}
}
