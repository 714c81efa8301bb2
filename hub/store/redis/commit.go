package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store"
)

// Group commit: concurrent Appends are coalesced into one run of the
// append script, the way the embedded store shares one fsync. The caller
// that finds a write slot free runs the script itself, on its own
// goroutine: a lone sender crosses no goroutine hand-off. Appends arriving
// while every slot is busy queue; a finishing writer hands everything
// queued (up to maxCoalesced alerts) to the first of those callers, which
// writes it as one batch for all of them.

// maxWrites is how many script runs may be in flight at once. Redis runs
// scripts one at a time, so a second run in flight only overlaps the hub's
// encoding with Redis's work, and it halves the batches: with one, 16
// concurrent senders cost about 30 % less CPU per alert, hub and Redis
// alike, at the same alerts/s (BenchmarkAppendScript/single-16-senders),
// and the hub at 50 connections answered 1.3× the requests of four
// (make bench-hub with SAKER_B, one run).
const maxWrites = 1

// maxCoalesced bounds the alerts of one script run (an Append larger than
// this still goes out whole).
const maxCoalesced = 2000

var errClosed = errors.New("redis store: closed")

// commitReq is one Append waiting for its IDs: its part of the append
// script's arguments (append.lua).
type commitReq struct {
	n int // alerts
	// shapeArgs are the arguments of its shapes (what alerts of one rule,
	// priority, host, … share); shapes counts them.
	shapeArgs []any
	shapes    int
	// alerts are five arguments per alert, the last its shape (1-based
	// within this request).
	alerts []any
	// done receives the outcome, or first an order to lead a batch. It has
	// room for one value so a writer never blocks on it.
	done chan commitRes
	// buf backs alerts and shapeArgs for a lone alert of one shape (no
	// rule set to write but its priority's), and self a batch of this
	// request alone: the common single POST allocates neither.
	buf  [13]any
	self [1]*commitReq
	// bufs hold the compressed entries in alerts (entryBufs), given back
	// once the script run returned; bufOne backs it for a lone alert.
	bufs   []*[]byte
	bufOne [1]*[]byte
}

// newCommitReq returns a request for n alerts.
func newCommitReq(n int) *commitReq {
	r := &commitReq{n: n}
	if n == 1 {
		r.alerts, r.shapeArgs, r.bufs = r.buf[:0:5], r.buf[5:5], r.bufOne[:0]
	} else {
		r.alerts = make([]any, 0, 5*n)
	}
	return r
}

// addShape appends a shape's arguments; it is number r.shapes.
func (r *commitReq) addShape(idx []string, rule string, sets, fields []string) {
	r.shapeArgs = append(r.shapeArgs, len(idx))
	for _, k := range idx {
		r.shapeArgs = append(r.shapeArgs, k)
	}
	r.shapeArgs = append(r.shapeArgs, rule, len(sets))
	for _, k := range sets {
		r.shapeArgs = append(r.shapeArgs, k)
	}
	r.shapeArgs = append(r.shapeArgs, len(fields))
	for _, f := range fields {
		r.shapeArgs = append(r.shapeArgs, f)
	}
	r.shapes++
}

// addCachedShape appends the arguments of sh, writing missing (of its rule
// sets) and its priority set; it is number r.shapes. Its strings are boxed
// already: no allocation but the arguments' growth.
func (r *commitReq) addCachedShape(sh *shape, missing []string) {
	r.shapeArgs = append(r.shapeArgs, len(sh.idx))
	r.shapeArgs = append(r.shapeArgs, sh.idx...)
	r.shapeArgs = append(r.shapeArgs, sh.ruleArg, len(missing)+1)
	for _, k := range missing {
		r.shapeArgs = append(r.shapeArgs, k)
	}
	r.shapeArgs = append(r.shapeArgs, sh.prioArg, 1, sh.keyArg)
	r.shapes++
}

type commitRes struct {
	ids []string
	err error
	// lead, when set, is a batch (starting with this request) whose write
	// the request's caller runs.
	lead []*commitReq
}

