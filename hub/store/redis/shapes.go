package redis

import (
	"strings"
	"sync"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
)

// shapeMemoMax bounds the shape memo; past it, it starts afresh.
const shapeMemoMax = 1 << 12

// A shape is what alerts of one rule, priority, host, source, tags and
// container share in the append script's arguments: the index keys, the
// rule sets and the counter field. Building it (counterKey, ruleSets,
// indexSuffixes, and boxing each string as an argument) took about a
// quarter of the hub's CPU and half its allocations for a lone Append
// (BenchmarkAppendScript/single-16-senders-falco, pprof); Falco sends the
// same few shapes over and over, so shapeMemo keeps them built.
type shape struct {
	// rule is the shape's rule (cloned: an alert's strings may share the
	// memory of its whole request body).
	rule string
	// key is the counter field (counterKey).
	key string
	// idx are the index key suffixes (indexSuffixes), boxed as script
	// arguments; ruleArg, prioArg (prioritySet) and keyArg likewise.
	idx                      []any
	ruleArg, prioArg, keyArg any
	// sets are the rule sets (ruleSets), checked against the ruleSetMemo
	// on each append.
	sets []string
}

// shapeMemo keeps the shapes of the alerts appended lately, by their
// store.AppendShapeKey.
type shapeMemo struct {
	mu sync.Mutex
	m  map[string]*shape
}

func newShapeMemo() *shapeMemo { return &shapeMemo{m: make(map[string]*shape)} }

// of returns a's shape, built once per distinct shape.
func (sm *shapeMemo) of(a *alert.Alert) *shape {
	var buf [256]byte
	key := store.AppendShapeKey(buf[:0], a)
	sm.mu.Lock()
	sh := sm.m[string(key)]
	sm.mu.Unlock()
	if sh != nil {
		return sh
	}
	sh = newShape(a)
	sm.mu.Lock()
	if len(sm.m) >= shapeMemoMax {
		sm.m = make(map[string]*shape)
	}
	sm.m[string(key)] = sh
	sm.mu.Unlock()
	return sh
}

func newShape(a *alert.Alert) *shape {
	sh := &shape{rule: strings.Clone(a.Rule), key: counterKey(a), sets: ruleSets(a)}
	for _, k := range indexSuffixes(a) {
		sh.idx = append(sh.idx, k)
	}
	sh.ruleArg, sh.prioArg, sh.keyArg = sh.rule, prioritySet(a), sh.key
	return sh
}
