package forwarders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// A Stage is one step of a target's delivery pipeline, after Alertmanager's
// notify.Stage: it takes the claimed deliveries the previous stage passed
// on and returns those the next stage must handle. What it does not pass
// on, it has settled: acknowledged, dead-lettered, or left pending for
// redelivery.
type Stage interface {
	Exec(ctx context.Context, ds []store.Delivery) ([]store.Delivery, error)
}

// MultiStage runs stages in order, each on what the previous one passed
// on, until one passes nothing on or fails.
type MultiStage []Stage

// Exec implements Stage.
func (ms MultiStage) Exec(ctx context.Context, ds []store.Delivery) ([]store.Delivery, error) {
	var err error
	for _, s := range ms {
		if len(ds) == 0 {
			return nil, nil
		}
		if ds, err = s.Exec(ctx, ds); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// pipeline is a target's delivery pipeline: drop what is below the minimum
// priority, cut the rest into batches, send each with retries.
func pipeline(t Target, dl deliveryLogFunc, rec *recorder, retry *retryStage, log *slog.Logger) Stage {
	return MultiStage{
		filterStage{min: t.MinPriority, dl: dl, rec: rec, log: log},
		batchStage{maxBytes: t.MaxBatchBytes, next: retry},
	}
}

type claimedAtKey struct{}

// withClaimedAt records in ctx when the deliveries it carries were claimed
// from the store (as Alertmanager's notify passes its group key).
func withClaimedAt(ctx context.Context, t time.Time) context.Context {
	return context.WithValue(ctx, claimedAtKey{}, t)
}

// claimedAt is when the deliveries were claimed; now when ctx does not say.
func claimedAt(ctx context.Context) time.Time {
	if t, ok := ctx.Value(claimedAtKey{}).(time.Time); ok {
		return t
	}
	return time.Now()
}

// deliveryLogFunc returns the target's delivery log (opened lazily).
type deliveryLogFunc func(context.Context) (store.DeliveryLog, error)

// filterStage acknowledges, without sending, the alerts below the target's
// minimum priority (falcosidekick's <OUT>_MINIMUMPRIORITY). The test alert
// of POST /test always passes, as in falcosidekick.
type filterStage struct {
	min alert.Priority
	dl  deliveryLogFunc
	rec *recorder
	log *slog.Logger
}

func (s filterStage) Exec(ctx context.Context, ds []store.Delivery) ([]store.Delivery, error) {
	if !s.min.Valid() {
		return ds, nil
	}
	pass := ds[:0:0]
	var skip []string
	for _, d := range ds {
		if d.Priority < s.min && !d.IsTest() {
			skip = append(skip, d.ID)
			continue
		}
		pass = append(pass, d)
	}
	if len(skip) > 0 {
		dl, err := s.dl(ctx)
		if err == nil {
			err = dl.Ack(ctx, skip...)
		}
		if err != nil {
			// Left pending: filtered again when reclaimed.
			s.log.Warn("acknowledge filtered alerts failed", "err", err)
		} else {
			s.rec.filtered(len(skip))
		}
	}
	return pass, nil
}

// batchStage cuts the deliveries into batches of at most maxBytes of
// encoded alerts (ELASTICSEARCH_BATCHING_BATCHSIZE; 0 means no limit) and
// runs next on each in turn. A single alert larger than the limit goes
// alone.
type batchStage struct {
	maxBytes int
	next     Stage
}

func (s batchStage) Exec(ctx context.Context, ds []store.Delivery) ([]store.Delivery, error) {
	if s.maxBytes <= 0 {
		return s.next.Exec(ctx, ds)
	}
	var errs []error
	for start := 0; start < len(ds); {
		end, size := start, 0
		for end < len(ds) {
			n := alertSize(&ds[end].Alert)
			if end > start && size+n > s.maxBytes {
				break
			}
			size += n
			end++
		}
		if _, err := s.next.Exec(ctx, ds[start:end]); err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
		start = end
	}
	return nil, errors.Join(errs...)
}

// alertSize is an alert's encoded size plus a bulk action line's worth.
func alertSize(a *alert.Alert) int {
	b, err := json.Marshal(a)
	if err != nil {
		return 0
	}
	return len(b) + 64
}

// retryStage sends a batch until every alert is acknowledged,
// dead-lettered, or left pending for a later reclaim (shutdown, or a
// target down longer than the hold limit). It passes nothing on.
type retryStage struct {
	forwarder Forwarder
	dl        deliveryLogFunc
	rec       *recorder
	policy    RetryPolicy
	// minIdle is Options.MinIdle: after it another consumer may reclaim a
	// batch. One is retried in hand for at most half of it, then handed
	// back (parked) while the target backs off.
	minIdle time.Duration
	backoff *backoff
	parked  *parking
	log     *slog.Logger
}

func (s *retryStage) Exec(ctx context.Context, ds []store.Delivery) ([]store.Delivery, error) {
	dl, err := s.dl(ctx)
	if err != nil {
		return nil, err
	}
	s.deliver(ctx, dl, ds)
	return nil, nil
}

func (s *retryStage) deliver(ctx context.Context, dl store.DeliveryLog, send []store.Delivery) {
	pol := s.policy
	held := claimedAt(ctx)
	// tries counts this hold's real attempts per alert; Attempts-1 earlier
	// hand-outs (to a replica that crashed or gave the batch back) count as
	// at least one attempt each.
	tries := make(map[string]int, len(send))
	for len(send) > 0 {
		if ctx.Err() != nil {
			return
		}
		retry, err := s.forward(ctx, send)
		if err != nil && ctx.Err() != nil {
			return // shutting down: leave pending for the next process
		}
		if err == nil {
			s.succeeded(ctx, dl, send)
			return
		}
		var pe *PartialError
		isPartial := errors.As(err, &pe)
		if !isPartial && !retry && len(send) > 1 {
			// The target refused the batch as a whole (e.g. one bad alert in
			// a Loki push): find the culprits by sending them one by one.
			for i := range send {
				s.deliver(ctx, dl, send[i:i+1])
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
				s.deadLetter(ctx, dl, d, n, f.Err.Error())
			case n >= pol.MaxAttempts:
				s.deadLetter(ctx, dl, d, n, fmt.Sprintf("gave up after %d attempts: %v", n, f.Err))
			default:
				keep = append(keep, d)
			}
		}
		if len(ok) > 0 {
			s.succeeded(ctx, dl, ok)
		}
		s.rec.attemptFailed(err, attempted, transient == 0)
		send = keep
		if len(send) == 0 {
			return
		}
		if transient == 0 {
			continue // only refusals and untried alerts: go on without waiting
		}
		s.rec.retried(len(send))
		wait := max(s.backoff.failed(pol), retryAfter(err))
		if wait > pol.ProbeInterval || time.Since(held)+wait+pol.Timeout > s.minIdle/2 {
			// Hand the batch back while the target backs off. It stays
			// parked here, first in line when the backoff ends, for as long
			// as no other replica can have reclaimed it; after that the
			// store hands it out again (Attempts counting up) once it has
			// been idle MinIdle. Meanwhile the loop probes the target
			// (loop.probe): a long wait is never slept in hand, where a
			// recovery would go unnoticed until it ends.
			s.backoff.pause(wait, pol.ProbeInterval, retryAfter(err))
			for i := range send {
				send[i].Attempts += tries[send[i].ID]
			}
			s.parked.park(send, held)
			s.log.Warn("target failing; alerts left pending for redelivery", "alerts", len(send), "retry_in", wait, "err", err)
			return
		}
		s.log.Debug("delivery failed, retrying", "alerts", len(send), "in", wait, "err", err)
		if !sleep(ctx, wait) {
			return
		}
	}
}

// forward makes one bounded Forward call.
func (s *retryStage) forward(ctx context.Context, send []store.Delivery) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, s.policy.Timeout)
	defer cancel()
	start := time.Now()
	retry, err := s.forwarder.Forward(cctx, alertsOf(send))
	s.rec.request(time.Since(start))
	return retry, err
}

func (s *retryStage) succeeded(ctx context.Context, dl store.DeliveryLog, ds []store.Delivery) {
	if err := dl.Ack(ctx, ids(ds)...); err != nil {
		// Delivered but not recorded: they will be delivered again, which
		// at-least-once allows.
		s.log.Warn("acknowledge delivered alerts failed", "alerts", len(ds), "err", err)
	}
	s.backoff.succeeded()
	s.rec.sent(ds, time.Now())
}

func (s *retryStage) deadLetter(ctx context.Context, dl store.DeliveryLog, d store.Delivery, attempts int, reason string) {
	d.Attempts = max(attempts, 1)
	if len(reason) > 1000 {
		reason = reason[:1000] + "…"
	}
	if err := dl.DeadLetter(ctx, d, reason); err != nil {
		s.log.Error("record dead letter failed; alert stays pending", "id", d.ID, "err", err)
		return
	}
	s.log.Warn("alert dead-lettered", "id", d.ID, "rule", d.Rule, "attempts", d.Attempts, "reason", reason)
	s.rec.deadLettered(1)
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
