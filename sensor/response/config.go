// Package response runs node-local response actions on the sensor's
// alerts: it kills the offending process (through a pidfd taken when the
// alert is raised), stops, pauses or kills its Docker container, runs a
// user's script or calls a webhook, and records every action taken or
// skipped as an alert of source "response".
package response

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/response/k8spod"
)

// Action names.
const (
	ActionKill           = "kill"
	ActionContainerStop  = "container_stop"
	ActionContainerPause = "container_pause"
	ActionContainerKill  = "container_kill"
	ActionScript         = "script"
	ActionWebhook        = "webhook"
	ActionBlockNetwork   = "block_network"
	// Kubernetes pod actions (k8s.ns.name, k8s.pod.name of the alert).
	ActionPodLabel    = "pod_label"
	ActionPodAnnotate = "pod_annotate"
	ActionPodDelete   = "pod_delete"
)

// NodeLocal reports whether an action acts on the node the alert was
// raised on (a process, a container, a cgroup), so only the sensor of that
// node can run it; the others (pods, scripts, webhooks) run on the hub too.
func NodeLocal(action string) bool {
	switch action {
	case ActionKill, ActionContainerStop, ActionContainerPause, ActionContainerKill, ActionBlockNetwork:
		return true
	}
	return false
}

// IsPodAction reports whether action acts on a Kubernetes pod.
func IsPodAction(action string) bool {
	return action == ActionPodLabel || action == ActionPodAnnotate || action == ActionPodDelete
}

// Matching modes: run the first matching action only, or every one.
const (
	MatchFirst = "first"
	MatchAll   = "all"
)

// Config is the sensor's `response:` section; an actions file passed with
// --actions holds either this map or only its `actions` list.
type Config struct {
	// Enabled false turns every action off (nothing is run or recorded).
	Enabled *bool `yaml:"enabled"`
	// DryRun records what every action would do without doing it.
	DryRun bool `yaml:"dry_run"`
	// Matching is "first" (default: the first matching entry runs) or
	// "all" (every matching entry runs, in file order).
	Matching string `yaml:"matching"`
	// KillSwitchFile: while this file exists, no action runs (each is
	// recorded as skipped). Checked at every action, so `touch` stops
	// responses on a live sensor without a restart.
	KillSwitchFile string `yaml:"kill_switch_file"`
	// RateLimit bounds the actions run (dry runs included) across all
	// entries; actions over it are skipped and recorded.
	RateLimit RateLimit `yaml:"rate_limit"`
	// Allowlist names processes and containers no action touches.
	Allowlist Allowlist `yaml:"allowlist"`
	// DockerSocket is the Engine API socket for container actions.
	DockerSocket string `yaml:"docker_socket"`
	// ContainerdSocket and ContainerdNamespace reach the containers the
	// sensor sees as containerd's (CRI, Kubernetes pods; default
	// /run/containerd/containerd.sock and k8s.io).
	ContainerdSocket    string `yaml:"containerd_socket"`
	ContainerdNamespace string `yaml:"containerd_namespace"`
	// BlockDir is where block_network pins its blocks, on the BPF
	// filesystem (default /sys/fs/bpf/saker/blocks).
	BlockDir string `yaml:"block_dir"`
	// Guard configures the kernel hold of kill actions (hold.go).
	Guard   GuardConfig `yaml:"guard"`
	Actions []Action    `yaml:"actions"`
}

// RateLimit is a token bucket: PerSecond actions on average, Burst at once.
type RateLimit struct {
	PerSecond float64 `yaml:"per_second"`
	Burst     int     `yaml:"burst"`
}

// Allowlist entries are never acted on.
type Allowlist struct {
	// Processes are process names (proc.name) or executable paths.
	Processes []string `yaml:"processes"`
	// Containers are container ids (short or full) or names.
	Containers []string `yaml:"containers"`
	// Images are container images, with or without tag ("nginx", "nginx:1.25").
	Images []string `yaml:"images"`
	// Namespaces are Kubernetes namespaces whose pods no action touches;
	// unset means kube-system (set [] to allow every namespace).
	Namespaces []string `yaml:"namespaces"`
	// Pods are pods no action touches: "namespace/name" or a bare name.
	Pods []string `yaml:"pods"`
}

// DefaultProtectedNamespaces are the namespaces allowlisted when the
// allowlist names none: the cluster's own components.
var DefaultProtectedNamespaces = []string{"kube-system"}

// Action is one entry: when an alert matches Match, Action runs.
type Action struct {
	Match  Match  `yaml:"match"`
	Action string `yaml:"action"`
	// DryRun records without acting, for this entry only.
	DryRun bool `yaml:"dry_run"`

	// kill: Signal (default SIGKILL) and ProcessGroup (signal the
	// process's whole group too).
	Signal       string `yaml:"signal"`
	ProcessGroup bool   `yaml:"process_group"`
	// container_stop: seconds before dockerd kills (default 0).
	StopTimeout int `yaml:"stop_timeout"`
	// script: argv; the alert JSON is on stdin.
	Command []string `yaml:"command"`
	// webhook: the alert JSON is POSTed to URL.
	URL string `yaml:"url"`
	// block_network: the block is lifted after TTL (0: only by
	// `saker response release`).
	TTL time.Duration `yaml:"ttl"`
	// Timeout bounds script, webhook, container and pod calls (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// pod_label: labels merged into the pod's (keys and values checked
	// as the API server does). pod_annotate: annotations merged into the
	// pod's; in values, ${alert_id}, ${rule}, ${priority} and ${hostname}
	// are replaced with the alert's.
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
	// pod_delete: GracePeriod seconds (unset: the pod's own
	// terminationGracePeriodSeconds; 0: at once).
	GracePeriod *int64 `yaml:"grace_period"`

	// Line is the entry's line in its file (0 when not read from one).
	Line int `yaml:"-"`

	minPriority alert.Priority
	signal      int
}

