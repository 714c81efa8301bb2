package alertmanager

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/hub/alert"
)

// DefaultEndpoint is Alertmanager's v2 alerts API.
const DefaultEndpoint = "/api/v2/alerts"

// DefaultDropEventThresholds is the threshold list falcosidekick
// documents for n_drop* fields. (Its built-in default separates the pairs
// with ":" and so parses to nothing useful; Saker uses the documented list.)
const DefaultDropEventThresholds = "10000:critical, 1000:critical, 100:critical, 10:warning, 1:warning"

// Threshold raises the priority of a syscall-drop alert whose n_drop*
// count exceeds Value.
type Threshold struct {
	Value    int64
	Priority alert.Priority
}

// Config is the Alertmanager output's configuration (ALERTMANAGER_*).
type Config struct {
	// HostPorts (ALERTMANAGER_HOSTPORT, comma-separated) enables the
	// output; every alert goes to each, as Alertmanager HA expects.
	HostPorts []string
	Endpoint  string // ALERTMANAGER_ENDPOINT, default /api/v2/alerts
	// ExpiresAfter (ALERTMANAGER_EXPIRESAFTER, seconds) sets endsAt to the
	// alert's time plus this; 0 leaves it to Alertmanager's resolve_timeout.
	ExpiresAfter      int
	ExtraLabels       map[string]string         // ALERTMANAGER_EXTRALABELS
	ExtraAnnotations  map[string]string         // ALERTMANAGER_EXTRAANNOTATIONS
	CustomSeverityMap map[alert.Priority]string // ALERTMANAGER_CUSTOMSEVERITYMAP
	// DropEventDefaultPriority (critical) and DropEventThresholds (sorted,
	// largest first) grade Falco's "syscall event drop" alerts.
	DropEventDefaultPriority alert.Priority
	DropEventThresholds      []Threshold
	settings.Common
}

// Load reads the Alertmanager settings; enabled is false when
// ALERTMANAGER_HOSTPORT is unset.
func Load(src *settings.Source) (cfg Config, enabled bool) {
	cfg.HostPorts = src.List("alertmanager.hostport")
	if len(cfg.HostPorts) == 0 {
		return cfg, false
	}
	cfg.Endpoint = src.String("alertmanager.endpoint", DefaultEndpoint)
	for _, hp := range cfg.HostPorts {
		src.URL("alertmanager.hostport", hp+cfg.Endpoint)
	}
	cfg.ExpiresAfter = src.Int("alertmanager.expiresafter", 0, 0)
	cfg.ExtraLabels = labelMap(src, "alertmanager.extralabels")
	cfg.ExtraAnnotations = labelMap(src, "alertmanager.extraannotations")
	for p, sev := range src.Map("alertmanager.customseveritymap") {
		prio, err := alert.ParsePriority(p)
		if err != nil {
			src.Warnf("alertmanager.customseveritymap", "%v; entry ignored, as falcosidekick does", err)
			continue
		}
		if cfg.CustomSeverityMap == nil {
			cfg.CustomSeverityMap = map[alert.Priority]string{}
		}
		cfg.CustomSeverityMap[prio] = sev
	}
	cfg.DropEventDefaultPriority = src.Priority("alertmanager.dropeventdefaultpriority")
	if cfg.DropEventDefaultPriority == alert.PriorityUnset {
		cfg.DropEventDefaultPriority = alert.PriorityCritical
	}
	th, bad := ParseThresholds(src.String("alertmanager.dropeventthresholds", DefaultDropEventThresholds))
	for _, err := range bad {
		src.Warnf("alertmanager.dropeventthresholds", "%v; threshold ignored, as falcosidekick does", err)
	}
	cfg.DropEventThresholds = th
	cfg.Common = src.Common("alertmanager")
	return cfg, true
}

// labelMap reads a name:value map whose names must be Prometheus label
// names; as in falcosidekick, an invalid name is left out (with a warning)
// and the hub starts.
func labelMap(src *settings.Source, key string) map[string]string {
	m := src.Map(key)
	for k := range m {
		if !validLabelName(k) {
			src.Warnf(key, "%q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*); left out, as falcosidekick does", k)
			delete(m, k)
		}
	}
	return m
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ParseThresholds parses "count:priority, …" into thresholds sorted from
// the largest count down. A malformed entry is reported in bad and left
// out; the others still apply.
func ParseThresholds(s string) (out []Threshold, bad []error) {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, p, ok := strings.Cut(part, ":")
		if !ok {
			bad = append(bad, fmt.Errorf("threshold %q: want count:priority", part))
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
		if err != nil {
			bad = append(bad, fmt.Errorf("threshold %q: count is not an integer", part))
			continue
		}
		prio, err := alert.ParsePriority(p)
		if err != nil {
			bad = append(bad, fmt.Errorf("threshold %q: %w", part, err))
			continue
		}
		out = append(out, Threshold{Value: v, Priority: prio})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Value > out[j].Value })
	return out, bad
}
