package forwarders

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
)

// RetryPolicy says how long and how often a failing delivery is retried.
type RetryPolicy struct {
	// MaxAttempts is how many times an alert is tried before it is
	// dead-lettered (attempts by crashed replicas count too). 0 means 12.
	MaxAttempts int
	// InitialBackoff is the wait after the first failure; it doubles per
	// consecutive failure of the target up to MaxBackoff. 0 means 500ms / 30s.
	InitialBackoff, MaxBackoff time.Duration
	// Timeout bounds one Forward call. 0 means 10s.
	Timeout time.Duration
	// ProbeInterval is how often a target paused by its backoff is sent
	// one waiting alert alone, so that the backlog goes as soon as the
	// target is back instead of at the end of a backoff of up to
	// MaxBackoff. 0 means 2s.
	ProbeInterval time.Duration
}

// withDefaults fills zero fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 12
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = 500 * time.Millisecond
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Second
	}
	if p.ProbeInterval <= 0 {
		p.ProbeInterval = 2 * time.Second
	}
	return p
}

// Backoff is the wait before retry number n (n >= 1 consecutive failures):
// exponential, capped, with "equal jitter" (half fixed, half random) so
// replicas retrying the same dead target spread out but never retry
// immediately.
func (p RetryPolicy) Backoff(n int) time.Duration {
	p = p.withDefaults()
	d := p.InitialBackoff
	for i := 1; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	if d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	half := d / 2
	return half + rand.N(half+1)
}

// retryAfter returns a target-requested delay (HTTP 429 Retry-After) found
// in err, or 0.
func retryAfter(err error) time.Duration {
	var se *outhttp.StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}