// committer coalesces concurrent commits into writes.
type committer struct {
	slots int // writes in flight at most
	max   int // alerts per coalesced write
	// write runs the batch as one write and answers each request through
	// its done channel.
	write func(batch []*commitReq)

	mu      sync.Mutex
	idle    *sync.Cond // signalled when running drops to 0
	running int
	pending []*commitReq // queued while running == slots
	closed  bool
}

func newCommitter(slots, max int, write func([]*commitReq)) *committer {
	c := &committer{slots: slots, max: max, write: write}
	c.idle = sync.NewCond(&c.mu)
	return c
}

// commit stores req's alerts and returns their IDs. Once queued, the
// caller waits for the outcome even when ctx ends, so an error always
// means the alerts were not stored (a write abandoned mid-flight might
// have been).
func (c *committer) commit(ctx context.Context, req *commitReq) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	req.done = make(chan commitRes, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClosed
	}
	if c.running < c.slots {
		c.running++
		c.mu.Unlock()
		req.self[0] = req
		c.lead(req.self[:])
	} else {
		c.pending = append(c.pending, req)
		c.mu.Unlock()
	}
	res := <-req.done
	if res.lead != nil {
		c.lead(res.lead)
		res = <-req.done
	}
	return res.ids, res.err
}

// lead writes batch, then hands the next queued batch and the write slot
// to that batch's first caller, or frees the slot.
func (c *committer) lead(batch []*commitReq) {
	c.write(batch)
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.running--
		if c.running == 0 {
			c.idle.Broadcast()
		}
		c.mu.Unlock()
		return
	}
	k, n := 0, 0
	for k < len(c.pending) && n < c.max {
		n += c.pending[k].n
		k++
	}
	next := c.pending[:k:k]
	c.pending = c.pending[k:]
	c.mu.Unlock()
	next[0].done <- commitRes{lead: next}
}

// close refuses new commits and returns once every accepted one has been
// written.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	for c.running > 0 {
		c.idle.Wait()
	}
	c.mu.Unlock()
}

// write runs the append script once for reqs and hands out the IDs.
func (s *Store) write(reqs []*commitReq) {
	size, n, shapes := 7, 0, 0
	for _, r := range reqs {
		size += len(r.shapeArgs) + len(r.alerts)
		n += r.n
		shapes += r.shapes
	}
	// EVALSHA's own arguments first: the whole list goes to the client as
	// it is (Script.Run copies it once more).
	args := make([]any, 0, 4+size)
	args = append(args, "evalsha", s.script.Hash(), 1, s.stream)
	args = append(args, s.pfx, store.MaxSkew.Milliseconds(), int64(s.counterTTL()/time.Second),
		max(s.opts.DedupeWindow.Milliseconds(), 0), shapes)
	for _, r := range reqs {
		args = append(args, r.shapeArgs...)
	}
	args = append(args, n)
	shapes = 0
	for _, r := range reqs {
		// Each request numbers its shapes from 1: renumber them after the
		// shapes of the requests before it.
		for k := 0; k < len(r.alerts); k += 5 {
			args = append(args, r.alerts[k:k+4]...)
			args = append(args, r.alerts[k+4].(int)+shapes)
		}
		shapes += r.shapes
	}
	// Bounded by the client's read timeout, not by any caller's context:
	// every caller waits for this outcome.
	ids, err := s.runAppend(context.Background(), args)
	for _, r := range reqs { // nothing reads the entries any more
		for _, b := range r.bufs {
			s.bufs.put(b)
		}
		r.bufs = nil
	}
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

// runAppend runs args, an EVALSHA of the append script, and reads the IDs
// it returns straight into strings. Should Redis not know the script
// (restarted, SCRIPT FLUSH), it loads it and runs it again: NOSCRIPT means
// nothing ran.
func (s *Store) runAppend(ctx context.Context, args []any) ([]string, error) {
	cmd := goredis.NewStringSliceCmd(ctx, args...)
	cmd.SetFirstKeyPos(3)
	err := s.w.Process(ctx, cmd)
	if err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
		if err := s.script.Load(ctx, s.w).Err(); err != nil {
			return nil, fmt.Errorf("load the append script: %w", err)
		}
		cmd = goredis.NewStringSliceCmd(ctx, args...)
		cmd.SetFirstKeyPos(3)
		err = s.w.Process(ctx, cmd)
	}
	return cmd.Val(), err
}
