package response

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/state"
)

// Source is the source of the records of actions.
const Source = "response"

// RecordRule is the rule name of every action record.
const RecordRule = "Response action"

// Results of an action, in output_fields["response.result"].
const (
	ResultDone    = "done"
	ResultDryRun  = "dry-run"
	ResultSkipped = "skipped"
	ResultFailed  = "failed"
)

// Emitter receives the action records (the sensor's outputs).
type Emitter interface {
	Emit(a *alert.Alert) error
}

// Options configure New.
type Options struct {
	Emitter Emitter
	Logger  *slog.Logger
	// Workers run container, script and webhook actions (default 2);
	// QueueSize bounds the actions waiting for them (default 256).
	Workers, QueueSize int
	// Pods runs pod_label, pod_annotate and pod_delete (a k8spod.Client);
	// required when the configuration has one of them.
	Pods Pods
}

// Responder runs the configured actions on alerts. Match and Run are
// called from the sensor's event loop; kill runs there, synchronously,
// and slower actions on worker goroutines.
type Responder struct {
	cfg     Config
	emit    Emitter
	log     *slog.Logger
	limiter *rate.Limiter
	docker  *docker
	ctrd    *containerd
	http    *http.Client
	blocker *NetBlocker // nil without a block_network action
	holder  *holder     // the kernel guard; nil unless StartGuard loaded it
	blocks  *blockAudit // records of blocks lifted; nil without a blocker
	pods    Pods

	self       map[int]bool // the sensor and its ancestors
	selfPGID   int
	selfCtrID  string
	selfCgroup string // the sensor's cgroup v2 path

	jobs      chan func()
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New validates cfg and starts the workers; Close stops them.
func New(cfg Config, opts Options) (*Responder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Emitter == nil {
		return nil, errors.New("response: no emitter for action records")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	for i, act := range cfg.Actions {
		if IsPodAction(act.Action) && opts.Pods == nil {
			return nil, fmt.Errorf("response: %s: %s needs a Kubernetes client (a kubeconfig, or the sensor in a pod)", act.Where(i), act.Action)
		}
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	sock := cfg.DockerSocket
	if sock == "" {
		sock = state.DefaultDockerSocket
	}
	r := &Responder{
		cfg: cfg, emit: opts.Emitter, log: opts.Logger,
		limiter:  rate.NewLimiter(rate.Limit(cfg.RateLimit.PerSecond), cfg.RateLimit.Burst),
		docker:   newDocker(sock),
		ctrd:     newContainerd(cfg.ContainerdSocket, cfg.ContainerdNamespace),
		http:     &http.Client{},
		pods:     opts.Pods,
		self:     selfAndAncestors(),
		selfPGID: syscallGetpgrp(),
		jobs:     make(chan func(), opts.QueueSize),
	}
	if b, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if _, path, ok := strings.Cut(line, "::"); ok {
				r.selfCtrID, _ = state.ContainerIDFromCgroup(path)
			}
		}
	}
	r.selfCgroup, _ = CgroupOf(os.Getpid())
	for _, act := range cfg.Actions {
		if act.Action != ActionBlockNetwork {
			continue
		}
		// Fail at start, not at the first alert, on a host that cannot block.
		b, err := NewNetBlocker(cfg.BlockDir, opts.Logger)
		if err != nil {
			return nil, fmt.Errorf("block_network: %w", err)
		}
		if p, err := b.Resolve(r.selfCgroup); err == nil {
			r.selfCgroup = p
		}
		r.watchBlocks(b)
		if err := b.Restore(); err != nil {
			r.stopBlockWatch()
			b.Close()
			return nil, fmt.Errorf("block_network: %w", err)
		}
		r.blocker = b
		break
	}
	for range opts.Workers {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for job := range r.jobs {
				job()
			}
		}()
	}
	return r, nil
}

// Close waits for queued actions to finish (each is bounded by its
// timeout). Match and Run must not be called after it; calls after the
// first do nothing.
func (r *Responder) Close() {
	r.closeOnce.Do(func() {
		r.closeGuard()
		close(r.jobs)
		r.wg.Wait()
		r.ctrd.Close()
		if r.blocker != nil {
			r.stopBlockWatch()
			r.blocker.Close() // blocks stay set; the next sensor re-arms their TTLs
		}
	})
}

