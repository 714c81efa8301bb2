package k8saudit

import (
	_ "embed"
	"fmt"
	"sort"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/rules"
)

// DefaultRulesName is the name the embedded rules are reported under.
const DefaultRulesName = "k8s_audit_rules.yaml"

// DefaultRules is Falco's official k8s_audit_rules.yaml (Apache-2.0),
// unmodified: the rules evaluated when no other k8s_audit rules are given.
//
//go:embed k8s_audit_rules.yaml
var DefaultRules []byte

// RulesConfig extends cfg so a loader accepts and compiles k8s_audit rules
// (next to syscall rules, as Falco with the k8saudit plugin does).
func RulesConfig(cfg rules.Config) rules.Config {
	fs := map[string]rules.FieldSet{Source: Fields{}}
	for k, v := range cfg.Fields {
		fs[k] = v
	}
	cfg.Fields = fs
	ps := Plugins()
	for k, v := range cfg.Plugins {
		ps[k] = v
	}
	cfg.Plugins = ps
	return cfg
}

// LoadRules loads the rules files in order (the embedded default when
// none) and compiles them with the k8s_audit source enabled.
func LoadRules(cfg rules.Config, paths ...string) (*rules.Ruleset, error) {
	l := rules.NewLoader(RulesConfig(cfg))
	if len(paths) == 0 {
		if err := l.Load(DefaultRulesName, DefaultRules); err != nil {
			return nil, err
		}
	}
	for _, p := range paths {
		if err := l.LoadFile(p); err != nil {
			return nil, err
		}
	}
	return l.Compile()
}

// Options tune an Engine.
type Options struct {
	// All reports every matching rule (Falco's rule_matching: all);
	// otherwise the first in definition order.
	All bool
	// Hostname goes into each alert.
	Hostname string
	// TimeISO8601 prints the output line's time as UTC ISO 8601.
	TimeISO8601 bool
	// Location is the zone of the line's local time (default time.Local).
	Location *time.Location
}

// Engine evaluates the enabled k8s_audit rules of a ruleset. It is
// immutable and safe for concurrent use.
type Engine struct {
	rules []*rules.Rule
	outs  []*formatter
	tags  [][]string
	opts  Options
}

// NewEngine selects the enabled, loaded k8s_audit rules of rs and compiles
// their outputs.
func NewEngine(rs *rules.Ruleset, o Options) (*Engine, error) {
	e := &Engine{opts: o}
	for _, r := range rs.Rules {
		if r.Source != Source || !r.Enabled || !r.Loaded || r.Filter == nil {
			continue
		}
		f, err := compileOutput(r.Output)
		if err != nil {
			return nil, fmt.Errorf("rule %q output: %w", r.Name, err)
		}
		tags := append([]string(nil), r.Tags...)
		sort.Strings(tags)
		e.rules = append(e.rules, r)
		e.outs = append(e.outs, f)
		e.tags = append(e.tags, tags)
	}
	return e, nil
}

// Rules returns the rules the engine evaluates, in definition order.
func (e *Engine) Rules() []*rules.Rule { return e.rules }

// evalEvent is the event.Event the compiled filters read, wrapping one
// audit event.
type evalEvent struct {
	ev event.Event
}

// Eval evaluates one audit event and appends an alert per match (at most
// one unless Options.All) to dst.
func (e *Engine) Eval(dst []alert.Alert, a *Event) []alert.Alert {
	ev := &evalEvent{ev: event.Event{Type: event.Type(0), TS: a.TS, Plugin: a}}
	for i, r := range e.rules {
		if !r.Filter(&ev.ev) {
			continue
		}
		dst = append(dst, e.alert(i, ev))
		if !e.opts.All {
			break
		}
	}
	return dst
}

func (e *Engine) alert(i int, ev *evalEvent) alert.Alert {
	r := e.rules[i]
	line := appendTime(make([]byte, 0, 256), ev.ev.TS, e.opts.TimeISO8601, e.opts.Location)
	line = append(line, ": "...)
	line = append(line, r.Priority.String()...)
	line = append(line, ' ')
	line = e.outs[i].appendText(line, ev)
	var tags []string
	if len(e.tags[i]) > 0 {
		tags = append([]string(nil), e.tags[i]...)
	}
	return alert.Alert{
		Output:       string(line),
		Priority:     r.Priority,
		Rule:         r.Name,
		Time:         time.Unix(0, ev.ev.TS).UTC(),
		OutputFields: e.outs[i].fields(ev),
		Source:       Source,
		Tags:         tags,
		Hostname:     e.opts.Hostname,
	}
}
