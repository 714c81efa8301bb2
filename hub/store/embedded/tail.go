package embedded

import (
	"context"
	"errors"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// Tail implements store.Store.
func (s *Store) Tail(ctx context.Context, after string, max int, block time.Duration) ([]store.Event, error) {
	if max <= 0 {
		max = store.DefaultLimit
	}
	var ams, aseq uint64
	fromStart := after == "" || after == "0"
	if after == "$" {
		s.mu.RLock()
		ams, aseq = s.visMs, s.visSeq
		s.mu.RUnlock()
	} else if !fromStart {
		var err error
		if ams, aseq, err = store.ParseID(after); err != nil {
			return nil, err
		}
	}
	var deadline time.Time
	if block > 0 {
		deadline = time.Now().Add(block)
	}
	for {
		// Events are read after s.mu is released (see read.go).
		s.fileMu.RLock()
		s.mu.RLock()
		if s.closed {
			s.mu.RUnlock()
			s.fileMu.RUnlock()
			return nil, errors.New("embedded store: closed")
		}
		now := s.clock()
		i := s.ageStart(now)
		if !fromStart {
			i = s.firstAfter(ams, aseq, now)
		}
		var locs []loc
		for ; i < len(s.evs) && len(locs) < max; i++ {
			locs = append(locs, s.evs[i].loc())
		}
		ch, f := s.notifyChan(), s.f
		s.mu.RUnlock()
		out, err := s.readAll(f, locs)
		s.fileMu.RUnlock()
		if err != nil {
			return nil, err
		}
		if len(out) > 0 || block <= 0 {
			return out, nil
		}
		if err := s.wait(ctx, ch, deadline); err != nil {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
	}
}

// wait blocks until ch closes, the deadline passes, ctx ends or the store
// closes; only ctx ending is an error.
func (s *Store) wait(ctx context.Context, ch <-chan struct{}, deadline time.Time) error {
	d := time.Until(deadline)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Head implements store.Store: the newest event readers can see.
func (s *Store) Head(context.Context) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return "", errors.New("embedded store: closed")
	}
	if s.visMs == 0 && s.visSeq == 0 {
		return "0", nil
	}
	return store.FormatID(s.visMs, s.visSeq), nil
}
