package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/saker-sec/saker/hub/store"
)

// Deliveries implements store.Store: one consumer group per forwarder on
// the alert stream, created at "$" so it starts with events stored from now
// on. Every hub replica using the same group shares its work.
//
// Redis can lose a group (a restart without persistence, FLUSHALL, a
// failover to an empty replica). The first call that finds it missing
// re-creates it at the last position this process observed as fully
// acknowledged (observed with every Lag, i.e. every few seconds), so
// nothing the stream still holds is skipped; events that vanished with it
// are counted in a store.GroupReset (see TakeResets).
func (s *Store) Deliveries(ctx context.Context, group string) (store.DeliveryLog, error) {
	if group == "" {
		return nil, errors.New("redis store: empty consumer group name")
	}
	err := s.c.XGroupCreateMkStream(ctx, s.stream, group, "$").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return nil, fmt.Errorf("redis store: create consumer group %s: %w", group, err)
	}
	l := &deliveryLog{s: s, group: group, dead: s.pfx + "dl:" + group, resume: "0-0", seenEnd: "0-0"}
	// The first observation gives the position to resume from.
	if _, _, err := l.Lag(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

type deliveryLog struct {
	s     *Store
	group string
	dead  string

	mu  sync.Mutex
	gen uint64 // bumped each time this process re-creates or sees the group re-created
	// resume: every entry up to it was acknowledged when last observed.
	resume string
	// seenEnd is the stream's last entry at that observation; unacked
	// counts the entries in (resume, seenEnd] not acknowledged then, less
	// those this process acknowledged since.
	seenEnd string
	unacked int64
	resets  []store.GroupReset

	// held: events this process claimed and has not yet acknowledged or
	// dead-lettered, by claim time; pruned past the minIdle of the latest
	// Claim (a dispatcher never holds an event longer).
	held map[string]time.Time
	// settling: resets waiting on events that vanished from Redis while
	// this process held them. Each is delivered from memory
	// (acknowledged), dead-lettered, or counted lost once held longer than
	// minIdle; then the reset is reported with an exact count.
	settling []*settlingReset
}

type settlingReset struct {
	reset store.GroupReset
	wait  map[string]time.Time
}

// errGroupGone reports a consumer group Redis no longer has.
var errGroupGone = errors.New("consumer group is gone")

func isNoGroup(err error) bool {
	var re goredis.Error
	return errors.Is(err, errGroupGone) || (errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOGROUP"))
}

func (l *deliveryLog) generation() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen
}

// recreate re-creates the lost group at the last fully acknowledged
// position, unless a call since gen already did (or another replica did:
// BUSYGROUP; that replica reports the loss).
func (l *deliveryLog) recreate(ctx context.Context, gen uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.gen != gen {
		return nil
	}
	s := l.s
	err := s.c.XGroupCreateMkStream(ctx, s.stream, l.group, l.resume).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redis store: re-create lost consumer group %s: %w", l.group, err)
	}
	l.gen++
	if err != nil {
		return nil
	}
	var lost int64
	wait := map[string]time.Time{}
	if l.unacked > 0 && store.CompareIDs(l.seenEnd, l.resume) > 0 {
		left, err := s.c.XRangeN(ctx, s.stream, "("+l.resume, l.seenEnd, l.unacked).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return fmt.Errorf("redis store: count events left after losing group %s: %w", l.group, err)
		}
		kept := make(map[string]bool, len(left))
		for _, m := range left {
			kept[m.ID] = true
		}
		// Vanished events this process holds may still be delivered: they
		// are not lost until it gives up on them.
		for id, at := range l.held {
			if l.inObservedLocked(id) && !kept[id] {
				wait[id] = at
			}
		}
		lost = max(l.unacked-int64(len(left))-int64(len(wait)), 0)
	}
	l.unacked -= lost
	r := store.GroupReset{Group: l.group, After: l.resume, Lost: lost}
	if len(wait) == 0 {
		l.resets = append(l.resets, r)
	} else {
		l.settling = append(l.settling, &settlingReset{reset: r, wait: wait})
	}
	return nil
}

