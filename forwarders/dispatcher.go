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

	"github.com/saker-sec/saker/forwarders/status"
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
		if t.MaxConcurrent <= 0 {
			t.MaxConcurrent = 1
		}
		// A batch being filled is held, unacknowledged, like one being retried.
		t.FlushInterval = min(t.FlushInterval, opts.MinIdle/4)
		l := &loop{d: d, t: t, log: logger.With("forwarder", t.Name), rec: newRecorder(t.Name, m, opts.Outputs)}
		l.parked.maxAge = opts.MinIdle - 2*opts.Retry.Timeout
		l.retry = &retryStage{forwarder: t.Forwarder, dl: l.deliveryLog, rec: l.rec, policy: opts.Retry,
			minIdle: opts.MinIdle, backoff: &l.backoff, parked: &l.parked, log: l.log}
		l.pipeline = pipeline(t, l.deliveryLog, l.rec, l.retry, l.log)
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

// Prepare opens every target's consumer group, creating those that do not
// exist yet at the store's current end. Call it before the hub accepts
// alerts: a group created later would start after alerts already answered
// 200, and its target would never receive them. Run opens any group
// Prepare did not.
func (d *Dispatcher) Prepare(ctx context.Context) error {
	for _, l := range d.loops {
		if _, err := l.deliveryLog(ctx); err != nil {
			return fmt.Errorf("forwarders: %w", err)
		}
	}
	return nil
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
		for range l.t.MaxConcurrent {
			wg.Add(1)
			go func() { defer wg.Done(); l.run(ctx) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); l.watchLag(ctx) }()
	}
	wg.Wait()
	return nil
}

// Status is one target's state for the dashboard's info view; it lives in
// package status so the dashboard need not import the outputs.
type Status = status.Target

