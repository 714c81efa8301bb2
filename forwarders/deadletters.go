package forwarders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// Errors of the dead-letter operations; the HTTP API maps both to 404.
var (
	ErrUnknownTarget    = errors.New("unknown forwarder")
	ErrNoSuchDeadLetter = errors.New("no such dead letter")
)

// allDeadLetters bounds one listing of a target's dead letters; the stores
// keep at most 1000 per target by default.
const allDeadLetters = 100000

func (d *Dispatcher) loop(target string) (*loop, error) {
	for _, l := range d.loops {
		if l.t.Name == target {
			return l, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownTarget, target)
}

// DeadLetters lists a target's dead letters, newest first.
func (d *Dispatcher) DeadLetters(ctx context.Context, target string, limit int) ([]store.DeadLetter, error) {
	l, err := d.loop(target)
	if err != nil {
		return nil, err
	}
	dl, err := l.deliveryLog(ctx)
	if err != nil {
		return nil, err
	}
	return dl.DeadLetters(ctx, limit)
}

// DeadLetter returns one of a target's dead letters by event ID.
func (d *Dispatcher) DeadLetter(ctx context.Context, target, id string) (store.DeadLetter, error) {
	all, err := d.DeadLetters(ctx, target, allDeadLetters)
	if err != nil {
		return store.DeadLetter{}, err
	}
	for _, x := range all {
		if x.ID == id {
			return x, nil
		}
	}
	return store.DeadLetter{}, fmt.Errorf("%w %s for %s", ErrNoSuchDeadLetter, id, target)
}

// selectDeadLetters returns the dead letters with the given IDs (every one
// when ids is empty), oldest first, and an error for an unknown ID.
func (d *Dispatcher) selectDeadLetters(ctx context.Context, target string, ids []string) ([]store.DeadLetter, error) {
	all, err := d.DeadLetters(ctx, target, allDeadLetters)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []store.DeadLetter
	for i := len(all) - 1; i >= 0; i-- {
		if len(ids) == 0 || want[all[i].ID] {
			out = append(out, all[i])
			delete(want, all[i].ID)
		}
	}
	for id := range want {
		return nil, fmt.Errorf("%w %s for %s", ErrNoSuchDeadLetter, id, target)
	}
	return out, nil
}

// ReplayResult says what a replay delivered.
type ReplayResult struct {
	Replayed int `json:"replayed"` // delivered and removed from the dead letters
	// Failed lists the alerts the target refused again; they stay dead
	// letters with their first reason.
	Failed []ReplayFailure `json:"failed,omitempty"`
}

// ReplayFailure is one dead letter a replay could not deliver.
type ReplayFailure struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// Replay sends a target's dead letters again (those with the given event
// IDs, or every one when ids is empty), oldest first, in the target's
// batches, one attempt each and regardless of its minimum priority (a
// user asked for them). Each delivered alert is removed from the dead
// letters; the others stay, and the result says why they failed.
func (d *Dispatcher) Replay(ctx context.Context, target string, which ...string) (ReplayResult, error) {
	var res ReplayResult
	l, err := d.loop(target)
	if err != nil {
		return res, err
	}
	dead, err := d.selectDeadLetters(ctx, target, which)
	if err != nil {
		return res, err
	}
	dl, err := l.deliveryLog(ctx)
	if err != nil {
		return res, err
	}
	ds := make([]store.Delivery, len(dead))
	for i, x := range dead {
		ds[i] = store.Delivery{Event: x.Event, Attempts: x.Attempts + 1}
	}
	for start := 0; start < len(ds); start += l.t.MaxBatch {
		batch := ds[start:min(start+l.t.MaxBatch, len(ds))]
		ok, failed := l.sendOnce(ctx, batch)
		if len(ok) > 0 {
			if _, err := dl.DropDeadLetters(ctx, ids(ok)...); err != nil {
				// Delivered, still listed: a later replay sends them again,
				// which at-least-once allows.
				return res, fmt.Errorf("replayed %d alerts but could not remove them from the dead letters: %w", len(ok), err)
			}
			l.rec.sent(ok, time.Now())
			res.Replayed += len(ok)
		}
		res.Failed = append(res.Failed, failed...)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	l.log.Info("dead letters replayed", "replayed", res.Replayed, "failed", len(res.Failed))
	return res, nil
}

// sendOnce makes one bounded attempt at a batch and splits it into the
// delivered alerts and failures. A batch refused as a whole is tried alert
// by alert, to deliver all but the culprits.
func (l *loop) sendOnce(ctx context.Context, ds []store.Delivery) (ok []store.Delivery, failed []ReplayFailure) {
	cctx, cancel := context.WithTimeout(ctx, l.d.opts.Retry.Timeout)
	_, err := l.t.Forwarder.Forward(cctx, alertsOf(ds))
	cancel()
	if err == nil {
		return ds, nil
	}
	var pe *PartialError
	if !errors.As(err, &pe) {
		if len(ds) > 1 {
			for i := range ds {
				o, f := l.sendOnce(ctx, ds[i:i+1])
				ok, failed = append(ok, o...), append(failed, f...)
			}
			return ok, failed
		}
		return nil, []ReplayFailure{{ID: ds[0].ID, Error: err.Error()}}
	}
	bad := map[int]error{}
	for _, f := range pe.Failures {
		bad[f.Index] = f.Err
	}
	for i, x := range ds {
		if e, isBad := bad[i]; isBad {
			failed = append(failed, ReplayFailure{ID: x.ID, Error: e.Error()})
		} else {
			ok = append(ok, x)
		}
	}
	return ok, failed
}

// DropDeadLetters removes a target's dead letters with the given event IDs,
// or every one when ids is empty, and returns how many it removed.
func (d *Dispatcher) DropDeadLetters(ctx context.Context, target string, ids ...string) (int, error) {
	l, err := d.loop(target)
	if err != nil {
		return 0, err
	}
	dead, err := d.selectDeadLetters(ctx, target, ids)
	if err != nil {
		return 0, err
	}
	if len(dead) == 0 {
		return 0, nil
	}
	dl, err := l.deliveryLog(ctx)
	if err != nil {
		return 0, err
	}
	drop := make([]string, len(dead))
	for i, x := range dead {
		drop[i] = x.ID
	}
	n, err := dl.DropDeadLetters(ctx, drop...)
	if err == nil {
		l.log.Info("dead letters dropped", "dropped", n)
	}
	return n, err
}
