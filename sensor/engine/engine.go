// Package engine evaluates compiled Falco rules against events. Rules are
// indexed by event type, so an event only meets the rules that can match
// it, in definition order; matching stops at the first match (Falco's
// default rule_matching: first) or reports every match (all).
package engine

import (
	"fmt"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/rules"
)

// Matching selects Falco's rule_matching strategy.
type Matching uint8

// Matching strategies.
const (
	MatchFirst Matching = iota // stop at the first matching rule
	MatchAll                   // report every matching rule
)

// ParseMatching parses a rule_matching value ("first" or "all").
func ParseMatching(s string) (Matching, error) {
	switch s {
	case "", "first":
		return MatchFirst, nil
	case "all":
		return MatchAll, nil
	}
	return MatchFirst, fmt.Errorf("invalid rule_matching %q (want first or all)", s)
}

// Options configure an Engine.
type Options struct {
	Matching Matching
}

// Engine is an immutable index of enabled, loaded rules. It is safe for
// concurrent use.
type Engine struct {
	matching Matching
	byType   [event.NumTypes][]*rules.Rule
	// one holds a one-element slice per rule so Match can return a match
	// in first mode without allocating.
	one   map[*rules.Rule][]*rules.Rule
	rules []*rules.Rule
	types []event.Type
}

// New indexes the enabled and loaded rules of rs.
func New(rs *rules.Ruleset, opts Options) *Engine {
	e := &Engine{matching: opts.Matching, one: map[*rules.Rule][]*rules.Rule{}}
	var seen [event.NumTypes]bool
	for _, r := range rs.Rules {
		if !r.Enabled || !r.Loaded || r.Filter == nil || r.Source != "" && r.Source != "syscall" {
			continue
		}
		e.rules = append(e.rules, r)
		e.one[r] = []*rules.Rule{r}
		for _, t := range r.EventTypes {
			e.byType[t] = append(e.byType[t], r)
			seen[t] = true
		}
	}
	for t := event.Type(1); t < event.NumTypes; t++ {
		if seen[t] {
			e.types = append(e.types, t)
		}
	}
	return e
}

// Rules returns the rules the engine evaluates, in definition order.
func (e *Engine) Rules() []*rules.Rule { return e.rules }

// EventTypes returns the event types at least one rule can match, sorted;
// the probe uses it to filter in the kernel.
func (e *Engine) EventTypes() []event.Type { return e.types }

// Candidates returns the rules an event of type t is evaluated against.
func (e *Engine) Candidates(t event.Type) []*rules.Rule {
	if t >= event.NumTypes {
		return nil
	}
	return e.byType[t]
}

// Match evaluates ev and returns the matching rules: at most one with
// MatchFirst, every match in definition order with MatchAll. It does not
// allocate when nothing matches, nor in MatchFirst mode. The returned slice
// must not be modified.
func (e *Engine) Match(ev *event.Event) []*rules.Rule {
	if ev.Type >= event.NumTypes {
		return nil
	}
	cands := e.byType[ev.Type]
	if e.matching == MatchFirst {
		for _, r := range cands {
			if r.Filter(ev) {
				return e.one[r]
			}
		}
		return nil
	}
	return e.MatchAppend(nil, ev)
}

// MatchAppend appends every matching rule to dst (regardless of the
// matching mode) and returns it; with a reused dst it does not allocate.
func (e *Engine) MatchAppend(dst []*rules.Rule, ev *event.Event) []*rules.Rule {
	if ev.Type >= event.NumTypes {
		return dst
	}
	for _, r := range e.byType[ev.Type] {
		if r.Filter(ev) {
			dst = append(dst, r)
		}
	}
	return dst
}
