package forwarders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// Options tune a Dispatcher. The zero value is usable.
type Options struct {
	Retry RetryPolicy
	// Consumer names this process in every consumer group; replicas sharing
	// a store must use different names. Default "<hostname>-<pid>".
	Consumer string
	// MinIdle is how long an alert may stay handed out without being
	// acknowledged before another consumer takes it over (a crashed or
	// stuck replica). A dispatcher never holds a batch longer than half of
	// it. Default max(60s, 4 × Retry.Timeout).
	MinIdle time.Duration
	// Block is how long one Claim waits for new alerts. Default 2s.
	Block time.Duration
	// LagInterval is how often queue depth and lag are refreshed. Default 5s.
	LagInterval time.Duration
	// Outputs, when set, is also incremented per alert with labels
	// (destination, status) and status ok | error | dead: the hub's
	// falcosidekick-style outputs counter.
	Outputs *prometheus.CounterVec
}

func (o Options) withDefaults() Options {
	o.Retry = o.Retry.withDefaults()
	if o.Consumer == "" {
		o.Consumer = DefaultConsumer()
	}
	if o.MinIdle <= 0 {
		o.MinIdle = max(60*time.Second, 4*o.Retry.Timeout)
	}
	if o.Block <= 0 {
		o.Block = 2 * time.Second
	}
	if o.LagInterval <= 0 {
		o.LagInterval = 5 * time.Second
	}
	return o
}

// DefaultConsumer is "<hostname>-<pid>": unique per process, stable in logs.
func DefaultConsumer() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "saker"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// Dispatcher runs one delivery loop per target over the target's own
// consumer group, so a slow or dead target delays only itself; ingestion
// never waits on any of them (it only appends to the store).
type Dispatcher struct {
	st     store.Store
	loops  []*loop
	logger *slog.Logger
	m      *metrics
	opts   Options

	mu      sync.Mutex
	running bool
}

// NewDispatcher prepares loops for targets. reg may be nil (no metrics
// registered); target names must be unique.
func NewDispatcher(st store.Store, targets []Target, logger *slog.Logger, reg prometheus.Registerer, opts Options) (*Dispatcher, error) {
	if st == nil {
		return nil, errors.New("forwarders: nil store")
	}
	if logger == nil {
		logger = slog.Default()
	}
	opts = opts.withDefaults()
	names := make([]string, 0, len(targets))
	seen := map[string]bool{}
	for _, t := range targets {
		if t.Name == "" || t.Forwarder == nil {
			return nil, fmt.Errorf("forwarders: target %q has no name or forwarder", t.Name)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("forwarders: duplicate target %q", t.Name)
		}
		seen[t.Name] = true
		names = append(names, t.Name)
	}
	m, err := newMetrics(reg, names)
	if err != nil {
		return nil, fmt.Errorf("forwarders: register metrics: %w", err)
	}
	d := &Dispatcher{st: st, logger: logger, m: m, opts: opts}
	for _, t := range targets {
		if t.MaxBatch <= 0 {
			t.MaxBatch = 100
		}
		l := &loop{d: d, t: t, log: logger.With("forwarder", t.Name)}
		l.state.Healthy = true
		if opts.Outputs != nil {
			for _, s := range []string{"ok", "error", "dead"} {
				opts.Outputs.WithLabelValues(t.Name, s)
			}
		}
		d.loops = append(d.loops, l)
	}
	return d, nil
}

// Targets lists the target names in order.
func (d *Dispatcher) Targets() []string {
	out := make([]string, len(d.loops))
	for i, l := range d.loops {
		out[i] = l.t.Name
	}
	return out
}

// Run delivers until ctx is cancelled, then returns nil. Alerts in flight
// at cancellation stay unacknowledged and are delivered by the next run
// (or another replica) after MinIdle.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return errors.New("forwarders: dispatcher already running")
	}
	d.running = true
	d.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range d.loops {
		wg.Add(2)
		go func() { defer wg.Done(); l.run(ctx) }()
		go func() { defer wg.Done(); l.watchLag(ctx) }()
	}
	wg.Wait()
	return nil
}