// Match returns the actions for alert a (the first matching entry, or
// all of them with matching: all) and, when there are any, gives a a
// UUID so the action records can name it. Call it before emitting a.
func (r *Responder) Match(a *alert.Alert) []*Action {
	out := r.cfg.Select(a)
	if len(out) > 0 && a.UUID == "" {
		a.UUID = uuid.NewString()
	}
	return out
}

// target is what an action needs from the event, copied because the
// sensor reuses the event.
type target struct {
	eventTS int64
	pid     int
	comm    string
	exe     string
	ctr     event.Container
	inCtr   bool
	cgroup  string        // cgroup v2 path, read for block_network only
	held    time.Duration // how long the kernel guard held the process before a kill
}

func targetOf(ev *event.Event) target {
	t := target{eventTS: ev.TS}
	if th := ev.Thread; th != nil {
		t.pid, t.comm, t.exe = int(th.PID), th.Comm, th.ExePath
	}
	if ev.Container != nil {
		t.ctr, t.inCtr = *ev.Container, true
	}
	return t
}

// containerCgroup is the cgroup v2 path of ctr's first process, asked of
// its runtime ("" when that fails: the action is then skipped and says so).
func (r *Responder) containerCgroup(ctr event.Container) string {
	id := ctr.FullID
	if id == "" {
		id = ctr.ID
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var pid int
	var err error
	switch ctr.Runtime {
	case "containerd":
		pid, err = r.ctrd.initPID(ctx, id)
	case "", "docker":
		pid, err = r.docker.initPID(ctx, id)
	default:
		return ""
	}
	if err != nil || pid <= 1 {
		r.log.Warn("block_network: container's first process not found", "container", id, "pid", pid, "err", err)
		return ""
	}
	cg, err := CgroupOf(pid)
	if err != nil {
		return ""
	}
	return cg
}

// Run runs acts (from Match) for the alert a raised on ev, recording each.
func (r *Responder) Run(acts []*Action, ev *event.Event, a *alert.Alert) {
	t := targetOf(ev)
	for _, act := range acts {
		if act.Action == ActionBlockNetwork && t.pid > 0 {
			// Read now, while the process (most likely) still lives.
			var err error
			t.cgroup, err = CgroupOf(t.pid)
			if err != nil && t.inCtr {
				// A short-lived process (a one-shot curl, `sh -c …`) is
				// often gone by now; its container is what is blocked, so
				// take the cgroup of the container's first process.
				t.cgroup = r.containerCgroup(t.ctr)
			}
			if p, err := r.blocker.Resolve(t.cgroup); err == nil {
				t.cgroup = p // else refused below: still relative to our namespace
			}
			break
		}
	}
	trigger := *a
	for _, act := range acts {
		r.run(act, t, &trigger)
	}
}

func (r *Responder) run(act *Action, t target, a *alert.Alert) {
	rec := func(result, detail string) { r.record(act, t, a, result, detail) }
	if reason := r.refuse(act, t); reason != "" {
		rec(ResultSkipped, reason)
		return
	}
	if !r.limiter.Allow() {
		rec(ResultSkipped, "rate limit reached")
		return
	}
	if r.cfg.DryRun || act.DryRun {
		rec(ResultDryRun, "would "+describe(act, t))
		return
	}
	if act.Action == ActionKill {
		// In the event loop: the lowest delay, and the pidfd is taken
		// before the loop handles the process's next records.
		if err := r.kill(act, t); err != nil {
			rec(ResultFailed, err.Error())
			return
		}
		detail := describe(act, t)
		if t.held = r.releaseKilled(act, t.pid); t.held > 0 {
			detail += fmt.Sprintf(" (held by the kernel guard since its open, %v)", t.held.Round(time.Microsecond))
		}
		rec(ResultDone, detail)
		return
	}
	if act.Action == ActionBlockNetwork {
		// In the event loop too: attaching takes well under a millisecond,
		// and the process's next packets are the ones to stop.
		blk, err := r.blocker.Block(t.cgroup, act.TTL, a.UUID)
		if err != nil {
			rec(ResultFailed, err.Error())
			return
		}
		r.blockSet(blk, t, a)
		rec(ResultDone, describe(act, t)+" (block "+blk.Name+"; lift with `saker response release "+blk.Name+"`)")
		return
	}
	job := func() {
		ctx, cancel := context.WithTimeout(context.Background(), act.Timeout)
		defer cancel()
		if err := r.slow(ctx, act, t, a); err != nil {
			rec(ResultFailed, err.Error())
			return
		}
		rec(ResultDone, describe(act, t))
	}
	select {
	case r.jobs <- job:
	default:
		rec(ResultSkipped, "action queue full")
	}
}

// refuse returns why the action must not run on t, or "".
func (r *Responder) refuse(act *Action, t target) string {
	if reason := r.cfg.KillSwitch(); reason != "" {
		return reason
	}
	al := r.cfg.Allowlist
	for _, p := range al.Processes {
		if p != "" && (p == t.comm || p == t.exe) {
			return "process " + p + " is allowlisted"
		}
	}
	if t.inCtr {
		for _, c := range al.Containers {
			if c != "" && (c == t.ctr.Name || c == t.ctr.ID || c == t.ctr.FullID || strings.HasPrefix(t.ctr.FullID, c)) {
				return "container " + c + " is allowlisted"
			}
		}
		for _, img := range al.Images {
			if img != "" && (img == t.ctr.Image || img == t.ctr.Repository) {
				return "image " + img + " is allowlisted"
			}
		}
	}
	switch act.Action {
	case ActionKill:
		switch {
		case t.pid <= 1:
			return "never kills PID 1 (or an unknown process)"
		case r.self[t.pid]:
			return "never kills the sensor or its ancestors"
		}
	case ActionContainerStop, ActionContainerPause, ActionContainerKill:
		switch {
		case !t.inCtr:
			return "process is not in a container"
		case t.ctr.Runtime != "" && t.ctr.Runtime != "docker" && t.ctr.Runtime != "containerd":
			return "container runtime " + t.ctr.Runtime + " is not supported (docker and containerd only)"
		case r.selfCtrID != "" && t.ctr.ID == r.selfCtrID:
			return "never acts on the sensor's own container"
		}
	case ActionPodLabel, ActionPodAnnotate, ActionPodDelete:
		switch {
		case !t.inCtr || t.ctr.PodName == "" || t.ctr.Namespace == "":
			return "process is not in a Kubernetes pod"
		case r.selfCtrID != "" && t.ctr.ID == r.selfCtrID:
			return "never acts on the sensor's own pod"
		}
		return r.cfg.RefusePod(podOf(t))
	case ActionBlockNetwork:
		switch {
		case t.pid <= 1:
			return "never blocks PID 1 (or an unknown process)"
		case t.cgroup == "":
			return "cgroup v2 of the process unknown (it exited?)"
		case t.cgroup == "/":
			return "process is in the root cgroup: blocking it would cut the whole host"
		case strings.Contains(t.cgroup, "/.."):
			// /proc/PID/cgroup seen from a cgroup namespace that does not
			// hold the process: the path cannot be resolved safely.
			return "cgroup " + t.cgroup + " is outside the sensor's cgroup namespace (mount the host's /sys/fs/cgroup into the sensor's container, or run it in the host's cgroup namespace)"
		case r.selfCgroup != "" && (r.selfCgroup == t.cgroup || strings.HasPrefix(r.selfCgroup, strings.TrimSuffix(t.cgroup, "/")+"/")):
			return "never blocks the sensor's cgroup or one above it"
		}
	}
	return ""
}

// kill signals the process through a pidfd opened now and checked
// against the start time the event carried.
func (r *Responder) kill(act *Action, t target) error {
	p, err := OpenProcess(t.pid, t.eventTS)
	if err != nil {
		return err
	}
	defer p.Close()
	if act.ProcessGroup {
		if p.PGID == r.selfPGID {
			return fmt.Errorf("process group %d is the sensor's: refusing", p.PGID)
		}
		return p.SignalGroup(act.signal)
	}
	return p.Signal(act.signal)
}

// slow runs the actions that leave the event loop.
func (r *Responder) slow(ctx context.Context, act *Action, t target, a *alert.Alert) error {
	switch act.Action {
	case ActionContainerStop, ActionContainerPause, ActionContainerKill:
		id := t.ctr.FullID
		if id == "" {
			id = t.ctr.ID
		}
		if t.ctr.Runtime == "containerd" {
			return r.ctrd.container(ctx, act.Action, id, act.StopTimeout)
		}
		return r.docker.container(ctx, act.Action, id, act.StopTimeout)
	case ActionScript:
		// The script inherits the sensor's environment (PATH) plus the alert's ids.
		return RunScript(ctx, act, a, []string{
			"SAKER_ALERT_ID=" + a.UUID, "SAKER_RULE=" + a.Rule, "SAKER_PID=" + strconv.Itoa(t.pid),
			"SAKER_CONTAINER_ID=" + t.ctr.ID})
	case ActionWebhook:
		return PostWebhook(ctx, r.http, act, a)
	case ActionPodLabel, ActionPodAnnotate, ActionPodDelete:
		return RunPod(ctx, r.pods, act, podOf(t), a)
	}
	return fmt.Errorf("action %q", act.Action)
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// describe says what the action does (or would do) to t.
func describe(act *Action, t target) string {
	switch act.Action {
	case ActionKill:
		s := fmt.Sprintf("kill pid %d (%s) with %s", t.pid, t.comm, unixSignalName(act.signal))
		if act.ProcessGroup {
			s += " and its process group"
		}
		return s
	case ActionContainerStop, ActionContainerPause, ActionContainerKill:
		return fmt.Sprintf("%s container %s (%s)", strings.TrimPrefix(act.Action, "container_"), t.ctr.ID, t.ctr.Name)
	case ActionBlockNetwork:
		s := "block network of cgroup " + t.cgroup
		if t.inCtr {
			s += fmt.Sprintf(" (container %s %s)", t.ctr.ID, t.ctr.Name)
		}
		if act.TTL > 0 {
			s += " for " + act.TTL.String()
		} else {
			s += " until released"
		}
		return s
	case ActionPodLabel, ActionPodAnnotate, ActionPodDelete:
		return DescribePod(act, podOf(t))
	case ActionScript:
		return "run " + strings.Join(act.Command, " ")
	case ActionWebhook:
		return "POST the alert to " + act.URL
	}
	return act.Action
}

func podOf(t target) Pod { return Pod{Namespace: t.ctr.Namespace, Name: t.ctr.PodName} }

// record emits the audit record of one action.
func (r *Responder) record(act *Action, t target, a *alert.Alert, result, detail string) {
	delay := time.Duration(time.Now().UnixNano() - t.eventTS)
	fields := map[string]any{
		"proc.pid":     t.pid,
		"proc.name":    t.comm,
		"container.id": "host",
	}
	if t.held > 0 {
		fields["response.held_us"] = t.held.Microseconds()
	}
	if t.inCtr {
		fields["container.id"], fields["container.name"], fields["container.image"] = t.ctr.ID, t.ctr.Name, t.ctr.Image
		if t.ctr.PodName != "" {
			fields["k8s.ns.name"], fields["k8s.pod.name"] = t.ctr.Namespace, t.ctr.PodName
		}
	}
	out := NewRecord(act, a, result, detail, delay, fields)
	lvl := slog.LevelInfo
	if result == ResultFailed {
		lvl = slog.LevelWarn
	}
	r.log.Log(context.Background(), lvl, "response action", "action", act.Action, "result", result, "detail", detail, "rule", a.Rule, "alert_id", a.UUID, "delay", delay)
	if err := r.emit.Emit(&out); err != nil {
		r.log.Warn("emit action record", "err", err)
	}
}
