package loginlimit

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// Memory counts attempts in this process only: hub replicas each keep
// their own counts (a guesser spread over N replicas gets N times the
// budget). Use Redis where replicas share one.
type Memory struct {
	p         Policy
	now       func() time.Time
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
	told        bool // the current lock-out was reported once already
}

// NewMemory returns an in-process limiter; now is its clock.
func NewMemory(p Policy, now func() time.Time) *Memory {
	return &Memory{p: p, now: now, maxClient: 100000, clients: map[netip.Prefix]*clientAttempts{},
		tokens: float64(p.Burst), tokenAt: now()}
}

// Attempt reserves one login attempt for client. It never fails.
func (l *Memory) Attempt(_ context.Context, client netip.Prefix) (Verdict, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	c := l.clients[client]
	if c != nil && now.Before(c.lockedUntil) {
		first := !c.told
		c.told = true
		return Verdict{Wait: c.lockedUntil.Sub(now), First: first}, nil
	}
	l.tokens = min(float64(l.p.Burst), l.tokens+float64(now.Sub(l.tokenAt))/float64(l.p.Rate))
	l.tokenAt = now
	if l.tokens < 1 {
		return Verdict{Wait: time.Duration((1 - l.tokens) * float64(l.p.Rate))}, nil
	}
	l.tokens--
	if c == nil {
		l.prune(now)
		c = &clientAttempts{}
		l.clients[client] = c
	}
	c.failures++
	c.last = now
	if lock := l.p.lockFor(c.failures); lock > 0 {
		c.lockedUntil = now.Add(lock)
		c.told = false
	}
	return Verdict{OK: true}, nil
}

// Succeeded forgives the client's attempts after a correct password.
func (l *Memory) Succeeded(_ context.Context, client netip.Prefix) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, client)
	l.tokens = min(float64(l.p.Burst), l.tokens+1)
	return nil
}

// prune forgets clients idle for a day, and unlocked ones when too many
// are tracked. Callers hold l.mu.
func (l *Memory) prune(now time.Time) {
	if len(l.clients) < l.maxClient {
		return
	}
	for k, c := range l.clients {
		if now.Sub(c.last) > 24*time.Hour || (len(l.clients) >= l.maxClient && !now.Before(c.lockedUntil)) {
			delete(l.clients, k)
		}
	}
}
