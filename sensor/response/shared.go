package response

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/response/k8spod"
)

// The parts of the action model the sensor and the hub share: selection,
// the pod safety checks, the actions that need only the alert (pods,
// scripts, webhooks) and the audit record.

// Select returns the entries for alert a: the first matching one, or all
// of them with matching: all.
func (c *Config) Select(a *alert.Alert) []*Action {
	if !c.Active() {
		return nil
	}
	var out []*Action
	for i := range c.Actions {
		act := &c.Actions[i]
		if act.Matches(a) {
			out = append(out, act)
			if c.Matching == MatchFirst {
				break
			}
		}
	}
	return out
}

// KillSwitch returns why no action may run now (the kill switch file
// exists), or "".
func (c *Config) KillSwitch() string {
	if f := c.KillSwitchFile; f != "" {
		if _, err := os.Stat(f); err == nil {
			return "kill switch " + f + " is set"
		}
	}
	return ""
}

// Pod names the pod a pod action acts on.
type Pod struct{ Namespace, Name string }

func (p Pod) String() string { return p.Namespace + "/" + p.Name }

// PodOf reads the pod an alert comes from out of its output fields
// (k8s.ns.name and k8s.pod.name, as Falco and the sensor write them).
func PodOf(a *alert.Alert) (Pod, bool) {
	ns, _ := a.OutputFields["k8s.ns.name"].(string)
	name, _ := a.OutputFields["k8s.pod.name"].(string)
	if ns == "" || name == "" || ns == "<NA>" || name == "<NA>" {
		return Pod{}, false
	}
	return Pod{Namespace: ns, Name: name}, true
}

// RefusePod returns why no action may touch pod p, or "": its namespace
// or itself is allowlisted.
func (c *Config) RefusePod(p Pod) string {
	for _, ns := range c.Allowlist.Namespaces {
		if ns == p.Namespace {
			return "namespace " + ns + " is allowlisted"
		}
	}
	for _, q := range c.Allowlist.Pods {
		if q == p.Name || q == p.String() {
			return "pod " + q + " is allowlisted"
		}
	}
	return ""
}

// Pods acts on Kubernetes pods (k8spod.Client).
type Pods interface {
	Label(ctx context.Context, namespace, name string, labels map[string]string) error
	Annotate(ctx context.Context, namespace, name string, annotations map[string]string) error
	Delete(ctx context.Context, namespace, name string, gracePeriod *int64) error
}

// RunPod runs a pod action on p for alert a.
func RunPod(ctx context.Context, pods Pods, act *Action, p Pod, a *alert.Alert) error {
	switch act.Action {
	case ActionPodLabel:
		return pods.Label(ctx, p.Namespace, p.Name, act.Labels)
	case ActionPodAnnotate:
		return pods.Annotate(ctx, p.Namespace, p.Name, annotations(act.Annotations, a))
	case ActionPodDelete:
		return pods.Delete(ctx, p.Namespace, p.Name, act.GracePeriod)
	}
	return fmt.Errorf("action %q is not a pod action", act.Action)
}

// annotations fills the ${…} placeholders of the values with the alert's.
func annotations(m map[string]string, a *alert.Alert) map[string]string {
	r := strings.NewReplacer("${alert_id}", a.UUID, "${rule}", a.Rule, "${priority}", a.Priority.String(), "${hostname}", a.Hostname)
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = r.Replace(v)
	}
	return out
}

// DescribePod says what a pod action does (or would do) to p.
func DescribePod(act *Action, p Pod) string {
	switch act.Action {
	case ActionPodLabel:
		return "label pod " + p.String() + " " + pairs(act.Labels)
	case ActionPodAnnotate:
		return "annotate pod " + p.String() + " " + pairs(act.Annotations)
	}
	s := "delete pod " + p.String()
	if act.GracePeriod != nil {
		s += fmt.Sprintf(" (grace period %ds)", *act.GracePeriod)
	}
	return s
}

func pairs(m map[string]string) string {
	kv := make([]string, 0, len(m))
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// PodGone reports a pod action's error meaning the pod no longer exists
// (deleted already: by an earlier action, its controller, a user).
func PodGone(err error) bool { return errors.Is(err, k8spod.ErrGone) }

// RunScript runs a script action: the alert JSON on stdin, env added to
// the caller's environment.
func RunScript(ctx context.Context, act *Action, a *alert.Alert, env []string) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, act.Command[0], act.Command[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("script: %w: %s", err, strings.TrimSpace(string(tail(out, 512))))
	}
	return nil
}

// PostWebhook POSTs the alert JSON to the webhook action's URL.
func PostWebhook(ctx context.Context, client *http.Client, act *Action, a *alert.Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, act.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook: %s", resp.Status)
	}
	return nil
}

// NewRecord builds the audit record of one action taken (or skipped) for
// the alert a: source "response", rule RecordRule, the action and its
// result in output_fields (response.*, with response.alert_id = a's
// uuid) plus the target's fields.
func NewRecord(act *Action, a *alert.Alert, result, detail string, delay time.Duration, target map[string]any) alert.Alert {
	now := time.Now()
	fields := map[string]any{
		"response.action":   act.Action,
		"response.result":   result,
		"response.detail":   detail,
		"response.alert_id": a.UUID,
		"response.rule":     a.Rule,
		"response.dry_run":  result == ResultDryRun,
		"response.delay_us": delay.Microseconds(),
	}
	for k, v := range target {
		fields[k] = v
	}
	return alert.Alert{
		UUID:         uuid.NewString(),
		Output:       fmt.Sprintf("%s %s %s for rule %q (alert %s): %s", now.UTC().Format(time.RFC3339Nano), act.Action, result, a.Rule, a.UUID, detail),
		Priority:     a.Priority,
		Rule:         RecordRule,
		Time:         now.UTC(),
		OutputFields: fields,
		Source:       Source,
		Tags:         []string{"response", act.Action},
		Hostname:     a.Hostname,
	}
}