// Status is one target's state for the dashboard's info view. Counters
// are this process's since start; Pending, Lag and DeadLetters come from
// the shared store and cover every replica.
type Status struct {
	Name          string             `json:"name"`
	Endpoint      string             `json:"endpoint,omitempty"`
	MinPriority   string             `json:"minimum_priority,omitempty"`
	Healthy       bool               `json:"healthy"`
	LastError     string             `json:"last_error,omitempty"`
	LastErrorAt   time.Time          `json:"last_error_at,omitzero"`
	LastSuccessAt time.Time          `json:"last_success_at,omitzero"`
	Sent          int64              `json:"sent"`
	Failed        int64              `json:"failed"`
	Retried       int64              `json:"retried"`
	DeadLettered  int64              `json:"dead_lettered"`
	Filtered      int64              `json:"filtered"`
	Pending       int64              `json:"pending"`
	LagSeconds    float64            `json:"lag_seconds"`
	DeadLetters   []store.DeadLetter `json:"dead_letters,omitempty"` // newest first, up to 10
}

// Status reports every target, refreshing pending/lag and dead letters
// from the store (bounded by ctx).
func (d *Dispatcher) Status(ctx context.Context) []Status {
	out := make([]Status, 0, len(d.loops))
	for _, l := range d.loops {
		if dl, err := l.deliveryLog(ctx); err == nil {
			l.refreshLag(ctx, dl)
		}
		l.mu.Lock()
		s := l.state
		l.mu.Unlock()
		s.Name, s.Endpoint = l.t.Name, l.t.Endpoint
		if l.t.MinPriority.Valid() {
			s.MinPriority = l.t.MinPriority.String()
		}
		if dls, err := d.DeadLetters(ctx, l.t.Name, 10); err == nil {
			s.DeadLetters = dls
		}
		out = append(out, s)
	}
	return out
}

// DeadLetters lists a target's dead letters, newest first.
func (d *Dispatcher) DeadLetters(ctx context.Context, target string, limit int) ([]store.DeadLetter, error) {
	for _, l := range d.loops {
		if l.t.Name == target {
			dl, err := l.deliveryLog(ctx)
			if err != nil {
				return nil, err
			}
			return dl.DeadLetters(ctx, limit)
		}
	}
	return nil, fmt.Errorf("forwarders: unknown target %q", target)
}

// loop delivers one target's alerts.
type loop struct {
	d   *Dispatcher
	t   Target
	log *slog.Logger

	dlMu sync.Mutex
	dl   store.DeliveryLog

	fails     int       // consecutive failed attempts against the target
	notBefore time.Time // no attempt before this (backoff carried across batches)

	mu    sync.Mutex
	state Status
}

