// Package k8saudit is the hub's Kubernetes audit input: it turns the body
// an API server's audit webhook POSTs (an audit.k8s.io/v1 EventList, or an
// Event) into Falco alerts of source k8s_audit by evaluating the k8s_audit
// rules (sensor/k8saudit). The hub's API stores them like any alert.
package k8saudit

import (
	"fmt"
	"os"
	"time"

	"github.com/valyala/fastjson"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/k8saudit"
	"github.com/saker-sec/saker/sensor/rules"
)

// Options configure an Evaluator.
type Options struct {
	// RulesFiles are k8s_audit rules files loaded in order; none loads
	// Falco's official k8s_audit_rules.yaml, embedded.
	RulesFiles []string
	// All reports every matching rule per event (rule_matching: all).
	All bool
	// Hostname goes into each alert (default: os.Hostname()).
	Hostname string
}

// Evaluator decodes webhook bodies and evaluates them. It is safe for
// concurrent use.
type Evaluator struct {
	engine  *k8saudit.Engine
	parsers fastjson.ParserPool
	now     func() time.Time
	// Warnings are the rules loader's warnings, for the hub to log.
	Warnings []rules.Warning
}

// New loads the rules and builds an Evaluator.
func New(o Options) (*Evaluator, error) {
	rs, err := k8saudit.LoadRules(rules.Config{}, o.RulesFiles...)
	if err != nil {
		return nil, fmt.Errorf("k8s audit rules: %w", err)
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	e, err := k8saudit.NewEngine(rs, k8saudit.Options{All: o.All, Hostname: o.Hostname})
	if err != nil {
		return nil, fmt.Errorf("k8s audit rules: %w", err)
	}
	return &Evaluator{engine: e, now: time.Now, Warnings: rs.Warnings}, nil
}

// Rules is the number of k8s_audit rules evaluated.
func (e *Evaluator) Rules() int { return len(e.engine.Rules()) }

// Evaluate decodes one webhook body and returns how many audit events it
// held and the alerts they raised. A malformed body is a
// *k8saudit.DecodeError and raises nothing.
func (e *Evaluator) Evaluate(body []byte) (events int, alerts []alert.Alert, err error) {
	p := e.parsers.Get()
	defer e.parsers.Put(p)
	evs, err := k8saudit.Decode(p, body, e.now(), nil)
	if err != nil {
		return 0, nil, err
	}
	for i := range evs {
		alerts = e.engine.Eval(alerts, &evs[i])
	}
	return len(evs), alerts, nil
}
