package sensor

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/saker-sec/saker/sensor/response"
	"github.com/saker-sec/saker/sensor/rules"
)

// Config is the sensor's configuration, read with Falco's falco.yaml keys so
// an existing falco.yaml works unchanged (unknown keys are ignored).
type Config struct {
	// RulesFiles are loaded in order; empty means the embedded default
	// rules. Falco's older key rules_file is accepted too.
	RulesFiles []string `yaml:"rules_files"`
	RulesFile  []string `yaml:"rules_file"`

	JSONOutput                bool   `yaml:"json_output"`
	JSONIncludeOutputProperty bool   `yaml:"json_include_output_property"`
	JSONIncludeTagsProperty   bool   `yaml:"json_include_tags_property"`
	Priority                  string `yaml:"priority"`
	BufferedOutputs           bool   `yaml:"buffered_outputs"`
	RuleMatching              string `yaml:"rule_matching"`
	TimeFormatISO8601         bool   `yaml:"time_format_iso_8601"`

	StdoutOutput struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"stdout_output"`
	FileOutput struct {
		Enabled   bool   `yaml:"enabled"`
		KeepAlive bool   `yaml:"keep_alive"`
		Filename  string `yaml:"filename"`
	} `yaml:"file_output"`
	SyslogOutput struct {
		Enabled bool `yaml:"enabled"`
	} `yaml:"syslog_output"`
	ProgramOutput struct {
		Enabled   bool   `yaml:"enabled"`
		KeepAlive bool   `yaml:"keep_alive"`
		Program   string `yaml:"program"`
	} `yaml:"program_output"`
	HTTPOutput struct {
		Enabled   bool   `yaml:"enabled"`
		URL       string `yaml:"url"`
		UserAgent string `yaml:"user_agent"`
		Insecure  bool   `yaml:"insecure"`
		// SpoolDir (Saker addition) keeps undelivered alerts on disk
		// while the hub is unreachable.
		SpoolDir string `yaml:"spool_dir"`
	} `yaml:"http_output"`

	// Rules enables and disables loaded rules by name or tag, in order
	// (falco.yaml's `rules:` list).
	Rules []RuleSelection `yaml:"rules"`

	// Saker additions (Falco ignores them).
	DockerSocket string `yaml:"docker_socket"`
	// Response configures the response actions (sensor/response);
	// `saker sensor --actions file` replaces it.
	Response response.Config `yaml:"response"`
	// StatsInterval prints a stats line (events, drops, matches) this
	// often, e.g. "60s"; empty disables it.
	StatsInterval string `yaml:"stats_interval"`
}

// defaults are Falco's defaults for the keys above, except syslog, which is
// off unless configured (a sensor in a container rarely has /dev/log).
const defaults = `
json_output: false
json_include_output_property: true
json_include_tags_property: true
priority: debug
buffered_outputs: false
rule_matching: first
stdout_output: {enabled: true}
file_output: {enabled: false, keep_alive: false, filename: ./events.txt}
syslog_output: {enabled: false}
program_output: {enabled: false, keep_alive: false, program: "jq '{text: .output}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"}
http_output: {enabled: false, url: "http://127.0.0.1:2801/", user_agent: "saker/sensor"}
`

// LoadConfig reads a falco.yaml-style file (path may be "" for defaults)
// and applies -o key=value overrides ("http_output.enabled=true",
// "rules_files[]=extra.yaml" appends), as Falco's -o does.
func LoadConfig(path string, overrides []string) (*Config, error) {
	doc := map[string]any{}
	if err := yaml.Unmarshal([]byte(defaults), &doc); err != nil {
		return nil, fmt.Errorf("config defaults: %w", err)
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		var user map[string]any
		if err := yaml.Unmarshal(b, &user); err != nil {
			return nil, fmt.Errorf("parse config %s: %w", path, err)
		}
		merge(doc, user)
	}
	for _, o := range overrides {
		if err := override(doc, o); err != nil {
			return nil, err
		}
	}
	// rules_file may be a string in old configs; normalise to a list.
	for _, k := range []string{"rules_file", "rules_files"} {
		if s, ok := doc[k].(string); ok {
			doc[k] = []any{s}
		}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		if path != "" {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	c.RulesFiles = append(c.RulesFiles, c.RulesFile...)
	c.RulesFile = nil
	return &c, nil
}

// merge overlays src onto dst, recursing into nested maps.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// override applies one "a.b.c=value" (value parsed as YAML) to doc.
func override(doc map[string]any, kv string) error {
	key, raw, ok := strings.Cut(kv, "=")
	if !ok || key == "" {
		return fmt.Errorf("option %q: want key=value", kv)
	}
	var val any
	if err := yaml.Unmarshal([]byte(raw), &val); err != nil {
		val = raw
	}
	if val == nil {
		val = ""
	}
	parts := strings.Split(key, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	last := parts[len(parts)-1]
	if name, ok := strings.CutSuffix(last, "[]"); ok {
		list, _ := m[name].([]any)
		if s, ok := m[name].(string); ok {
			list = []any{s}
		}
		m[name] = append(list, val)
		return nil
	}
	m[last] = val
	return nil
}

// RuleSelection is one entry of falco.yaml's `rules:` list: exactly one of
// Enable and Disable, naming rules by `rule` (with * wildcards) or `tag`.
type RuleSelection struct {
	Enable  *RuleMatch `yaml:"enable"`
	Disable *RuleMatch `yaml:"disable"`
}

// RuleMatch names the rules a RuleSelection applies to.
type RuleMatch struct {
	Rule string `yaml:"rule"`
	Tag  string `yaml:"tag"`
}

// selection converts the `rules:` entries for the rules loader.
func (c *Config) selection() ([]rules.Selection, error) {
	out := make([]rules.Selection, 0, len(c.Rules))
	for i, e := range c.Rules {
		m, enable := e.Enable, true
		if e.Disable != nil {
			m, enable = e.Disable, false
		}
		if m == nil || (e.Enable != nil && e.Disable != nil) {
			return nil, fmt.Errorf("rules[%d]: want exactly one of enable or disable", i)
		}
		if m.Rule == "" && m.Tag == "" {
			return nil, fmt.Errorf("rules[%d]: want a rule or a tag", i)
		}
		out = append(out, rules.Selection{Enable: enable, Rule: m.Rule, Tag: m.Tag})
	}
	return out, nil
}
