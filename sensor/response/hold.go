package response

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/prometheus/client_golang/prometheus"

	"golang.org/x/sys/unix"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/response/guard"
	"github.com/saker-sec/saker/sensor/rules"
)

// DefaultHoldTimeout bounds a kernel hold when guard.hold_timeout is unset.
const DefaultHoldTimeout = time.Second

// GuardConfig is the `guard:` key: the kernel hold for kill actions.
type GuardConfig struct {
	// Enabled false never loads the guard; unset or true loads it when a
	// kill action's rule lets the kernel decide (see GuardRules).
	Enabled *bool `yaml:"enabled"`
	// HoldTimeout: a held process the sensor has not decided about by then
	// is resumed (default 1s).
	HoldTimeout time.Duration `yaml:"hold_timeout"`
}

// holder is the loaded guard and its hold timeout.
type holder struct {
	g       *guard.Guard
	timeout time.Duration
	cancel  context.CancelFunc
	done    chan struct{}

	// How holds ended: killed, or resumed (no kill after the sensor
	// handled the open, the hold timeout, the sensor stopping).
	killed, resumedNoKill, resumedTimeout, resumedStopping atomic.Uint64
}

// Resume reasons.
const (
	resumeNoKill   = "no kill action matched"
	resumeTimeout  = "no decision within the hold timeout"
	resumeStopping = "sensor stopping"
)

// GuardRules returns the guard's predicate for the rules whose alerts run
// a kill action (not a dry run): the union of each rule's guard.SpecOf.
// Rules the kernel cannot decide on are returned in skipped with the
// reason; they are killed after the match only. ok is false when no rule
// can be guarded.
func (r *Responder) GuardRules(rs []*rules.Rule) (spec guard.Spec, ok bool, skipped map[string]error) {
	if r.cfg.DryRun || (r.cfg.Guard.Enabled != nil && !*r.cfg.Guard.Enabled) {
		return spec, false, nil
	}
	skipped = map[string]error{}
	for _, rule := range rs {
		src := rule.Source
		if src == "" {
			src = "syscall"
		}
		kills := false
		for _, act := range r.cfg.Select(&alert.Alert{Rule: rule.Name, Priority: rule.Priority, Tags: rule.Tags, Source: src}) {
			kills = kills || (act.Action == ActionKill && !act.DryRun)
		}
		if !kills {
			continue
		}
		s, err := guard.SpecOf(rule)
		if err != nil {
			skipped[rule.Name] = err
			continue
		}
		if !ok {
			spec, ok = s, true
		} else {
			spec = guard.Union(spec, s)
		}
	}
	return spec, ok, skipped
}

// StartGuard loads the kernel guard for the kill actions on rs, if any
// can use it (see GuardRules), disarmed (ArmGuard starts it), and starts
// resuming the holds nobody decides about within the hold timeout. Close
// unloads it.
func (r *Responder) StartGuard(rs []*rules.Rule) error {
	spec, ok, skipped := r.GuardRules(rs)
	for name, err := range skipped {
		r.log.Warn("kill action: the kernel cannot hold this rule's processes; they are killed after the match only", "rule", name, "reason", err)
	}
	if !ok {
		return nil
	}
	opts := guard.Options{Spec: spec}
	for pid := range r.self {
		opts.ExemptPIDs = append(opts.ExemptPIDs, pid)
	}
	for _, p := range r.cfg.Allowlist.Processes {
		// The kernel knows the process name: an executable path's base
		// name stands for it (truncated as the kernel truncates comm).
		opts.ExemptComms = append(opts.ExemptComms, filepath.Base(p))
	}
	g, err := guard.Open(opts)
	if err != nil {
		return fmt.Errorf("kill actions need the kernel guard (set response.guard.enabled: false to kill after the match only): %w", err)
	}
	h := &holder{g: g, timeout: r.cfg.Guard.HoldTimeout, done: make(chan struct{})}
	if h.timeout <= 0 {
		h.timeout = DefaultHoldTimeout
	}
	var ctx context.Context
	ctx, h.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(h.done)
		err := g.Run(ctx, func(hd guard.Hold) {
			r.log.Debug("guard hold", "pid", hd.PID, "comm", hd.Comm, "path", hd.Path)
			time.AfterFunc(h.timeout-time.Since(hd.At), func() {
				r.resume(hd.PID, hd.At, resumeTimeout)
			})
		})
		if err != nil {
			r.log.Warn("guard", "err", err)
		}
	}()
	r.holder = h
	r.log.Info("kernel guard loaded for kill actions", "predicate", spec.String(), "hold_timeout", h.timeout)
	return nil
}

// GuardHeld is the loaded guard's map of held processes for the probe
// (probe.Options.Held), nil without a guard.
func (r *Responder) GuardHeld() *ebpf.Map {
	if r.holder == nil {
		return nil
	}
	return r.holder.g.HeldMap()
}

