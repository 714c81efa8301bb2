package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/saker-sec/saker/hub/store"
)

// A group is one consumer group's cursor: the last event handed out, the
// events handed out but not acknowledged, and its dead letters. Every change
// is logged; acknowledgements and dead letters are fsynced before returning,
// claims are not (a lost claim only means a redelivery, which
// at-least-once allows).
type group struct {
	name            string
	lastMs, lastSeq uint64
	pending         map[string]*pend
	dead            []store.DeadLetter // oldest first
}

type pend struct {
	ms, seq  uint64
	consumer string
	at       time.Time
	count    int
}

type groupCreate struct {
	Group string `json:"g"`
	Last  string `json:"last"`
}

type claimRec struct {
	Group    string    `json:"g"`
	Consumer string    `json:"c"`
	At       time.Time `json:"at"`
	IDs      []string  `json:"ids"`
}

type ackRec struct {
	Group string   `json:"g"`
	IDs   []string `json:"ids"`
}

type deadRec struct {
	Group string           `json:"g"`
	Dead  store.DeadLetter `json:"dead"`
}

type pendSnap struct {
	ID       string    `json:"id"`
	Consumer string    `json:"c"`
	At       time.Time `json:"at"`
	Count    int       `json:"n"`
}

type groupSnapshot struct {
	Group   string             `json:"g"`
	Last    string             `json:"last"`
	Pending []pendSnap         `json:"pending"`
	Dead    []store.DeadLetter `json:"dead"`
}

func newGroup(name string, ms, seq uint64) *group {
	return &group{name: name, lastMs: ms, lastSeq: seq, pending: map[string]*pend{}}
}

func (g *group) snapshot(s *Store) groupSnapshot {
	snap := groupSnapshot{Group: g.name, Last: store.FormatID(g.lastMs, g.lastSeq), Dead: g.dead}
	now := s.clock()
	for id, p := range g.pending {
		if s.find(p.ms, p.seq, now) == nil {
			continue // trimmed: nothing left to deliver
		}
		snap.Pending = append(snap.Pending, pendSnap{ID: id, Consumer: p.consumer, At: p.at, Count: p.count})
	}
	return snap
}

func (g *group) claimed(id, consumer string, at time.Time) error {
	ms, seq, err := store.ParseID(id)
	if err != nil {
		return err
	}
	if p := g.pending[id]; p != nil {
		p.consumer, p.at = consumer, at
		p.count++
	} else {
		g.pending[id] = &pend{ms: ms, seq: seq, consumer: consumer, at: at, count: 1}
	}
	if (&rec{ms: ms, seq: seq}).after(g.lastMs, g.lastSeq) {
		g.lastMs, g.lastSeq = ms, seq
	}
	return nil
}

func (g *group) addDead(d store.DeadLetter, max int) {
	delete(g.pending, d.ID)
	g.dead = append(g.dead, d)
	if over := len(g.dead) - max; over > 0 {
		g.dead = append([]store.DeadLetter(nil), g.dead[over:]...)
	}
}

// dropDead removes the dead letters of ids and returns how many it removed.
func (g *group) dropDead(ids []string) int {
	drop := make(map[string]bool, len(ids))
	for _, id := range ids {
		drop[id] = true
	}
	kept := g.dead[:0:0]
	for _, d := range g.dead {
		if !drop[d.ID] {
			kept = append(kept, d)
		}
	}
	n := len(g.dead) - len(kept)
	g.dead = kept
	return n
}