// inObservedLocked reports whether id is in (resume, seenEnd], the range
// unacked counts.
func (l *deliveryLog) inObservedLocked(id string) bool {
	return store.CompareIDs(id, l.resume) > 0 && store.CompareIDs(id, l.seenEnd) <= 0
}

// noteClaimed records events handed to this process, forgets those it
// held longer than minIdle, and counts as lost the vanished events of a
// reset it held that long without settling them.
func (l *deliveryLog) noteClaimed(ds []store.Delivery, minIdle time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.held == nil {
		l.held = map[string]time.Time{}
	}
	for id, at := range l.held {
		if now.Sub(at) > minIdle {
			delete(l.held, id)
		}
	}
	for _, d := range ds {
		l.held[d.ID] = now
	}
	for _, sr := range l.settling {
		for id, at := range sr.wait {
			if now.Sub(at) > minIdle {
				delete(sr.wait, id)
				sr.reset.Lost++
			}
		}
	}
	l.reportSettledLocked()
}

// reportSettledLocked moves the resets no longer waiting on held events
// to those TakeResets returns.
func (l *deliveryLog) reportSettledLocked() {
	open := l.settling[:0]
	for _, sr := range l.settling {
		if len(sr.wait) == 0 {
			l.resets = append(l.resets, sr.reset)
			continue
		}
		open = append(open, sr)
	}
	l.settling = open
}

// TakeResets returns the group re-creations since the last call.
func (l *deliveryLog) TakeResets() []store.GroupReset {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.resets
	l.resets = nil
	return r
}

// retryLost runs op once more after re-creating the group when op found
// it missing.
func retryLost[T any](ctx context.Context, l *deliveryLog, op func() (T, error)) (T, error) {
	gen := l.generation()
	v, err := op()
	if !isNoGroup(err) {
		return v, err
	}
	if rerr := l.recreate(ctx, gen); rerr != nil {
		return v, rerr
	}
	return op()
}

// Claim implements store.DeliveryLog: XAUTOCLAIM for entries idle longer
// than minIdle (their delivery count gives Attempts), then XREADGROUP for
// new ones, blocking only when nothing was reclaimed.
func (l *deliveryLog) Claim(ctx context.Context, consumer string, n int, minIdle, block time.Duration) ([]store.Delivery, error) {
	ds, err := retryLost(ctx, l, func() ([]store.Delivery, error) { return l.claim(ctx, consumer, n, minIdle, block) })
	if err == nil {
		l.noteClaimed(ds, minIdle)
	}
	return ds, err
}

