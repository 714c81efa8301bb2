// Package actions runs response actions on the hub, for alerts from any
// source (Saker sensors, existing Falco nodes, the Kubernetes audit
// input): the cluster-level ones of the sensor's actions file format
// (pod_label, pod_annotate, pod_delete, script, webhook).
//
// The runner reads the store through its own consumer group, like a
// forwarder: ingestion only appends, so an action never delays or fails
// the 200 a sender gets. Each alert's actions run, their records
// (source "response", response.alert_id = the alert's uuid) are appended
// to the store, and only then is the alert acknowledged. The group lives in
// the store, so after a restart the runner resumes with the alerts stored
// meanwhile; an alert handed out again (its runner crashed, or the store
// failed to append its records) first looks for its records, so an action
// already recorded is not run twice.
package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/sensor/response"
)

// Group is the runner's consumer group in the store.
const Group = "actions"

// RunnerName is the value of response.runner in the hub's records (the
// sensor's have none).
const RunnerName = "hub"

// LoadFile reads an actions file for the hub: the sensor's format, with
// only the actions the hub can run. A node-local action (kill, container_*,
// block_network) is an error naming the file and line: only the sensor of
// the node the alert was raised on can run it.
func LoadFile(path string) (response.Config, error) {
	cfg, err := response.LoadFile(path)
	if err != nil {
		return cfg, err
	}
	var errs []error
	for i, a := range cfg.Actions {
		if response.NodeLocal(a.Action) {
			errs = append(errs, fmt.Errorf("%s:%d: actions[%d]: %s runs on the node that raised the alert: put it in the sensor's actions file (the hub runs pod_label, pod_annotate, pod_delete, script, webhook)", path, a.Line, i, a.Action))
		}
	}
	return cfg, errors.Join(errs...)
}

// Options tune New.
type Options struct {
	// Pods runs the pod actions; required when cfg has one.
	Pods response.Pods
	// Consumer names this hub in the group (replicas sharing a store must
	// differ). Default "<hostname>-<pid>"-like names come from the caller.
	Consumer string
	Logger   *slog.Logger
	// MinIdle is how long an alert may stay handed out unacknowledged
	// before another runner (or this one, restarted) takes it over.
	// Default 5m: more than a batch of actions with their timeouts.
	MinIdle time.Duration
	// Block is how long one Claim waits for new alerts (default 2s).
	Block time.Duration
	// Batch bounds the alerts claimed at once (default 8).
	Batch int
	// HTTP posts the webhooks (default a plain client; each call is bounded
	// by the action's timeout).
	HTTP *http.Client
	// Registerer, when set, gets saker_hub_response_actions_total
	// {action, result}.
	Registerer prometheus.Registerer
	// Handled, when set, is called after each alert is acknowledged, with
	// its store ID (tests wait on it).
	Handled func(id string)
}

// Runner runs the configured actions on stored alerts.
type Runner struct {
	cfg     response.Config
	st      store.Store
	opts    Options
	log     *slog.Logger
	limiter *rate.Limiter
	dl      store.DeliveryLog
	count   *prometheus.CounterVec
}

// New validates cfg (as LoadFile does) and builds a runner over st.
func New(cfg response.Config, st store.Store, opts Options) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	for i, a := range cfg.Actions {
		switch {
		case response.NodeLocal(a.Action):
			return nil, fmt.Errorf("actions: %s: %s runs on the node that raised the alert, not on the hub", a.Where(i), a.Action)
		case response.IsPodAction(a.Action) && opts.Pods == nil:
			return nil, fmt.Errorf("actions: %s: %s needs a Kubernetes client (KUBECONFIG, or the hub in a pod)", a.Where(i), a.Action)
		}
	}
	if opts.Consumer == "" {
		return nil, errors.New("actions: no consumer name")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinIdle <= 0 {
		opts.MinIdle = 5 * time.Minute
	}
	if opts.Block <= 0 {
		opts.Block = 2 * time.Second
	}
	if opts.Batch <= 0 {
		opts.Batch = 8
	}
	if opts.HTTP == nil {
		opts.HTTP = &http.Client{}
	}
	r := &Runner{cfg: cfg, st: st, opts: opts, log: opts.Logger,
		limiter: rate.NewLimiter(rate.Limit(cfg.RateLimit.PerSecond), cfg.RateLimit.Burst),
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saker_hub_response_actions_total",
			Help: "Response actions the hub ran or skipped, by action and result (done, dry-run, skipped, failed).",
		}, []string{"action", "result"})}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(r.count); err != nil {
			return nil, fmt.Errorf("actions: metrics: %w", err)
		}
	}
	return r, nil
}

// Prepare opens the consumer group. Call it before the hub accepts
// alerts: a new group starts at the alerts stored after it.
func (r *Runner) Prepare(ctx context.Context) error {
	dl, err := r.st.Deliveries(ctx, Group)
	if err != nil {
		return fmt.Errorf("actions: consumer group: %w", err)
	}
	r.dl = dl
	return nil
}

// Run runs actions on stored alerts until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	if r.dl == nil {
		if err := r.Prepare(ctx); err != nil {
			return err
		}
	}
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		ds, err := r.dl.Claim(ctx, r.opts.Consumer, r.opts.Batch, r.opts.MinIdle, r.opts.Block)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			r.log.Warn("actions: claim", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, d := range ds {
			if err := r.handle(ctx, d); err != nil {
				// Left unacknowledged: handed out again after MinIdle.
				r.log.Warn("actions: alert not settled; retried later", "id", d.ID, "err", err)
				continue
			}
			if r.opts.Handled != nil {
				r.opts.Handled(d.ID)
			}
		}
	}
	return nil
}

