package redis

import (
	"sync"
	"time"
)

// ruleSetTTL is how long a rule set write is trusted to be in Redis.
const ruleSetTTL = 10 * time.Second

// ruleSetMemoMax bounds the memo; past it, it starts afresh.
const ruleSetMemoMax = 1 << 14

// ruleSetMemo remembers which rules this process added to which rule sets
// ("g:s:<source>", "g:t:<tag>") lately, so Append leaves out the SADDs
// Redis already holds: a Falco alert carries a source and several tags, so
// they would be about a quarter of its commands in the append script,
// each adding nothing after the rule's first alert. An entry is trusted
// for ruleSetTTL: should Redis lose the sets (FLUSHALL, failover to an
// empty replica), a filter by tag or source misses that rule's new alerts
// for at most that long; they stay indexed by rule, and the next write of
// the set makes all of them found again.
type ruleSetMemo struct {
	ttl  time.Duration // ruleSetTTL; tests shorten it
	mu   sync.Mutex
	sent map[ruleSetKey]time.Time
}

type ruleSetKey struct{ set, rule string }

// missing returns the sets of rule not written within the memo's TTL of
// now.
func (m *ruleSetMemo) missing(rule string, sets []string, now time.Time) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := sets[:0:0]
	for _, set := range sets {
		if t, ok := m.sent[ruleSetKey{set, rule}]; !ok || now.Sub(t) >= m.ttl || now.Before(t) {
			out = append(out, set)
		}
	}
	return out
}

// written records that Redis acknowledged adding rule to sets at t (the
// time before the write was sent).
func (m *ruleSetMemo) written(rule string, sets []string, t time.Time) {
	if len(sets) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sent == nil || len(m.sent) >= ruleSetMemoMax {
		m.sent = make(map[ruleSetKey]time.Time)
	}
	for _, set := range sets {
		m.sent[ruleSetKey{set, rule}] = t
	}
}