func (l *deliveryLog) claim(ctx context.Context, consumer string, n int, minIdle, block time.Duration) ([]store.Delivery, error) {
	if n <= 0 {
		n = 1
	}
	s := l.s
	out, err := l.reclaim(ctx, consumer, n, minIdle)
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		block = 0
	}
	deadline := time.Now().Add(block)
	for len(out) < n {
		wait := min(time.Until(deadline), blockSlice)
		args := &goredis.XReadGroupArgs{Group: l.group, Consumer: consumer, Streams: []string{s.stream, ">"}, Count: int64(n - len(out)), Block: -1}
		if wait > 0 {
			args.Block = max(wait, time.Millisecond)
		}
		res, err := s.c.XReadGroup(ctx, args).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("redis store: read group %s: %w", l.group, err)
		}
		got := 0
		for _, st := range res {
			for _, m := range st.Messages {
				got++
				if e, ok := decodeMessage(m); ok {
					out = append(out, store.Delivery{Event: e, Attempts: 1})
				} else {
					// Not ours or unreadable: acknowledge so it never blocks the group.
					s.c.XAck(ctx, s.stream, l.group, m.ID)
				}
			}
		}
		if got > 0 || wait <= 0 || !time.Now().Before(deadline) {
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reclaim takes over entries idle at least minIdle, oldest first.
func (l *deliveryLog) reclaim(ctx context.Context, consumer string, n int, minIdle time.Duration) ([]store.Delivery, error) {
	s := l.s
	var msgs []goredis.XMessage
	start := "0-0"
	// XAUTOCLAIM examines a bounded part of the pending list per call.
	for i := 0; i < 10 && len(msgs) < n; i++ {
		got, next, err := s.c.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
			Stream: s.stream, Group: l.group, Consumer: consumer,
			MinIdle: minIdle, Start: start, Count: int64(n - len(msgs)),
		}).Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return nil, fmt.Errorf("redis store: autoclaim %s: %w", l.group, err)
		}
		msgs = append(msgs, got...)
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	if len(msgs) == 0 {
		return nil, nil
	}
	pipe := s.c.Pipeline()
	pend := make([]*goredis.XPendingExtCmd, len(msgs))
	for i, m := range msgs {
		pend[i] = pipe.XPendingExt(ctx, &goredis.XPendingExtArgs{Stream: s.stream, Group: l.group, Start: m.ID, End: m.ID, Count: 1})
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: pending counts %s: %w", l.group, err)
	}
	out := make([]store.Delivery, 0, len(msgs))
	for i, m := range msgs {
		e, ok := decodeMessage(m)
		if !ok {
			s.c.XAck(ctx, s.stream, l.group, m.ID)
			continue
		}
		attempts := 1
		if p := pend[i].Val(); len(p) == 1 {
			attempts = int(p[0].RetryCount)
		}
		out = append(out, store.Delivery{Event: e, Attempts: attempts})
	}
	return out, nil
}

// Ack implements store.DeliveryLog.
func (l *deliveryLog) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		if _, _, err := store.ParseID(id); err != nil {
			return err
		}
	}
	// Delivered: a reset waiting on them is settled now, not when Redis
	// answers; a reply slowed past minIdle (a loaded host) must not count
	// them lost.
	l.noteSettling(ids, true)
	// XACK on a missing group acknowledges nothing and is no error: the
	// next Claim re-creates the group (a redelivery at worst).
	n, err := l.s.c.XAck(ctx, l.s.stream, l.group, ids...).Result()
	if err != nil {
		return fmt.Errorf("redis store: ack %s: %w", l.group, err)
	}
	l.noteAcked(ids, n)
	return nil
}

// noteSettling is called as the dispatcher acknowledges (delivered) or
// dead-letters events, before the round trip to Redis: delivered events
// stop a reset waiting on them; the others wait minIdle from now, since
// the dispatcher has not given up on them.
func (l *deliveryLog) noteSettling(ids []string, delivered bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for _, id := range ids {
		if _, ok := l.held[id]; ok {
			l.held[id] = now
		}
		for _, sr := range l.settling {
			if _, ok := sr.wait[id]; !ok {
				continue
			}
			if delivered {
				delete(sr.wait, id)
			} else {
				sr.wait[id] = now
			}
		}
	}
	l.reportSettledLocked()
}

// noteAcked keeps unacked current between observations, and settles
// events a reset waits on: acknowledged (delivered) or dead-lettered, they
// are not lost. An event this process held counts as settled even when
// Redis acknowledged nothing (the group was gone).
func (l *deliveryLog) noteAcked(ids []string, acked int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var in, mine int64
	for _, id := range ids {
		_, held := l.held[id]
		delete(l.held, id)
		for _, sr := range l.settling {
			delete(sr.wait, id)
		}
		if l.inObservedLocked(id) {
			in++
			if held {
				mine++
			}
		}
	}
	l.unacked = max(l.unacked-min(in, max(acked, mine)), 0)
	l.reportSettledLocked()
}

