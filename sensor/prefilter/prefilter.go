// Package prefilter derives from the loaded rules what the probe may drop in
// the kernel: for open, openat, openat2 and creat, the path prefixes and the
// outcomes (access mode, success or failure) that some rule could match.
//
// The derivation over-approximates each rule's condition by walking its
// syntax tree for one event type at a time: evt.type tests are decided,
// path tests (fd.name, fd.directory, fs.path.name, evt.arg.name… with =, in,
// startswith, pmatch, glob) become prefixes, open-mode and result tests
// (evt.is_open_read/write, fd.num, evt.rawres, evt.failed) become outcome
// sets, and anything else may be true or false. A negation is kept only
// where the tree below it is decided exactly; otherwise it may be anything.
// So an open the filter drops is one no rule can match, whatever the fields
// the kernel does not see.
package prefilter

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/probe"
	"github.com/saker-sec/saker/sensor/rules"
)

// Candidates returns the rules evaluated for events of one type, as the
// engine indexes them (*engine.Engine implements it).
type Candidates interface {
	Candidates(t event.Type) []*rules.Rule
}

// OpenTypes are the event types the open filter applies to.
var OpenTypes = []event.Type{event.TypeOpen, event.TypeOpenat, event.TypeOpenat2, event.TypeCreat}

// maxTerms bounds the terms one condition may expand to; a conjunction
// whose product would exceed it keeps one side, which the conjunction
// implies.
const maxTerms = 4096

// Open returns the open filter for the rules the engine evaluates.
func Open(eng Candidates) *probe.OpenFilter {
	var terms []probe.OpenTerm
	for _, t := range OpenTypes {
		for _, r := range eng.Candidates(t) {
			terms = append(terms, analyze(r.AST, t).terms...)
		}
	}
	return &probe.OpenFilter{Terms: simplify(terms)}
}

// set is a condition's over-approximation: the opens it may match are those
// covered by a term. exact means it matches exactly those, which only
// outcome-only sets (every prefix "") can claim.
type set struct {
	terms []probe.OpenTerm
	exact bool
}

func anything() set { return set{terms: []probe.OpenTerm{{Outcomes: probe.OpenAny}}} }

func decided(v bool) set {
	if v {
		return set{terms: []probe.OpenTerm{{Outcomes: probe.OpenAny}}, exact: true}
	}
	return set{exact: true}
}

func outcomes(o probe.OpenOutcomes, exact bool) set {
	if o == 0 {
		return set{exact: exact}
	}
	return set{terms: []probe.OpenTerm{{Outcomes: o}}, exact: exact}
}

func analyze(n rules.Node, t event.Type) set {
	switch x := n.(type) {
	case *rules.And:
		acc := decided(true)
		for _, c := range x.Children {
			acc = and(acc, analyze(c, t))
		}
		return acc
	case *rules.Or:
		acc := decided(false)
		for _, c := range x.Children {
			s := analyze(c, t)
			acc = set{terms: append(acc.terms, s.terms...), exact: acc.exact && s.exact}
		}
		return acc
	case *rules.Not:
		s := analyze(x.Child, t)
		if !s.exact {
			return anything()
		}
		var o probe.OpenOutcomes
		for _, term := range s.terms {
			if term.Prefix != "" {
				return anything()
			}
			o |= term.Outcomes
		}
		return outcomes(probe.OpenAny&^o, true)
	case *rules.Binary:
		return binary(x, t)
	}
	return anything()
}

func and(a, b set) set {
	if len(a.terms)*len(b.terms) > maxTerms {
		if len(a.terms) <= len(b.terms) {
			return set{terms: a.terms}
		}
		return set{terms: b.terms}
	}
	out := set{exact: a.exact && b.exact}
	for _, x := range a.terms {
		for _, y := range b.terms {
			o := x.Outcomes & y.Outcomes
			comms, ok := intersectComms(x.Comms, y.Comms)
			if o == 0 || !ok {
				continue
			}
			switch {
			case strings.HasPrefix(x.Prefix, y.Prefix):
				out.terms = append(out.terms, probe.OpenTerm{Prefix: x.Prefix, Outcomes: o, Comms: comms})
			case strings.HasPrefix(y.Prefix, x.Prefix):
				out.terms = append(out.terms, probe.OpenTerm{Prefix: y.Prefix, Outcomes: o, Comms: comms})
			}
		}
	}
	return out
}

