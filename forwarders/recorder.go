package forwarders

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/saker-sec/saker/hub/store"
)

// recorder is the one place a target's outcomes are counted: the
// Prometheus series (and the hub's falcosidekick-style outputs counter,
// written in the same calls) are the source of truth, and Status reads its
// counts back from them.
type recorder struct {
	name    string
	m       *metrics
	outputs *prometheus.CounterVec // Options.Outputs; may be nil

	mu            sync.Mutex
	healthy       bool
	lastError     string
	lastErrorAt   time.Time
	lastSuccessAt time.Time
}

func newRecorder(name string, m *metrics, outputs *prometheus.CounterVec) *recorder {
	if outputs != nil {
		for _, s := range []string{"ok", "error", "dead"} {
			outputs.WithLabelValues(name, s)
		}
	}
	return &recorder{name: name, m: m, outputs: outputs, healthy: true}
}

func (r *recorder) output(status string, n int) {
	if r.outputs != nil && n > 0 {
		r.outputs.WithLabelValues(r.name, status).Add(float64(n))
	}
}

// lost records alerts the store lost before they were delivered.
func (r *recorder) lost(n int64) { r.m.lost.WithLabelValues(r.name).Add(float64(n)) }

func (r *recorder) filtered(n int) { r.m.filtered.WithLabelValues(r.name).Add(float64(n)) }

func (r *recorder) retried(n int) { r.m.retried.WithLabelValues(r.name).Add(float64(n)) }

func (r *recorder) request(d time.Duration) {
	r.m.requestDur.WithLabelValues(r.name).Observe(d.Seconds())
}

func (r *recorder) deadLettered(n int) {
	r.m.deadLettered.WithLabelValues(r.name).Add(float64(n))
	r.output("dead", n)
}

// sent records alerts the target accepted at now.
func (r *recorder) sent(ds []store.Delivery, now time.Time) {
	for _, d := range ds {
		if ms, _, err := store.ParseID(d.ID); err == nil {
			r.m.latency.WithLabelValues(r.name).Observe(max(now.Sub(time.UnixMilli(int64(ms))), 0).Seconds())
		}
	}
	r.m.sent.WithLabelValues(r.name).Add(float64(len(ds)))
	r.output("ok", len(ds))
	r.m.up.WithLabelValues(r.name).Set(1)
	r.mu.Lock()
	r.healthy = true
	r.lastSuccessAt = now.UTC()
	r.mu.Unlock()
}

// attemptFailed records a failed attempt of n alerts. A target that only
// refused payloads is up (healthy); one that could not be reached, timed
// out or answered 5xx/429 for an attempted alert is not.
func (r *recorder) attemptFailed(err error, n int, healthy bool) {
	r.m.failed.WithLabelValues(r.name).Add(float64(n))
	r.output("error", n)
	v := 0.0
	if healthy {
		v = 1
	}
	r.m.up.WithLabelValues(r.name).Set(v)
	r.mu.Lock()
	r.healthy = healthy
	r.lastError = err.Error()
	r.lastErrorAt = time.Now().UTC()
	r.mu.Unlock()
}

// status fills the counts and health of s.
func (r *recorder) status(s *Status) {
	s.Sent = counterValue(r.m.sent, r.name)
	s.Failed = counterValue(r.m.failed, r.name)
	s.Retried = counterValue(r.m.retried, r.name)
	s.DeadLettered = counterValue(r.m.deadLettered, r.name)
	s.Filtered = counterValue(r.m.filtered, r.name)
	s.Lost = counterValue(r.m.lost, r.name)
	r.mu.Lock()
	s.Healthy, s.LastError, s.LastErrorAt, s.LastSuccessAt = r.healthy, r.lastError, r.lastErrorAt, r.lastSuccessAt
	r.mu.Unlock()
}

func counterValue(v *prometheus.CounterVec, name string) int64 {
	var m dto.Metric
	if err := v.WithLabelValues(name).Write(&m); err != nil {
		return 0
	}
	return int64(m.GetCounter().GetValue())
}

