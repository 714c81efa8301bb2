// Package sensor runs the node sensor: it loads the rules, opens the eBPF
// probe for the event types the rules need, maintains the process and
// container state from the probe's records, evaluates each event against
// the rules and hands matches to the outputs as Falco alerts.
package sensor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/defaultrules"
	"github.com/saker-sec/saker/sensor/engine"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/k8saudit"
	"github.com/saker-sec/saker/sensor/output"
	"github.com/saker-sec/saker/sensor/prefilter"
	"github.com/saker-sec/saker/sensor/probe"
	"github.com/saker-sec/saker/sensor/response"
	"github.com/saker-sec/saker/sensor/rules"
	"github.com/saker-sec/saker/sensor/state"
)

// Emitter receives every alert the sensor raises.
type Emitter interface {
	Emit(a *alert.Alert) error
}

// Options configure Run.
type Options struct {
	Config *Config
	Logger *slog.Logger
	// Emitter overrides the outputs built from Config (tests, embedding).
	Emitter Emitter
	// KeepSelf captures the sensor's own syscalls too (tests that act
	// in-process); normally they are dropped in the kernel.
	KeepSelf bool
	// Ready is called once the probe is attached and the table seeded.
	Ready func()
	// Registerer, when set, gets the sensor's Prometheus metrics for the
	// run (unregistered when Run returns).
	Registerer prometheus.Registerer
	// Pods runs the response's pod actions (cmd builds a k8spod.Client
	// when the configuration has any).
	Pods response.Pods
	// HostRoot is where the host's root filesystem is mounted when the
	// sensor runs in a container (Falco's HOST_ROOT, e.g. /host): user and
	// group names come from its etc/passwd and etc/group, not the image's.
	HostRoot string
}

// LoadRules loads the configured rules files, or the embedded default
// rules when none is configured, with Falco's minimum priority.
func LoadRules(cfg *Config) (*rules.Ruleset, error) {
	minPrio := alert.PriorityDebug
	if cfg.Priority != "" {
		p, err := alert.ParsePriority(cfg.Priority)
		if err != nil {
			return nil, fmt.Errorf("priority: %w", err)
		}
		minPrio = p
	}
	sel, err := cfg.selection()
	if err != nil {
		return nil, err
	}
	// k8s_audit rules load too (their plugin fields are built in), as
	// in a Falco with the k8saudit plugin; the hub evaluates them.
	l := rules.NewLoader(k8saudit.RulesConfig(rules.Config{MinPriority: minPrio, Selection: sel}))
	if len(cfg.RulesFiles) == 0 {
		if err := l.Load(defaultrules.Name, defaultrules.YAML); err != nil {
			return nil, fmt.Errorf("load default rules: %w", err)
		}
	}
	for _, f := range cfg.RulesFiles {
		// A file's rules errors are reported with every other file's by
		// Compile; only a file that cannot be read stops here.
		if err := l.LoadFile(f); err != nil && !errors.As(err, new(rules.Errors)) {
			return nil, err
		}
	}
	rs, err := l.Compile()
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return rs, nil
}

// countSource counts the rules of one source.
func countSource(rs *rules.Ruleset, source string) int {
	n := 0
	for _, r := range rs.Rules {
		if r.Source == source {
			n++
		}
	}
	return n
}

// compiledRule is a rule with its output format compiled once.
type compiledRule struct {
	rule *rules.Rule
	fmt  *output.Formatter
}

// Stats are the sensor's running counters.
type Stats struct {
	Events, Matches, EmitErrors atomic.Uint64
}

