// Package loginlimit slows password guessing on the dashboard's login and
// on basic auth. Each client (an IPv4 address, or an IPv6 /64) gets a few
// free attempts; after those every failure locks it out for twice as long
// as the one before (30 s up to 15 min), so a legitimate user who mistyped
// waits, and a guesser gets a handful of tries an hour. On top, failures
// from all clients together are a token bucket (one a second, 60 in a
// burst), which bounds a guesser spread over many addresses.
//
// Every attempt is counted as a failure before the password is checked and
// forgiven on success, so parallel connections cannot slip guesses in
// between a check and its verdict.
//
// Memory counts in one process. Redis counts in the hub's Redis, so every
// replica sharing it sees the same failures and lock-outs.
package loginlimit

import (
	"net/netip"
	"time"
)

// Policy sets the limits.
type Policy struct {
	Free     int           // failed attempts per client before lock-outs start
	BaseLock time.Duration // first lock-out; each further failure doubles it
	MaxLock  time.Duration // longest lock-out
	Rate     time.Duration // the overall budget refills one attempt per Rate
	Burst    int           // overall budget when full
}

// DefaultPolicy is the dashboard's policy: 5 free attempts, then 30 s
// doubling up to 15 min; overall one a second, 60 in a burst.
func DefaultPolicy() Policy {
	return Policy{Free: 5, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute, Rate: time.Second, Burst: 60}
}

// lockFor is the lock-out after a client's n-th failure (0: none).
func (p Policy) lockFor(failures int) time.Duration {
	if failures <= p.Free {
		return 0
	}
	return min(p.BaseLock<<min(failures-p.Free-1, 20), p.MaxLock)
}

// Verdict is the answer to one attempt.
type Verdict struct {
	// OK: the attempt may go on to check the password.
	OK bool
	// Wait is, when refused, how long until the client may try again.
	Wait time.Duration
	// First marks the first refusal of a client's lock-out, so a caller
	// logs a lock-out once rather than once per guess.
	First bool
}

// ClientKey is the key a client's attempts are counted under: its IPv4
// address, or the /64 of an IPv6 address (one host usually owns a whole
// /64). The zero Prefix stands for an address that did not parse.
func ClientKey(addr netip.Addr) netip.Prefix {
	if !addr.IsValid() {
		return netip.Prefix{}
	}
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}