func (l *loop) deliveryLog(ctx context.Context) (store.DeliveryLog, error) {
	l.dlMu.Lock()
	defer l.dlMu.Unlock()
	if l.dl != nil {
		return l.dl, nil
	}
	dl, err := l.d.st.Deliveries(ctx, Group(l.t.Name))
	if err != nil {
		return nil, fmt.Errorf("open delivery log %s: %w", Group(l.t.Name), err)
	}
	l.dl = dl
	return dl, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (l *loop) run(ctx context.Context) {
	storeFails := 0
	for ctx.Err() == nil {
		if !sleep(ctx, time.Until(l.notBefore)) {
			return
		}
		dl, err := l.deliveryLog(ctx)
		var ds []store.Delivery
		if err == nil {
			ds, err = dl.Claim(ctx, l.d.opts.Consumer, l.t.MaxBatch, l.d.opts.MinIdle, l.d.opts.Block)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			storeFails++
			l.log.Warn("claim from store failed", "err", err)
			sleep(ctx, l.d.opts.Retry.Backoff(storeFails))
			continue
		}
		storeFails = 0
		if len(ds) > 0 {
			l.deliver(ctx, dl, ds)
		}
	}
}

func (l *loop) watchLag(ctx context.Context) {
	t := time.NewTicker(l.d.opts.LagInterval)
	defer t.Stop()
	for {
		if dl, err := l.deliveryLog(ctx); err == nil {
			l.refreshLag(ctx, dl)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (l *loop) refreshLag(ctx context.Context, dl store.DeliveryLog) {
	n, oldest, err := dl.Lag(ctx)
	if err != nil {
		return
	}
	l.d.m.pending.WithLabelValues(l.t.Name).Set(float64(n))
	l.d.m.oldest.WithLabelValues(l.t.Name).Set(oldest.Seconds())
	l.mu.Lock()
	l.state.Pending, l.state.LagSeconds = n, oldest.Seconds()
	l.mu.Unlock()
}

func alertsOf(ds []store.Delivery) []alert.Alert {
	out := make([]alert.Alert, len(ds))
	for i := range ds {
		out[i] = ds[i].Alert
	}
	return out
}

func ids(ds []store.Delivery) []string {
	out := make([]string, len(ds))
	for i := range ds {
		out[i] = ds[i].ID
	}
	return out
}

// deliver sends one claimed batch until every alert is acknowledged,
// dead-lettered, or left pending for a later reclaim (shutdown, or a target
// down longer than the hold limit).
func (l *loop) deliver(ctx context.Context, dl store.DeliveryLog, ds []store.Delivery) {
	name := l.t.Name
	send := ds[:0:0]
	var skip []string
	for _, d := range ds {
		if l.t.MinPriority.Valid() && d.Priority < l.t.MinPriority {
			skip = append(skip, d.ID)
			continue
		}
		send = append(send, d)
	}
	if len(skip) > 0 {
		if err := dl.Ack(ctx, skip...); err != nil {
			l.log.Warn("acknowledge filtered alerts failed", "err", err)
		} else {
			l.d.m.filtered.WithLabelValues(name).Add(float64(len(skip)))
			l.mu.Lock()
			l.state.Filtered += int64(len(skip))
			l.mu.Unlock()
		}
	}
	pol := l.d.opts.Retry
	holdLimit := l.d.opts.MinIdle / 2
	held := time.Now()
	// tries counts this hold's real attempts per alert; Attempts-1 earlier
	// hand-outs (to a replica that crashed or gave the batch back) count as
	// at least one attempt each.
	tries := make(map[string]int, len(send))
	for len(send) > 0 {
		if ctx.Err() != nil {
			return
		}
		cctx, cancel := context.WithTimeout(ctx, pol.Timeout)
		start := time.Now()
		retry, err := l.t.Forwarder.Forward(cctx, alertsOf(send))
		cancel()
		l.d.m.requestDur.WithLabelValues(name).Observe(time.Since(start).Seconds())
		if err != nil && ctx.Err() != nil {
			return // shutting down: leave pending for the next process
		}
		if err == nil {
			l.succeeded(ctx, dl, send)
			return
		}
		var pe *PartialError
		isPartial := errors.As(err, &pe)
		if !isPartial && !retry && len(send) > 1 {
			// The target refused the batch as a whole (e.g. one bad alert in
			// a Loki push): find the culprits by sending them one by one.
			for i := range send {
				l.deliver(ctx, dl, send[i:i+1])
			}
			return
		}
		failed := map[int]Failure{}
		if isPartial {
			for _, f := range pe.Failures {
				failed[f.Index] = f
			}
		} else {
			for i := range send {
				failed[i] = Failure{Index: i, Retry: retry, Err: err}
			}
		}
		var ok, keep []store.Delivery
		attempted, transient := 0, 0
		for i, d := range send {
			f, bad := failed[i]
			if !bad {
				ok = append(ok, d)
				continue
			}
			if !f.Skipped {
				tries[d.ID]++
				attempted++
				if f.Retry {
					transient++
				}
			}
			n := d.Attempts - 1 + tries[d.ID]
			switch {
			case !f.Retry:
				l.deadLetter(ctx, dl, d, n, f.Err.Error())
			case n >= pol.MaxAttempts:
				l.deadLetter(ctx, dl, d, n, fmt.Sprintf("gave up after %d attempts: %v", n, f.Err))
			default:
				keep = append(keep, d)
			}
		}
		if len(ok) > 0 {
			l.succeeded(ctx, dl, ok)
		}
		l.d.m.failed.WithLabelValues(name).Add(float64(attempted))
		l.countOutputs("error", attempted)
		l.failedAttempt(err, transient == 0, attempted)
		send = keep
		if len(send) == 0 {
			return
		}
		if transient == 0 {
			continue // only refusals and untried alerts: go on without waiting
		}
		l.fails++
		l.d.m.retried.WithLabelValues(name).Add(float64(len(send)))
		l.mu.Lock()
		l.state.Retried += int64(len(send))
		l.mu.Unlock()
		wait := max(pol.Backoff(l.fails), retryAfter(err))
		if time.Since(held)+wait+pol.Timeout > holdLimit {
			// Hand the batch back: it is reclaimed after MinIdle (by this or
			// another replica, Attempts counting up) while this loop waits
			// out the backoff, so no replica sees it idle while we still
			// work on it.
			l.notBefore = time.Now().Add(wait)
			l.log.Warn("target failing; alerts left pending for redelivery", "alerts", len(send), "retry_in", wait, "err", err)
			return
		}
		l.log.Debug("delivery failed, retrying", "alerts", len(send), "in", wait, "err", err)
		if !sleep(ctx, wait) {
			return
		}
	}
}

func (l *loop) countOutputs(status string, n int) {
	if l.d.opts.Outputs != nil && n > 0 {
		l.d.opts.Outputs.WithLabelValues(l.t.Name, status).Add(float64(n))
	}
}

func (l *loop) succeeded(ctx context.Context, dl store.DeliveryLog, ds []store.Delivery) {
	name := l.t.Name
	if err := dl.Ack(ctx, ids(ds)...); err != nil {
		// Delivered but not recorded: they will be delivered again, which
		// at-least-once allows.
		l.log.Warn("acknowledge delivered alerts failed", "alerts", len(ds), "err", err)
	}
	now := time.Now()
	for _, d := range ds {
		if ms, _, err := store.ParseID(d.ID); err == nil {
			l.d.m.latency.WithLabelValues(name).Observe(max(now.Sub(time.UnixMilli(int64(ms))), 0).Seconds())
		}
	}
	l.d.m.sent.WithLabelValues(name).Add(float64(len(ds)))
	l.d.m.up.WithLabelValues(name).Set(1)
	l.countOutputs("ok", len(ds))
	l.fails = 0
	l.mu.Lock()
	l.state.Sent += int64(len(ds))
	l.state.Healthy = true
	l.state.LastSuccessAt = now.UTC()
	l.mu.Unlock()
}

// failedAttempt records a failed attempt. A target that only refused
// payloads is up (healthy); one that could not be reached, timed out or
// answered 5xx/429 for an attempted alert is not.
func (l *loop) failedAttempt(err error, healthy bool, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state.LastError = err.Error()
	l.state.LastErrorAt = time.Now().UTC()
	l.state.Healthy = healthy
	v := 0.0
	if l.state.Healthy {
		v = 1
	}
	l.d.m.up.WithLabelValues(l.t.Name).Set(v)
	l.state.Failed += int64(n)
}

func (l *loop) deadLetter(ctx context.Context, dl store.DeliveryLog, d store.Delivery, attempts int, reason string) {
	d.Attempts = max(attempts, 1)
	if len(reason) > 1000 {
		reason = reason[:1000] + "…"
	}
	if err := dl.DeadLetter(ctx, d, reason); err != nil {
		l.log.Error("record dead letter failed; alert stays pending", "id", d.ID, "err", err)
		return
	}
	l.log.Warn("alert dead-lettered", "id", d.ID, "rule", d.Rule, "attempts", d.Attempts, "reason", reason)
	l.d.m.deadLettered.WithLabelValues(l.t.Name).Inc()
	l.countOutputs("dead", 1)
	l.mu.Lock()
	l.state.DeadLettered++
	l.mu.Unlock()
}