// intersectComms intersects two name sets (nil is every name); ok is false
// when the intersection is empty.
func intersectComms(a, b []string) (comms []string, ok bool) {
	switch {
	case a == nil:
		return b, true
	case b == nil:
		return a, true
	}
	for _, c := range a {
		if slices.Contains(b, c) {
			comms = append(comms, c)
		}
	}
	return comms, len(comms) > 0
}

// pathFields hold the opened path: resolved (fd.name, fs.path.name), as
// passed (fd.nameraw, evt.arg.name) or its directory (fd.directory). For an
// absolute path without "." components the kernel's raw path starts with
// the same bytes as each of them.
var pathFields = map[string]bool{
	"fd.name": true, "fd.nameraw": true, "fd.directory": true,
	"fs.path.name": true, "fs.path.nameraw": true,
}

// pathArgs are the evt.arg.NAME names of an open's path argument.
var pathArgs = map[string]bool{"name": true, "path": true, "pathname": true, "filename": true}

func binary(b *rules.Binary, t event.Type) set {
	f := b.Left
	if f.Transformer != "" || b.Right != nil {
		return anything()
	}
	switch {
	case f.Name == "evt.type" && !f.HasArg:
		return evtType(b, t)
	case pathFields[f.Name] && !f.HasArg, f.Name == "evt.arg" && f.HasArg && pathArgs[f.Arg]:
		return pathPrefixes(b)
	case f.Name == "proc.name" && !f.HasArg && (b.Op == "=" || b.Op == "==" || b.Op == "in"):
		// proc.name is the process's main-thread comm as of its last
		// exec or fork, which every record carries and the probe tests.
		return set{terms: []probe.OpenTerm{{Outcomes: probe.OpenAny, Comms: slices.Clone(b.Values)}}}
	case f.Name == "evt.is_open_read" || f.Name == "evt.is_open_write":
		v, ok := boolValue(b)
		if !ok {
			return anything()
		}
		o := probe.OpenReading
		if f.Name == "evt.is_open_write" {
			o = probe.OpenWriting
		}
		if !v {
			o = probe.OpenAny &^ o
		}
		return outcomes(o, true)
	case f.Name == "evt.failed":
		v, ok := boolValue(b)
		if !ok {
			return anything()
		}
		if v {
			return outcomes(probe.OpenFailed, true)
		}
		return outcomes(probe.OpenSucceeded, true)
	case f.Name == "fd.num":
		// A failed open has fd.num -1; a successful one a descriptor.
		return byResult(b, -1, -1)
	case f.Name == "evt.rawres":
		return byResult(b, -4095, -1)
	}
	return anything()
}

// evtType decides an evt.type test for events of type t.
func evtType(b *rules.Binary, t event.Type) set {
	in := false
	for _, v := range b.Values {
		if v == t.String() {
			in = true
		}
	}
	switch b.Op {
	case "=", "==", "in", "intersects":
		return decided(in)
	case "!=":
		return decided(!in)
	}
	return anything()
}