// Match selects alerts; every set field must hold. Tags must all be on
// the alert; Priority is a minimum ("warning" matches warning and above).
type Match struct {
	Rule     string   `yaml:"rule"`
	Tags     []string `yaml:"tags"`
	Priority string   `yaml:"priority"`
	Source   string   `yaml:"source"`
}

// Defaults.
const (
	DefaultPerSecond = 5
	DefaultBurst     = 20
	DefaultTimeout   = 10 * time.Second
)

// LoadFile reads an actions file: a list of actions, or a map with the
// keys of Config.
func LoadFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("actions: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("actions %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes an actions document (list or map) and validates it.
func Parse(b []byte) (Config, error) {
	var c Config
	var probe yaml.Node
	if err := yaml.Unmarshal(b, &probe); err != nil {
		return c, err
	}
	if len(probe.Content) == 0 {
		return c, errors.New("empty document")
	}
	var err error
	list := probe.Content[0]
	if list.Kind == yaml.SequenceNode {
		err = list.Decode(&c.Actions)
	} else {
		err = list.Decode(&c)
		list = mapValue(list, "actions")
	}
	if err != nil {
		return c, err
	}
	if list != nil && list.Kind == yaml.SequenceNode && len(list.Content) == len(c.Actions) {
		for i, n := range list.Content {
			c.Actions[i].Line = n.Line
		}
	}
	return c, c.Validate()
}

// mapValue returns the value of key in mapping node m, or nil.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// Active reports whether any action is configured and enabled.
func (c *Config) Active() bool {
	return (c.Enabled == nil || *c.Enabled) && len(c.Actions) > 0
}

// Validate checks every entry and fills defaults; errors name the entry.
func (c *Config) Validate() error {
	switch c.Matching {
	case "":
		c.Matching = MatchFirst
	case MatchFirst, MatchAll:
	default:
		return fmt.Errorf("matching %q: want first or all", c.Matching)
	}
	if c.RateLimit.PerSecond == 0 {
		c.RateLimit.PerSecond = DefaultPerSecond
	}
	if c.RateLimit.Burst == 0 {
		c.RateLimit.Burst = DefaultBurst
	}
	if c.RateLimit.PerSecond < 0 || c.RateLimit.Burst < 0 {
		return errors.New("rate_limit: per_second and burst must be positive")
	}
	if c.Allowlist.Namespaces == nil {
		c.Allowlist.Namespaces = DefaultProtectedNamespaces
	}
	var errs []error
	for i := range c.Actions {
		if err := c.Actions[i].validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Actions[i].Where(i), err))
		}
	}
	return errors.Join(errs...)
}

// Where names entry i in errors: "actions[i] (line N)".
func (a *Action) Where(i int) string {
	if a.Line > 0 {
		return fmt.Sprintf("actions[%d] (line %d)", i, a.Line)
	}
	return fmt.Sprintf("actions[%d]", i)
}

func (a *Action) validate() error {
	m := a.Match
	if m.Rule == "" && len(m.Tags) == 0 && m.Priority == "" && m.Source == "" {
		return errors.New("match: want at least one of rule, tags, priority, source")
	}
	if m.Priority != "" {
		p, err := alert.ParsePriority(m.Priority)
		if err != nil {
			return fmt.Errorf("match.priority: %w", err)
		}
		a.minPriority = p
	}
	if a.Timeout == 0 {
		a.Timeout = DefaultTimeout
	}
	switch a.Action {
	case ActionKill:
		s, err := parseSignal(a.Signal)
		if err != nil {
			return err
		}
		a.signal = s
	case ActionContainerStop, ActionContainerPause, ActionContainerKill:
		if a.StopTimeout < 0 {
			return errors.New("stop_timeout must not be negative")
		}
	case ActionScript:
		if len(a.Command) == 0 {
			return errors.New("script: want a command (argv list)")
		}
	case ActionWebhook:
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("webhook: url %q: want http(s)://host/…", a.URL)
		}
	case ActionBlockNetwork:
		if a.TTL < 0 {
			return errors.New("ttl must not be negative")
		}
	case ActionPodLabel:
		if len(a.Labels) == 0 {
			return errors.New("pod_label: want labels")
		}
		if err := k8spod.ValidateLabels(a.Labels); err != nil {
			return fmt.Errorf("pod_label: %w", err)
		}
	case ActionPodAnnotate:
		if len(a.Annotations) == 0 {
			return errors.New("pod_annotate: want annotations")
		}
		if err := k8spod.ValidateAnnotationKeys(a.Annotations); err != nil {
			return fmt.Errorf("pod_annotate: %w", err)
		}
	case ActionPodDelete:
		if a.GracePeriod != nil && *a.GracePeriod < 0 {
			return errors.New("pod_delete: grace_period must not be negative")
		}
	case "":
		return errors.New("want an action")
	default:
		return fmt.Errorf("unknown action %q (want %s)", a.Action, strings.Join([]string{
			ActionKill, ActionContainerStop, ActionContainerPause, ActionContainerKill, ActionBlockNetwork,
			ActionPodLabel, ActionPodAnnotate, ActionPodDelete, ActionScript, ActionWebhook}, ", "))
	}
	return nil
}

// Matches reports whether the alert al selects this entry.
func (a *Action) Matches(al *alert.Alert) bool {
	m := a.Match
	if m.Rule != "" && m.Rule != al.Rule {
		return false
	}
	if m.Source != "" && m.Source != al.Source {
		return false
	}
	if m.Priority != "" && al.Priority < a.minPriority {
		return false
	}
	for _, t := range m.Tags {
		found := false
		for _, at := range al.Tags {
			if at == t {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