// DeadLetter implements store.DeliveryLog: XACK and LPUSH in one MULTI.
func (l *deliveryLog) DeadLetter(ctx context.Context, d store.Delivery, reason string) error {
	dl := store.DeadLetter{Event: d.Event, Reason: reason, Attempts: d.Attempts, At: time.Now().UTC()}
	body, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("redis store: dead letter %s: %w", d.ID, err)
	}
	// Not settled until recorded (it is lost if that fails), but given up
	// on by the dispatcher only if it stays unrecorded minIdle from now.
	l.noteSettling([]string{d.ID}, false)
	var ack *goredis.IntCmd
	_, err = l.s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		ack = p.XAck(ctx, l.s.stream, l.group, d.ID)
		p.LPush(ctx, l.dead, body)
		p.LTrim(ctx, l.dead, 0, l.s.opts.MaxDeadLetters-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis store: dead letter %s: %w", d.ID, err)
	}
	l.noteAcked([]string{d.ID}, ack.Val())
	return nil
}

// DeadLetters implements store.DeliveryLog.
func (l *deliveryLog) DeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	raw, err := l.s.c.LRange(ctx, l.dead, 0, int64(limit-1)).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("redis store: dead letters %s: %w", l.group, err)
	}
	out := make([]store.DeadLetter, 0, len(raw))
	for _, r := range raw {
		d := json.NewDecoder(strings.NewReader(r))
		d.UseNumber()
		var dl store.DeadLetter
		if err := d.Decode(&dl); err != nil {
			return nil, fmt.Errorf("redis store: decode dead letter: %w", err)
		}
		out = append(out, dl)
	}
	return out, nil
}

// DropDeadLetters implements store.DeliveryLog: each matching entry of the
// list is removed by value (LREM), so entries pushed meanwhile stay.
func (l *deliveryLog) DropDeadLetters(ctx context.Context, ids ...string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	raw, err := l.s.c.LRange(ctx, l.dead, 0, -1).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return 0, fmt.Errorf("redis store: dead letters %s: %w", l.group, err)
	}
	var victims []string
	for _, r := range raw {
		var dl struct {
			ID string `json:"id"`
		}
		if json.Unmarshal([]byte(r), &dl) == nil && drop[dl.ID] {
			victims = append(victims, r)
		}
	}
	if len(victims) == 0 {
		return 0, nil
	}
	cmds, err := l.s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for _, v := range victims {
			p.LRem(ctx, l.dead, 1, v)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redis store: drop dead letters %s: %w", l.group, err)
	}
	n := 0
	for _, c := range cmds {
		if ic, ok := c.(*goredis.IntCmd); ok {
			n += int(ic.Val())
		}
	}
	return n, nil
}

// Lag implements store.DeliveryLog from XINFO GROUPS (pending + lag). It
// also records the position a lost group is re-created at.
func (l *deliveryLog) Lag(ctx context.Context) (int64, time.Duration, error) {
	type lag struct {
		n   int64
		age time.Duration
	}
	r, err := retryLost(ctx, l, func() (lag, error) {
		n, age, err := l.lag(ctx)
		return lag{n, age}, err
	})
	return r.n, r.age, err
}