func (s *Store) replayGroup(typ byte, body []byte) error {
	var err error
	switch typ {
	case recGroup:
		var r groupCreate
		if err = json.Unmarshal(body, &r); err == nil {
			var ms, seq uint64
			if ms, seq, err = store.ParseID(r.Last); err == nil && s.groups[r.Group] == nil {
				s.groups[r.Group] = newGroup(r.Group, ms, seq)
			}
		}
	case recClaim:
		var r claimRec
		if err = json.Unmarshal(body, &r); err == nil {
			g := s.groupFor(r.Group)
			for _, id := range r.IDs {
				if err = g.claimed(id, r.Consumer, r.At); err != nil {
					break
				}
			}
		}
	case recAck:
		var r ackRec
		if err = json.Unmarshal(body, &r); err == nil {
			g := s.groupFor(r.Group)
			for _, id := range r.IDs {
				delete(g.pending, id)
			}
		}
	case recDeadLetter:
		d := deadRec{Dead: store.DeadLetter{Event: store.Event{}}}
		if err = unmarshalNumbers(body, &d); err == nil {
			s.groupFor(d.Group).addDead(d.Dead, s.opts.MaxDeadLetters)
		}
	case recDeadDrop:
		var r ackRec
		if err = json.Unmarshal(body, &r); err == nil {
			s.groupFor(r.Group).dropDead(r.IDs)
		}
	case recGroupState:
		var r groupSnapshot
		if err = unmarshalNumbers(body, &r); err == nil {
			var ms, seq uint64
			if ms, seq, err = store.ParseID(r.Last); err == nil {
				g := newGroup(r.Group, ms, seq)
				g.dead = r.Dead
				for _, p := range r.Pending {
					pm, ps, perr := store.ParseID(p.ID)
					if perr != nil {
						return perr
					}
					g.pending[p.ID] = &pend{ms: pm, seq: ps, consumer: p.Consumer, at: p.At, count: p.Count}
				}
				s.groups[r.Group] = g
			}
		}
	default:
		return fmt.Errorf("unknown record type %q", typ)
	}
	if err != nil {
		return fmt.Errorf("record %q: %w", typ, err)
	}
	return nil
}

// copyEvent copies an event held in memory (a dead letter) so callers
// cannot change it.
func copyEvent(e store.Event) store.Event {
	e.OutputFields = maps.Clone(e.OutputFields)
	e.Tags = slices.Clone(e.Tags)
	return e
}

func unmarshalNumbers(body []byte, v any) error {
	d := json.NewDecoder(bytesReader(body))
	d.UseNumber()
	return d.Decode(v)
}

// groupFor returns a group seen in the log, creating it when its creation
// record was lost (it was never fsynced): it then starts at the beginning.
func (s *Store) groupFor(name string) *group {
	g := s.groups[name]
	if g == nil {
		g = newGroup(name, 0, 0)
		s.groups[name] = g
	}
	return g
}

// Deliveries implements store.Store.
func (s *Store) Deliveries(ctx context.Context, name string) (store.DeliveryLog, error) {
	if name == "" {
		return nil, errors.New("embedded store: empty consumer group name")
	}
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if s.groups[name] != nil {
		s.mu.Unlock()
		return &deliveryLog{s: s, name: name}, nil
	}
	g := newGroup(name, s.visMs, s.visSeq)
	body, _ := json.Marshal(groupCreate{Group: name, Last: store.FormatID(g.lastMs, g.lastSeq)})
	// Registered at once, so a concurrent call does not create it twice;
	// a failed write takes it back.
	s.groups[name] = g
	err := s.awaitLocked(s.queueRecordLocked(recGroup, body, &ticket{sync: s.syncs(), undo: func() {
		if s.groups[name] == g {
			delete(s.groups, name)
		}
	}}))
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return &deliveryLog{s: s, name: name}, nil
}

type deliveryLog struct {
	s    *Store
	name string
}