// Status reports every target, refreshing pending/lag and dead letters
// from the store (bounded by ctx).
func (d *Dispatcher) Status(ctx context.Context) []Status {
	out := make([]Status, 0, len(d.loops))
	for _, l := range d.loops {
		if dl, err := l.deliveryLog(ctx); err == nil {
			l.refreshLag(ctx, dl)
		}
		l.mu.Lock()
		s := Status{Pending: l.pending, LagSeconds: l.lagSeconds}
		l.mu.Unlock()
		l.rec.status(&s)
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

// loop delivers one target's alerts: MaxConcurrent workers claim batches
// from the target's consumer group and run them through its pipeline.
type loop struct {
	d        *Dispatcher
	t        Target
	log      *slog.Logger
	rec      *recorder
	pipeline Stage
	retry    *retryStage // the pipeline's last stage, also used by probe
	backoff  backoff
	parked   parking

	dlMu sync.Mutex
	dl   store.DeliveryLog

	mu         sync.Mutex
	pending    int64
	lagSeconds float64
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

// run is one worker: claim a batch, run it through the pipeline, repeat.
func (l *loop) run(ctx context.Context) {
	storeFails := 0
	for ctx.Err() == nil {
		if w := l.backoff.wait(); w > 0 {
			if !sleep(ctx, min(w, l.backoff.untilProbe())) {
				return
			}
			if l.backoff.probeTurn() {
				l.probe(ctx)
			}
			continue
		}
		if ds, at, ok := l.parked.take(); ok {
			l.exec(withClaimedAt(ctx, at), ds)
			continue
		}
		// Taken before the claim: the hold limit then errs on the safe side.
		at := time.Now()
		ds, err := l.claim(ctx)
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
			l.exec(withClaimedAt(ctx, at), ds)
		}
	}
}

// probe sends the oldest parked alert alone (or, when none is parked, one
// from the store) while the target is paused by its backoff. Delivered, or refused for itself (the target answers), it
// ends the pause for every worker: the backlog goes as soon as the target
// is back, not at the end of a backoff of up to MaxBackoff (30 s by
// default). A transient failure leaves things as they were, the alert
// parked and its attempts not counted up: all a down target sees is one
// one-alert request per ProbeInterval.
func (l *loop) probe(ctx context.Context) {
	dl, err := l.deliveryLog(ctx)
	if err != nil {
		return
	}
	d, at, ok := l.parked.takeOne()
	if !ok {
		// Nothing parked (parked batches age out during a long outage):
		// one alert from the store, parked if it cannot go now.
		at = time.Now()
		ds, err := dl.Claim(ctx, l.d.opts.Consumer, 1, l.d.opts.MinIdle, 0)
		l.reportResets(dl)
		if err != nil || len(ds) == 0 {
			return
		}
		d = ds[0]
		if l.t.MinPriority.Valid() && d.Priority < l.t.MinPriority && !d.IsTest() {
			l.parked.putBack(d, at) // the pipeline's filter acknowledges it
			return
		}
	}
	one := []store.Delivery{d}
	retry, err := l.retry.forward(ctx, one)
	var pe *PartialError
	if errors.As(err, &pe) && len(pe.Failures) == 1 {
		retry = pe.Failures[0].Retry
	}
	switch {
	case err == nil:
		l.retry.succeeded(ctx, dl, one)
		l.log.Info("target answers again; resuming delivery", "probe", d.ID)
	case !retry:
		l.parked.putBack(d, at) // the pipeline dead-letters it
		l.backoff.succeeded()
		l.log.Info("target answers again; resuming delivery", "probe", d.ID, "refused", err)
	default:
		l.parked.putBack(d, at)
		l.log.Debug("probe failed; target still down", "err", err)
	}
}

func (l *loop) exec(ctx context.Context, ds []store.Delivery) {
	if _, err := l.pipeline.Exec(ctx, ds); err != nil && ctx.Err() == nil {
		l.log.Warn("delivery pipeline failed; alerts left pending", "err", err)
	}
}

// claim takes up to MaxBatch alerts. With a FlushInterval (falcosidekick's
// ELASTICSEARCH_BATCHING_FLUSHINTERVAL) it waits up to that long for a
// short batch to fill before sending it.
func (l *loop) claim(ctx context.Context) ([]store.Delivery, error) {
	dl, err := l.deliveryLog(ctx)
	if err != nil {
		return nil, err
	}
	o := l.d.opts
	ds, err := dl.Claim(ctx, o.Consumer, l.t.MaxBatch, o.MinIdle, o.Block)
	l.reportResets(dl)
	if err != nil || len(ds) == 0 || l.t.FlushInterval <= 0 {
		return ds, err
	}
	deadline := time.Now().Add(l.t.FlushInterval)
	for len(ds) < l.t.MaxBatch {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		more, err := dl.Claim(ctx, o.Consumer, l.t.MaxBatch-len(ds), o.MinIdle, left)
		if err != nil {
			// Send what we hold; the rest is claimed next round.
			break
		}
		ds = append(ds, more...)
	}
	return ds, nil
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
	l.reportResets(dl)
	if err != nil {
		return
	}
	l.d.m.pending.WithLabelValues(l.t.Name).Set(float64(n))
	l.d.m.oldest.WithLabelValues(l.t.Name).Set(oldest.Seconds())
	l.mu.Lock()
	l.pending, l.lagSeconds = n, oldest.Seconds()
	l.mu.Unlock()
}

// resetReporter is implemented by delivery logs whose consumer group the
// store can lose and re-create (Redis: a restart without persistence,
// FLUSHALL, a failover to an empty replica).
type resetReporter interface {
	TakeResets() []store.GroupReset
}

// reportResets logs and counts group re-creations, with the alerts that
// vanished before delivery.
func (l *loop) reportResets(dl store.DeliveryLog) {
	rr, ok := dl.(resetReporter)
	if !ok {
		return
	}
	for _, r := range rr.TakeResets() {
		if r.Lost > 0 {
			l.rec.lost(r.Lost)
			l.log.Error("store lost the consumer group and alerts not yet delivered; group re-created", "group", r.Group, "resumed_after", r.After, "alerts_lost", r.Lost)
		} else {
			l.log.Warn("store lost the consumer group; re-created at the last acknowledged alert, nothing lost", "group", r.Group, "resumed_after", r.After)
		}
	}
}