// ArmGuard starts the kernel holds (StartGuard loads the guard disarmed,
// before the probe, so that it runs before the probe on their shared
// tracepoints; arm it once the probe reports events).
func (r *Responder) ArmGuard() error {
	if r.holder == nil {
		return nil
	}
	return r.holder.g.Arm()
}

// Settle resumes the process of ev if the guard holds it and no kill
// action took it while the sensor handled ev. The sensor calls it after
// running the actions of ev's alerts.
func (r *Responder) Settle(ev *event.Event) {
	h := r.holder
	if h == nil || ev.Thread == nil || ev.Res < 0 || !h.g.Watches(ev.Type) {
		return
	}
	if h.g.Spec().WriteOnly && ev.Type != event.TypeCreat && ev.Flags&3 != unix.O_WRONLY && ev.Flags&3 != unix.O_RDWR {
		return
	}
	r.resume(int(ev.Thread.PID), time.Time{}, resumeNoKill)
}

// resume claims the hold on pid (made at since, if not zero) and sends
// SIGCONT through a pidfd checked against the hold's time.
func (r *Responder) resume(pid int, since time.Time, why string) {
	h := r.holder
	at, ok := h.g.Claim(pid, since)
	if !ok {
		return
	}
	held := time.Since(at)
	p, err := OpenProcess(pid, at.UnixNano())
	if err == nil {
		err = p.Signal(int(unix.SIGCONT))
		p.Close()
	}
	if err != nil {
		r.log.Warn("guard: resume", "pid", pid, "err", err)
		return
	}
	switch why {
	case resumeNoKill:
		h.resumedNoKill.Add(1)
	case resumeTimeout:
		h.resumedTimeout.Add(1)
	default:
		h.resumedStopping.Add(1)
	}
	r.log.Debug("guard resumed", "pid", pid, "held", held, "why", why)
}

// releaseKilled claims the hold on t's process after a kill action
// signalled it, and returns how long the kernel held it (0: not held).
// A signal that neither ends nor stops the process is only delivered
// once it runs: it is resumed.
func (r *Responder) releaseKilled(act *Action, pid int) time.Duration {
	h := r.holder
	if h == nil {
		return 0
	}
	at, ok := h.g.Claim(pid, time.Time{})
	if !ok {
		return 0
	}
	held := time.Since(at)
	h.killed.Add(1)
	if act.signal != int(unix.SIGKILL) && act.signal != int(unix.SIGSTOP) {
		if p, err := OpenProcess(pid, at.UnixNano()); err == nil {
			_ = p.Signal(int(unix.SIGCONT))
			p.Close()
		}
	}
	return held
}

// closeGuard unloads the guard and resumes every process still held.
func (r *Responder) closeGuard() {
	h := r.holder
	if h == nil {
		return
	}
	h.g.Detach()
	h.cancel()
	<-h.done
	for pid, at := range h.g.Held() {
		r.resume(pid, at, resumeStopping)
	}
	h.g.Close()
}

// GuardCollector exports the kernel guard's counters, or is nil when no
// guard is loaded.
func (r *Responder) GuardCollector() prometheus.Collector {
	if r.holder == nil {
		return nil
	}
	return &guardCollector{h: r.holder,
		holds:   prometheus.NewDesc("saker_sensor_guard_holds_total", "Processes the kernel guard stopped at an open a kill action's rule may match.", nil, nil),
		ended:   prometheus.NewDesc("saker_sensor_guard_holds_ended_total", "Holds ended, by outcome: killed, resumed (no kill after the sensor handled the open), timeout (resumed after guard.hold_timeout), stopping (resumed as the sensor stopped).", []string{"outcome"}, nil),
		signals: prometheus.NewDesc("saker_sensor_guard_signal_failures_total", "Opens the guard meant to hold whose SIGSTOP the kernel refused.", nil, nil),
	}
}

type guardCollector struct {
	h                     *holder
	holds, ended, signals *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c *guardCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.holds
	ch <- c.ended
	ch <- c.signals
}

// Collect implements prometheus.Collector.
func (c *guardCollector) Collect(ch chan<- prometheus.Metric) {
	if k, err := c.h.g.Counts(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.holds, prometheus.CounterValue, float64(k.Held))
		ch <- prometheus.MustNewConstMetric(c.signals, prometheus.CounterValue, float64(k.SignalFailed))
	}
	for outcome, v := range map[string]*atomic.Uint64{
		"killed": &c.h.killed, "resumed": &c.h.resumedNoKill, "timeout": &c.h.resumedTimeout, "stopping": &c.h.resumedStopping,
	} {
		ch <- prometheus.MustNewConstMetric(c.ended, prometheus.CounterValue, float64(v.Load()), outcome)
	}
}