// Claim implements store.DeliveryLog.
func (l *deliveryLog) Claim(ctx context.Context, consumer string, max int, minIdle, block time.Duration) ([]store.Delivery, error) {
	if max <= 0 {
		max = 1
	}
	s := l.s
	var deadline time.Time
	if block > 0 {
		deadline = time.Now().Add(block) // a real wait: the wall clock, not the store's
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The claimed events are read after s.mu is released (see read.go).
		s.fileMu.RLock()
		s.mu.Lock()
		if err := s.usableLocked(); err != nil {
			s.mu.Unlock()
			s.fileMu.RUnlock()
			return nil, err
		}
		claimed := l.claimLocked(consumer, max, minIdle)
		ch, f := s.notifyChan(), s.f
		s.mu.Unlock()
		var out []store.Delivery
		for _, c := range claimed {
			e, err := s.read(f, c.l)
			if err != nil {
				// Claimed already: redelivered once minIdle passes.
				s.fileMu.RUnlock()
				return nil, err
			}
			out = append(out, store.Delivery{Event: e, Attempts: c.attempts})
		}
		s.fileMu.RUnlock()
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

// claimed is an event a Claim hands out: where it lies and its attempt.
type claimed struct {
	l        loc
	attempts int
}

func (l *deliveryLog) claimLocked(consumer string, max int, minIdle time.Duration) []claimed {
	s := l.s
	g := s.groups[l.name]
	now := s.clock()
	var out []claimed
	// Reclaim events idle too long with another (or this) consumer, oldest first.
	var idle []*pend
	for id, p := range g.pending {
		if now.Sub(p.at) < minIdle {
			continue
		}
		if s.find(p.ms, p.seq, now) == nil {
			delete(g.pending, id) // trimmed by retention
			continue
		}
		idle = append(idle, p)
	}
	sort.Slice(idle, func(i, j int) bool {
		return idle[i].ms < idle[j].ms || (idle[i].ms == idle[j].ms && idle[i].seq < idle[j].seq)
	})
	for _, p := range idle {
		if len(out) == max {
			break
		}
		out = append(out, claimed{l: s.find(p.ms, p.seq, now).loc(), attempts: p.count + 1})
	}
	// Then events never handed out.
	for i := s.firstAfter(g.lastMs, g.lastSeq, now); i < len(s.evs) && len(out) < max; i++ {
		out = append(out, claimed{l: s.evs[i].loc(), attempts: 1})
	}
	if len(out) == 0 {
		return nil
	}
	r := claimRec{Group: l.name, Consumer: consumer, At: now, IDs: make([]string, len(out))}
	for i, c := range out {
		r.IDs[i] = c.l.id()
	}
	body, _ := json.Marshal(r)
	// Not awaited: a lost claim only means a redelivery. It goes out with
	// the next flush, at once when none is in flight.
	for _, id := range r.IDs {
		_ = g.claimed(id, consumer, now)
	}
	s.queueRecordLocked(recClaim, body, &ticket{})
	if !s.flushing {
		s.flushLocked(false) // releases s.mu meanwhile: the claim is made already
	}
	return out
}

// Ack implements store.DeliveryLog; acknowledgements are durable on return.
func (l *deliveryLog) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	s := l.s
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	body, _ := json.Marshal(ackRec{Group: l.name, IDs: ids})
	err := s.awaitLocked(s.queueRecordLocked(recAck, body, &ticket{sync: s.syncs(), apply: func() {
		g := s.groups[l.name]
		for _, id := range ids {
			delete(g.pending, id)
		}
	}}))
	s.mu.Unlock()
	return err
}

// DeadLetter implements store.DeliveryLog.
func (l *deliveryLog) DeadLetter(ctx context.Context, d store.Delivery, reason string) error {
	s := l.s
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return err
	}
	dl := store.DeadLetter{Event: copyEvent(d.Event), Reason: reason, Attempts: d.Attempts, At: s.clock().UTC()}
	body, err := json.Marshal(deadRec{Group: l.name, Dead: dl})
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("dead letter %s: %w", d.ID, err)
	}
	err = s.awaitLocked(s.queueRecordLocked(recDeadLetter, body, &ticket{sync: s.syncs(), apply: func() {
		s.groups[l.name].addDead(dl, s.opts.MaxDeadLetters)
	}}))
	s.mu.Unlock()
	return err
}

// DeadLetters implements store.DeliveryLog.
func (l *deliveryLog) DeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error) {
	if limit <= 0 {
		limit = store.DefaultLimit
	}
	s := l.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	dead := s.groups[l.name].dead
	out := make([]store.DeadLetter, 0, min(limit, len(dead)))
	for i := len(dead) - 1; i >= 0 && len(out) < limit; i-- {
		d := dead[i]
		d.Event = copyEvent(d.Event)
		out = append(out, d)
	}
	return out, nil
}

// DropDeadLetters implements store.DeliveryLog; the removal is durable on
// return.
func (l *deliveryLog) DropDeadLetters(ctx context.Context, ids ...string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	s := l.s
	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	body, _ := json.Marshal(ackRec{Group: l.name, IDs: ids})
	n := 0
	err := s.awaitLocked(s.queueRecordLocked(recDeadDrop, body, &ticket{sync: s.syncs(), apply: func() {
		n = s.groups[l.name].dropDead(ids)
	}}))
	s.mu.Unlock()
	return n, err
}

// Lag implements store.DeliveryLog.
func (l *deliveryLog) Lag(ctx context.Context) (int64, time.Duration, error) {
	s := l.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := s.groups[l.name]
	now := s.clock()
	var n int64
	oldest := uint64(0)
	note := func(ms uint64) {
		n++
		if oldest == 0 || ms < oldest {
			oldest = ms
		}
	}
	for _, p := range g.pending {
		if s.find(p.ms, p.seq, now) != nil {
			note(p.ms)
		}
	}
	for i := s.firstAfter(g.lastMs, g.lastSeq, now); i < len(s.evs); i++ {
		note(s.evs[i].ms)
	}
	if n == 0 {
		return 0, 0, nil
	}
	return n, max(now.Sub(time.UnixMilli(int64(oldest))), 0), nil
}
