package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// Group commit: concurrent Appends are coalesced into one run of the
// append script, the way the embedded store shares one fsync. A few
// committers take whatever requests are queued when they become free, so
// appends that arrive while a write is in flight go out together in the
// next one, and with a single sender nothing waits for company.

// committers is how many script runs may be in flight at once.
const committers = 4

// maxCoalesced bounds the alerts of one script run.
const maxCoalesced = 2000

// commitReq is one Append waiting for its IDs.
type commitReq struct {
	n    int   // alerts
	args []any // per-alert script arguments
	done chan commitRes
}

type commitRes struct {
	ids []string
	err error
}

// commit queues one Append and waits for its IDs. Once queued, the caller
// waits for the outcome even when ctx ends, so an error always means the
// alerts were not stored (a write abandoned mid-flight might have been).
func (s *Store) commit(ctx context.Context, n int, args []any) ([]string, error) {
	req := &commitReq{n: n, args: args, done: make(chan commitRes, 1)}
	select {
	case s.queue <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, fmt.Errorf("redis store: closed")
	}
	select {
	case res := <-req.done:
		return res.ids, res.err
	case <-s.exited:
		// The committers are gone; one may still have answered.
		select {
		case res := <-req.done:
			return res.ids, res.err
		default:
			return nil, fmt.Errorf("redis store: closed")
		}
	}
}

func (s *Store) committer() {
	defer s.wg.Done()
	for {
		var first *commitReq
		select {
		case first = <-s.queue:
		case <-s.done:
			// Answer what is still queued: nothing of it was written.
			for {
				select {
				case r := <-s.queue:
					r.done <- commitRes{err: fmt.Errorf("redis store: closed")}
				default:
					return
				}
			}
		}
		reqs := []*commitReq{first}
		n := first.n
	more:
		for n < maxCoalesced {
			select {
			case r := <-s.queue:
				reqs = append(reqs, r)
				n += r.n
			default:
				break more
			}
		}
		s.write(reqs, n)
	}
}

// write runs the append script once for reqs and hands out the IDs.
func (s *Store) write(reqs []*commitReq, n int) {
	size := 5
	for _, r := range reqs {
		size += len(r.args)
	}
	args := make([]any, 0, size)
	args = append(args, s.pfx, store.MaxSkew.Milliseconds(), int64(s.counterTTL()/time.Second),
		max(s.opts.DedupeWindow.Milliseconds(), 0), n)
	for _, r := range reqs {
		args = append(args, r.args...)
	}
	// Bounded by the client's read timeout, not by any caller's context:
	// every caller waits for this outcome.
	ids, err := s.script.Run(context.Background(), s.w, []string{s.stream}, args...).StringSlice()
	if err == nil && len(ids) != n {
		err = fmt.Errorf("append returned %d ids for %d alerts", len(ids), n)
	}
	for _, r := range reqs {
		if err != nil {
			r.done <- commitRes{err: fmt.Errorf("redis store: append %d alerts: %w", r.n, err)}
			continue
		}
		r.done <- commitRes{ids: ids[:r.n:r.n]}
		ids = ids[r.n:]
	}
}