func (l *deliveryLog) lag(ctx context.Context) (int64, time.Duration, error) {
	s := l.s
	// The stream's end and the group's counts in one MULTI: the entries
	// counted are exactly those up to that end (an append between the two
	// reads would be counted unacknowledged, yet outside the range its
	// acknowledgement is tracked in, and counted lost at a reset).
	var endCmd *goredis.XMessageSliceCmd
	var groupsCmd *goredis.XInfoGroupsCmd
	_, _ = s.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		endCmd = p.XRevRangeN(ctx, s.stream, "+", "-", 1)
		groupsCmd = p.XInfoGroups(ctx, s.stream)
		return nil
	})
	end, err := endCmd.Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return 0, 0, fmt.Errorf("redis store: last entry: %w", err)
	}
	seenEnd := "0-0"
	if len(end) > 0 {
		seenEnd = end[0].ID
	}
	groups, err := groupsCmd.Result()
	if err != nil {
		if strings.HasPrefix(err.Error(), "ERR no such key") {
			// The stream is gone, and the group with it.
			return 0, 0, fmt.Errorf("redis store: stream %s: %w", s.stream, errGroupGone)
		}
		return 0, 0, fmt.Errorf("redis store: group info: %w", err)
	}
	var g *goredis.XInfoGroup
	for i := range groups {
		if groups[i].Name == l.group {
			g = &groups[i]
		}
	}
	if g == nil {
		return 0, 0, fmt.Errorf("redis store: %s: %w", l.group, errGroupGone)
	}
	lag := g.Lag
	if lag < 0 {
		// Redis cannot tell (entries were deleted): count what is left.
		msgs, err := s.c.XRangeN(ctx, s.stream, "("+g.LastDeliveredID, "+", 1_000_000).Result()
		if err != nil {
			return 0, 0, fmt.Errorf("redis store: count undelivered: %w", err)
		}
		lag = int64(len(msgs))
	}
	if n, err := s.c.XLen(ctx, s.stream).Result(); err == nil {
		// Entries trimmed before delivery still count in Redis's lag.
		lag = min(lag, n)
	}
	pending := g.Pending
	var oldest string
	if pending > 0 {
		// Entries retention trimmed stay pending until XAUTOCLAIM drops
		// them; they are not deliverable, so they are not lag.
		first, err := s.c.XRangeN(ctx, s.stream, "-", "+", 1).Result()
		if err != nil {
			return 0, 0, fmt.Errorf("redis store: first entry: %w", err)
		}
		start := "-"
		if len(first) > 0 {
			stale, err := s.c.XPendingExt(ctx, &goredis.XPendingExtArgs{Stream: s.stream, Group: l.group, Start: "-", End: "(" + first[0].ID, Count: 100_000}).Result()
			if err != nil {
				return 0, 0, fmt.Errorf("redis store: stale pending: %w", err)
			}
			pending -= int64(len(stale))
			start = first[0].ID
		} else {
			pending = 0
		}
		if pending > 0 {
			p, err := s.c.XPendingExt(ctx, &goredis.XPendingExtArgs{Stream: s.stream, Group: l.group, Start: start, End: "+", Count: 1}).Result()
			if err != nil {
				return 0, 0, fmt.Errorf("redis store: oldest pending: %w", err)
			}
			if len(p) > 0 {
				oldest = p[0].ID
			}
		}
	}
	total := pending + lag
	resume := g.LastDeliveredID
	if oldest != "" {
		resume = before(oldest)
	}
	l.observed(resume, seenEnd, total)
	if total == 0 {
		return 0, 0, nil
	}
	if oldest == "" {
		msgs, err := s.c.XRangeN(ctx, s.stream, "("+g.LastDeliveredID, "+", 1).Result()
		if err != nil {
			return 0, 0, fmt.Errorf("redis store: oldest undelivered: %w", err)
		}
		if len(msgs) > 0 {
			oldest = msgs[0].ID
		}
	}
	var age time.Duration
	if oldest != "" {
		age = max(time.Since(store.IDTime(oldest)), 0)
	}
	return total, age, nil
}

// observed records a Lag observation for re-creating a lost group.
func (l *deliveryLog) observed(resume, seenEnd string, unacked int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resume, l.seenEnd, l.unacked = resume, seenEnd, unacked
}

// before is the greatest stream ID smaller than id: a group created there
// delivers id next.
func before(id string) string {
	ms, seq, err := store.ParseID(id)
	switch {
	case err != nil || (ms == 0 && seq == 0):
		return "0-0"
	case seq > 0:
		return store.FormatID(ms, seq-1)
	}
	return store.FormatID(ms-1, math.MaxUint64)
}
