package redis

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/saker-sec/saker/hub/alert"
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
	// What identifies it (strings cloned: an alert's strings may share
	// the memory of its whole request body).
	priority               alert.Priority
	rule, host, source     string
	container, image       string
	hasContainer, hasImage bool
	tags                   []string
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

// shapeMemo keeps the shapes of the alerts appended lately.
type shapeMemo struct {
	seed maphash.Seed
	mu   sync.Mutex
	m    map[uint64]*shape
}

func newShapeMemo() *shapeMemo {
	return &shapeMemo{seed: maphash.MakeSeed(), m: make(map[uint64]*shape)}
}

// shapeID is what a shape is known by: the alert's fields that are not
// plain members, and their hash (the memo's key).
type shapeID struct {
	sum                    uint64
	container, image       string
	hasContainer, hasImage bool
}

func (sm *shapeMemo) id(a *alert.Alert) shapeID {
	var id shapeID
	id.container, id.hasContainer = a.Field("container.name")
	id.image, id.hasImage = a.Field("container.image.repository")
	var h maphash.Hash
	h.SetSeed(sm.seed)
	h.WriteByte(byte(a.Priority))
	for _, s := range [...]string{a.Rule, a.Hostname, a.Source, id.container, id.image} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.WriteByte(flag(id.hasContainer)<<1 | flag(id.hasImage))
	for _, t := range a.Tags {
		h.WriteString(t)
		h.WriteByte(0)
	}
	id.sum = h.Sum64()
	return id
}

// of returns a's shape, built once per distinct shape.
func (sm *shapeMemo) of(a *alert.Alert) *shape {
	id := sm.id(a)
	sum, container, image, hasContainer, hasImage := id.sum, id.container, id.image, id.hasContainer, id.hasImage
	sm.mu.Lock()
	sh := sm.m[sum]
	sm.mu.Unlock()
	if sh != nil && sh.priority == a.Priority && sh.rule == a.Rule && sh.host == a.Hostname &&
		sh.source == a.Source && sh.container == container && sh.hasContainer == hasContainer &&
		sh.image == image && sh.hasImage == hasImage && slices.Equal(sh.tags, a.Tags) {
		return sh
	}
	sh = newShape(a, container, image, hasContainer, hasImage)
	sm.mu.Lock()
	if len(sm.m) >= shapeMemoMax {
		sm.m = make(map[uint64]*shape)
	}
	sm.m[sum] = sh // replaces a colliding shape: both stay correct
	sm.mu.Unlock()
	return sh
}

func flag(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func newShape(a *alert.Alert, container, image string, hasContainer, hasImage bool) *shape {
	tags := make([]string, len(a.Tags))
	for i, t := range a.Tags {
		tags[i] = strings.Clone(t)
	}
	sh := &shape{
		priority: a.Priority, rule: strings.Clone(a.Rule), host: strings.Clone(a.Hostname),
		source: strings.Clone(a.Source), container: strings.Clone(container), image: strings.Clone(image),
		hasContainer: hasContainer, hasImage: hasImage, tags: tags,
		key:  counterKey(a),
		sets: ruleSets(a),
	}
	for _, k := range indexSuffixes(a) {
		sh.idx = append(sh.idx, k)
	}
	sh.ruleArg, sh.prioArg, sh.keyArg = sh.rule, prioritySet(a), sh.key
	return sh
}