// backoff is a target's failure state, shared by its workers: consecutive
// failed attempts, the time before which no new attempt starts, and while
// that pause lasts, when the target may next be probed (see loop.probe).
type backoff struct {
	mu        sync.Mutex
	fails     int
	notBefore time.Time
	nextProbe time.Time
	every     time.Duration
}

// failed counts a failed attempt and returns the wait before the next.
func (b *backoff) failed(p RetryPolicy) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fails++
	return p.Backoff(b.fails)
}

// succeeded resets the failure count and ends any pause: the target
// works, so batches waiting for the pause to end go now.
func (b *backoff) succeeded() {
	b.mu.Lock()
	b.fails = 0
	b.notBefore, b.nextProbe = time.Time{}, time.Time{}
	b.mu.Unlock()
}

// pause holds every worker of the target back for d. Meanwhile a probe may
// go every `every`, the first not before hold (a delay the target asked
// for with Retry-After) nor before `every` has passed.
func (b *backoff) pause(d, every, hold time.Duration) {
	b.mu.Lock()
	now := time.Now()
	if t := now.Add(d); t.After(b.notBefore) {
		b.notBefore = t
	}
	if t := now.Add(max(every, hold)); t.After(b.nextProbe) {
		b.nextProbe = t
	}
	b.every = every
	b.mu.Unlock()
}

// wait is how long until attempts may start again.
func (b *backoff) wait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Until(b.notBefore)
}

// untilProbe is how long until the next probe is due (the pause's end if
// that is sooner).
func (b *backoff) untilProbe() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return min(time.Until(b.nextProbe), time.Until(b.notBefore))
}

// probeTurn reports whether the caller is to probe the paused target now;
// it is true for one caller per probe interval.
func (b *backoff) probeTurn() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if !now.Before(b.notBefore) || now.Before(b.nextProbe) {
		return false
	}
	b.nextProbe = now.Add(b.every)
	return true
}

// parking holds batches a target's workers handed back while it backs off,
// so they are retried as soon as the backoff ends rather than when the
// store would hand them out again (MinIdle after their claim, 60 s by
// default). A batch is only taken back while it is young enough that no
// other replica can have reclaimed it.
type parking struct {
	mu sync.Mutex
	// maxAge is how old (since its claim) a parked batch may be when a
	// worker takes it: MinIdle less two request timeouts.
	maxAge  time.Duration
	batches []parked
}

type parked struct {
	ds        []store.Delivery
	claimedAt time.Time
}

func (p *parking) park(ds []store.Delivery, claimedAt time.Time) {
	p.mu.Lock()
	p.batches = append(p.batches, parked{ds: append([]store.Delivery(nil), ds...), claimedAt: claimedAt})
	p.mu.Unlock()
}

// takeOne removes the first alert of the oldest parked batch still young
// enough (dropping those that are not), for a probe.
func (p *parking) takeOne() (store.Delivery, time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.batches) > 0 {
		b := &p.batches[0]
		if time.Since(b.claimedAt) >= p.maxAge || len(b.ds) == 0 {
			p.batches = p.batches[1:]
			continue
		}
		d := b.ds[0]
		if b.ds = b.ds[1:]; len(b.ds) == 0 {
			p.batches = p.batches[1:]
		}
		return d, b.claimedAt, true
	}
	return store.Delivery{}, time.Time{}, false
}

// putBack returns a probed alert to the front of the line.
func (p *parking) putBack(d store.Delivery, claimedAt time.Time) {
	p.mu.Lock()
	p.batches = append([]parked{{ds: []store.Delivery{d}, claimedAt: claimedAt}}, p.batches...)
	p.mu.Unlock()
}

// take returns the oldest parked batch still young enough, dropping those
// that are not (the store hands them out again).
func (p *parking) take() ([]store.Delivery, time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.batches) > 0 {
		b := p.batches[0]
		p.batches = p.batches[1:]
		if time.Since(b.claimedAt) < p.maxAge {
			return b.ds, b.claimedAt, true
		}
	}
	return nil, time.Time{}, false
}