// handle runs the actions of one delivered alert, stores their records
// and acknowledges it.
func (r *Runner) handle(ctx context.Context, d store.Delivery) error {
	a := &d.Alert
	var acts []*response.Action
	if a.Source != response.Source { // never act on an action's own record
		acts = r.cfg.Select(a)
	}
	if len(acts) > 0 {
		done := map[string]bool{}
		if d.Attempts > 1 {
			var err error
			if done, err = r.recorded(ctx, a.UUID); err != nil {
				return err
			}
		}
		var recs []alert.Alert
		for _, act := range acts {
			entry := strconv.Itoa(r.index(act))
			if done[entry] {
				r.log.Info("actions: already run before a restart", "alert_id", a.UUID, "action", act.Action)
				continue
			}
			result, detail := r.run(ctx, act, a)
			recs = append(recs, r.record(act, entry, d, result, detail))
		}
		if len(recs) > 0 {
			if _, err := r.st.Append(context.WithoutCancel(ctx), recs); err != nil {
				return fmt.Errorf("store action records: %w", err)
			}
		}
	}
	return r.dl.Ack(context.WithoutCancel(ctx), d.ID)
}

// index is act's position in the file, which names it in its records.
func (r *Runner) index(act *response.Action) int {
	for i := range r.cfg.Actions {
		if &r.cfg.Actions[i] == act {
			return i
		}
	}
	return -1
}

// recorded returns the entries (response.entry) already recorded by the
// hub for the alert uuid.
func (r *Runner) recorded(ctx context.Context, uuid string) (map[string]bool, error) {
	done := map[string]bool{}
	if uuid == "" {
		return done, nil
	}
	q := store.Query{Filter: store.Filter{Sources: []string{response.Source},
		Fields: map[string][]string{"response.alert_id": {uuid}, "response.runner": {RunnerName}}}, Limit: store.MaxLimit}
	for {
		page, err := r.st.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("look up earlier action records: %w", err)
		}
		for _, e := range page.Events {
			done[fmt.Sprint(e.OutputFields["response.entry"])] = true
		}
		if page.Next == "" {
			return done, nil
		}
		q.Before = page.Next
	}
}

// run runs one action, or says why not.
func (r *Runner) run(ctx context.Context, act *response.Action, a *alert.Alert) (result, detail string) {
	pod, inPod := response.PodOf(a)
	if reason := r.cfg.KillSwitch(); reason != "" {
		return response.ResultSkipped, reason
	}
	if response.IsPodAction(act.Action) {
		if !inPod {
			return response.ResultSkipped, "the alert names no pod (no k8s.ns.name and k8s.pod.name output fields)"
		}
		if reason := r.cfg.RefusePod(pod); reason != "" {
			return response.ResultSkipped, reason
		}
	}
	if !r.limiter.Allow() {
		return response.ResultSkipped, "rate limit reached"
	}
	what := describe(act, pod)
	if r.cfg.DryRun || act.DryRun {
		return response.ResultDryRun, "would " + what
	}
	actx, cancel := context.WithTimeout(ctx, act.Timeout)
	defer cancel()
	var err error
	switch act.Action {
	case response.ActionScript:
		err = response.RunScript(actx, act, a, []string{"SAKER_ALERT_ID=" + a.UUID, "SAKER_RULE=" + a.Rule,
			"SAKER_K8S_NAMESPACE=" + pod.Namespace, "SAKER_K8S_POD=" + pod.Name})
	case response.ActionWebhook:
		err = response.PostWebhook(actx, r.opts.HTTP, act, a)
	default:
		err = response.RunPod(actx, r.opts.Pods, act, pod, a)
	}
	if err != nil {
		return response.ResultFailed, err.Error()
	}
	return response.ResultDone, what
}

func describe(act *response.Action, pod response.Pod) string {
	switch act.Action {
	case response.ActionScript:
		return fmt.Sprintf("run %q", act.Command)
	case response.ActionWebhook:
		return "POST the alert to " + act.URL
	}
	return response.DescribePod(act, pod)
}

// record is the audit record of one action on the delivered alert d.
func (r *Runner) record(act *response.Action, entry string, d store.Delivery, result, detail string) alert.Alert {
	r.count.WithLabelValues(act.Action, result).Inc()
	lvl := slog.LevelInfo
	if result == response.ResultFailed {
		lvl = slog.LevelWarn
	}
	r.log.Log(context.Background(), lvl, "response action", "action", act.Action, "result", result, "detail", detail, "rule", d.Rule, "alert_id", d.UUID)
	fields := map[string]any{"response.runner": RunnerName, "response.entry": entry}
	for _, k := range []string{"k8s.ns.name", "k8s.pod.name", "container.id", "container.name", "container.image", "proc.pid", "proc.name"} {
		if v, ok := d.OutputFields[k]; ok {
			fields[k] = v
		}
	}
	// The delay is from the alert's arrival at the hub: the hub's own
	// clock, whatever the sender's.
	return response.NewRecord(act, &d.Alert, result, detail, time.Since(d.Received), fields)
}