func pathPrefixes(b *rules.Binary) set {
	var s set
	for _, v := range b.Values {
		switch b.Op {
		case "=", "==", "in", "startswith", "pmatch":
		case "glob":
			if globNeedsKept(v) {
				continue
			}
			if i := strings.IndexAny(v, `*?[\`); i >= 0 {
				v = v[:i]
			}
		case "contains":
			if keptAlways(v) {
				continue
			}
			v = ""
		default:
			return anything()
		}
		s.terms = append(s.terms, probe.OpenTerm{Prefix: v, Outcomes: probe.OpenAny})
	}
	return s
}

// keptAlways reports whether every path containing s is one the probe
// sends without judging it: one with "/.", "./" or "//" in it. (A path
// without them is its own cleaned form, so fd.name contains s only if the
// path as passed does.)
func keptAlways(s string) bool {
	return strings.Contains(s, "/.") || strings.Contains(s, "./") || strings.Contains(s, "//")
}

// globNeedsKept reports whether every path a glob matches contains a
// literal run the probe always sends (see keptAlways).
func globNeedsKept(g string) bool {
	if strings.ContainsAny(g, `[\`) {
		return false
	}
	for _, lit := range strings.FieldsFunc(g, func(r rune) bool { return r == '*' || r == '?' }) {
		if keptAlways(lit) {
			return true
		}
	}
	return false
}

// boolValue reads "field = true|false" and "field != …" as the value the
// field must have.
func boolValue(b *rules.Binary) (value, ok bool) {
	if b.IsList || len(b.Values) != 1 {
		return false, false
	}
	switch b.Values[0] {
	case "true", "1":
		value = true
	case "false", "0":
	default:
		return false, false
	}
	switch b.Op {
	case "=", "==":
		return value, true
	case "!=":
		return !value, true
	}
	return false, false
}

// byResult reads a numeric comparison on a field that takes a value in
// [failLo, failHi] when the open failed and a non-negative one when it
// succeeded. The set is exact when the comparison is decided for each.
func byResult(b *rules.Binary, failLo, failHi int64) set {
	if b.IsList || len(b.Values) != 1 {
		return anything()
	}
	v, err := strconv.ParseInt(b.Values[0], 0, 64)
	if err != nil {
		return anything()
	}
	failAll, failSome, okF := rangeTest(b.Op, v, failLo, failHi)
	succAll, succSome, okS := rangeTest(b.Op, v, 0, math.MaxInt64)
	if !okF || !okS {
		return anything()
	}
	var o probe.OpenOutcomes
	if failSome {
		o |= probe.OpenFailed
	}
	if succSome {
		o |= probe.OpenSucceeded
	}
	exact := (failAll || !failSome) && (succAll || !succSome)
	return outcomes(o, exact)
}

// rangeTest tells whether "x op v" holds for every x in [lo, hi] (all) and
// for at least one (some).
func rangeTest(op string, v, lo, hi int64) (all, some, ok bool) {
	switch op {
	case "=", "==":
		return lo == hi && lo == v, lo <= v && v <= hi, true
	case "!=":
		return v < lo || v > hi, !(lo == hi && lo == v), true
	case "<":
		return hi < v, lo < v, true
	case "<=":
		return hi <= v, lo <= v, true
	case ">":
		return lo > v, hi > v, true
	case ">=":
		return lo >= v, hi >= v, true
	}
	return false, false, false
}

// simplify merges the terms of one prefix and name set, and drops those a
// shorter prefix with the same names and outcomes already covers.
func simplify(terms []probe.OpenTerm) []probe.OpenTerm {
	type key struct{ prefix, comms string }
	merged := map[key]*probe.OpenTerm{}
	for _, t := range terms {
		if t.Comms != nil {
			t.Comms = slices.Compact(slices.Sorted(slices.Values(t.Comms)))
		}
		k := key{t.Prefix, strings.Join(t.Comms, "\x00")}
		if t.Comms == nil {
			k.comms = "\x00any"
		}
		if m := merged[k]; m != nil {
			m.Outcomes |= t.Outcomes
			continue
		}
		merged[k] = &probe.OpenTerm{Prefix: t.Prefix, Outcomes: t.Outcomes, Comms: t.Comms}
	}
	var out []probe.OpenTerm
	for k, t := range merged {
		covered := false
		for q, qt := range merged {
			if q.comms == k.comms && len(q.prefix) < len(k.prefix) && strings.HasPrefix(k.prefix, q.prefix) && t.Outcomes&^qt.Outcomes == 0 {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b probe.OpenTerm) int {
		if c := strings.Compare(a.Prefix, b.Prefix); c != 0 {
			return c
		}
		return strings.Compare(strings.Join(a.Comms, ","), strings.Join(b.Comms, ","))
	})
	return out
}