// Run runs the sensor until ctx ends.
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = LoadConfig("", nil); err != nil {
			return err
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rs, err := LoadRules(cfg)
	if err != nil {
		return err
	}
	for _, w := range rs.Warnings {
		log.Debug("rules warning", "warning", w)
	}
	if n := countSource(rs, k8saudit.Source); n > 0 {
		log.Info("k8s_audit rules loaded but not evaluated here: the hub evaluates them on POST /k8s-audit", "rules", n)
	}
	matching, err := engine.ParseMatching(cfg.RuleMatching)
	if err != nil {
		return err
	}
	eng := engine.New(rs, engine.Options{Matching: matching})
	formats := map[*rules.Rule]*output.Formatter{}
	for _, r := range eng.Rules() {
		// Outputs written as folded YAML (output: >) end in a newline;
		// Falco trims it before appending the extra output fields.
		f, err := output.CompileWith(strings.TrimSpace(r.Output), output.Options{TimeISO8601: cfg.TimeFormatISO8601})
		if err != nil {
			return fmt.Errorf("rule %q: output: %w", r.Name, err)
		}
		formats[r] = f
	}

	em := opts.Emitter
	if em == nil {
		outs, err := NewOutputs(cfg)
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := outs.Close(cctx); err != nil {
				log.Warn("closing outputs", "err", err)
			}
		}()
		em = outs
	}

	var responder *response.Responder
	if cfg.Response.Active() {
		if responder, err = response.New(cfg.Response, response.Options{Emitter: em, Logger: log, Pods: opts.Pods}); err != nil {
			return fmt.Errorf("response: %w", err)
		}
		defer responder.Close()
		log.Info("response actions enabled", "actions", len(cfg.Response.Actions), "dry_run", cfg.Response.DryRun)
	}

	containers := state.NewContainers(nil, log)
	if d := state.DockerIfPresent(cfg.DockerSocket); d != nil {
		containers = state.NewContainers(d, log)
	}
	table := state.NewTable(state.Options{Containers: containers, Logger: log,
		Users: state.NewUsers(filepath.Join("/", opts.HostRoot, "etc/passwd"), filepath.Join("/", opts.HostRoot, "etc/group"))})
	if err := table.Seed(); err != nil {
		return err
	}

	if responder != nil {
		// Before the probe: on the syscall exits both hook, the guard runs
		// first, so a hold is recorded before the probe reports the open.
		// Armed after the probe is attached (a hold needs the report).
		if err := responder.StartGuard(eng.Rules()); err != nil {
			return fmt.Errorf("response: %w", err)
		}
		if gc := responder.GuardCollector(); gc != nil && opts.Registerer != nil {
			if err := opts.Registerer.Register(gc); err != nil {
				return fmt.Errorf("register guard metrics: %w", err)
			}
			defer opts.Registerer.Unregister(gc)
		}
	}
	popts := probe.Options{Types: eng.EventTypes(), IgnoreSelf: !opts.KeepSelf, OpenFilter: prefilter.Open(eng)}
	if responder != nil {
		popts.Held = responder.GuardHeld()
	}
	p, err := probe.Open(popts)
	if err != nil {
		return fmt.Errorf("open probe: %w", err)
	}
	defer p.Close()
	if responder != nil {
		if err := responder.ArmGuard(); err != nil {
			return fmt.Errorf("response: %w", err)
		}
	}
	if u := p.Unavailable(); len(u) > 0 {
		log.Warn("event types without a kernel hook; rules on them will not fire", "types", u)
	}
	log.Info("sensor started", "rules", len(eng.Rules()), "event_types", len(p.Types()), "processes", table.Len())

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go containers.Run(runCtx)
	var stats Stats
	go housekeeping(runCtx, cfg, log, p, table, &stats)
	if opts.Registerer != nil {
		col := newMetricsCollector(p, &stats, em)
		if err := opts.Registerer.Register(col); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
		defer opts.Registerer.Unregister(col)
	}

	if opts.Ready != nil {
		opts.Ready()
	}
	var ev event.Event
	var num uint64
	var firstTS int64 // evt.reltime counts from the first event
	var matches []*rules.Rule
	err = p.Run(runCtx, func(rec *probe.Record) {
		dirfd := rec.Fill(&ev)
		table.Apply(rec, &ev, dirfd)
		num++
		ev.Num = num
		if firstTS == 0 {
			firstTS = ev.TS
		}
		ev.FirstTS = firstTS
		stats.Events.Add(1)
		matches = matches[:0]
		if matching == engine.MatchFirst {
			matches = append(matches, eng.Match(&ev)...)
		} else {
			matches = eng.MatchAppend(matches, &ev)
		}
		for _, r := range matches {
			stats.Matches.Add(1)
			a := formats[r].Alert(&ev, r.Name, r.Priority, r.Tags)
			var acts []*response.Action
			if responder != nil {
				acts = responder.Match(&a)
			}
			if err := em.Emit(&a); err != nil {
				stats.EmitErrors.Add(1)
				log.Debug("emit", "rule", r.Name, "err", err)
			}
			if len(acts) > 0 {
				responder.Run(acts, &ev, &a)
			}
		}
		if responder != nil {
			responder.Settle(&ev)
		}
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// housekeeping sweeps dead processes from the table and prints the stats
// line, until ctx ends.
func housekeeping(ctx context.Context, cfg *Config, log *slog.Logger, p *probe.Probe, table *state.Table, st *Stats) {
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	var statsC <-chan time.Time
	if d, err := time.ParseDuration(cfg.StatsInterval); err == nil && d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		statsC = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			table.Sweep()
		case <-statsC:
			c, err := p.Counts()
			if err != nil {
				continue
			}
			log.Info("stats", "events", st.Events.Load(), "kernel_events", c.TotalSeen(), "dropped", c.TotalDropped(),
				"matches", st.Matches.Load(), "emit_errors", st.EmitErrors.Load(), "processes", table.Len())
		}
	}
}
