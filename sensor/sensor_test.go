//go:build linux

package sensor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/saker-sec/saker/hub/alert"
)

type collector struct {
	mu     sync.Mutex
	alerts []alert.Alert
	reg    *prometheus.Registry
}

func (c *collector) Emit(a *alert.Alert) error {
	c.mu.Lock()
	c.alerts = append(c.alerts, *a)
	c.mu.Unlock()
	return nil
}

func (c *collector) wait(t *testing.T, what string, pred func(*alert.Alert) bool) alert.Alert {
	t.Helper()
	return c.find(t, what, pred)
}

// startSensor runs the sensor with the default rules until the test ends
// and returns the alerts it raises.
func startSensor(t *testing.T) *collector { t.Helper(); return startSensorWith(t) }

// TestSensorEndToEnd runs the sensor with the default rules on this host
// and checks real actions raise the right alerts with the right fields.
func TestSensorEndToEnd(t *testing.T) {
	c := startSensor(t)

	t.Run("cat /etc/shadow", func(t *testing.T) {
		cmd := exec.Command("cat", "/etc/shadow")
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		pid := fmt.Sprint(cmd.Process.Pid)
		a := c.wait(t, "cat /etc/shadow", func(a *alert.Alert) bool {
			return a.Rule == "Read sensitive file untrusted" && fmt.Sprint(a.OutputFields["proc.pid"]) == pid ||
				a.Rule == "Read sensitive file untrusted" && a.OutputFields["proc.cmdline"] == "cat /etc/shadow"
		})
		want := map[string]any{
			"fd.name": "/etc/shadow", "proc.name": "cat", "proc.cmdline": "cat /etc/shadow",
			"user.name": "root", "evt.type": "openat", "proc.exepath": "/usr/bin/cat",
		}
		for k, v := range want {
			if fmt.Sprint(a.OutputFields[k]) != fmt.Sprint(v) {
				t.Errorf("output_fields[%s] = %v, want %v", k, a.OutputFields[k], v)
			}
		}
		if a.Priority != alert.PriorityWarning || a.Source != "syscall" || !strings.Contains(a.Output, "file=/etc/shadow") || strings.Contains(a.Output, "\n") {
			t.Errorf("alert %+v", a)
		}
		if pname := fmt.Sprint(a.OutputFields["proc.pname"]); pname == "" || pname == "<nil>" {
			t.Errorf("proc.pname missing: %v", a.OutputFields)
		}
		if d := time.Since(a.Time); d < 0 || d > time.Minute {
			t.Errorf("alert time %v", a.Time)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		// An open no rule can match stays in the kernel, counted: the
		// probe counts it before the syscall returns.
		other := filepath.Join(t.TempDir(), "no-rule-reads-this")
		if err := os.WriteFile(other, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cat", other).CombinedOutput(); err != nil {
			t.Fatalf("cat: %v %s", err, out)
		}
		got := c.counters(t)
		if got["saker_sensor_kernel_events_total/openat"] < 1 || got["saker_sensor_events_total"] < 1 || got["saker_sensor_rule_matches_total"] < 1 {
			t.Errorf("metrics %v", got)
		}
		if got["saker_sensor_kernel_filtered_total/openat"] < 1 {
			t.Errorf("no open filtered: %v", got)
		}
		if _, ok := got["saker_sensor_kernel_dropped_total/execve"]; !ok {
			t.Errorf("no dropped series for execve: %v", got)
		}
	})

	t.Run("touch below /usr/bin", func(t *testing.T) {
		path := filepath.Join("/usr/bin", fmt.Sprintf("saker-e2e-%d", os.Getpid()))
		t.Cleanup(func() { os.Remove(path) })
		if out, err := exec.Command("touch", path).CombinedOutput(); err != nil {
			t.Fatalf("touch: %v %s", err, out)
		}
		a := c.wait(t, "touch "+path, func(a *alert.Alert) bool {
			return a.Rule == "Write below binary dir" && a.OutputFields["fd.name"] == path
		})
		if a.OutputFields["proc.name"] != "touch" || a.Priority != alert.PriorityError {
			t.Errorf("alert %+v", a)
		}
	})

	t.Run("netcat-like remote shell", func(t *testing.T) {
		// A copy of /bin/true named nc: exec'd with -e, as a reverse
		// shell would be.
		nc := filepath.Join(t.TempDir(), "nc")
		b, err := os.ReadFile("/bin/true")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(nc, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := exec.Command(nc, "-e", "/bin/sh", "127.0.0.1", "4444").Run(); err != nil {
			t.Fatal(err)
		}
		a := c.wait(t, "nc -e", func(a *alert.Alert) bool { return a.Rule == "Netcat remote code execution" })
		if a.OutputFields["proc.cmdline"] != "nc -e /bin/sh 127.0.0.1 4444" {
			t.Errorf("cmdline %v", a.OutputFields["proc.cmdline"])
		}
	})
}

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "falco.yaml")
	os.WriteFile(path, []byte(`
rules_file:
  - /etc/falco/falco_rules.yaml
json_output: true
priority: warning
http_output:
  enabled: true
  url: http://127.0.0.1:2801/
unknown_key: {nested: 1}
`), 0o600)
	cfg, err := LoadConfig(path, []string{"rules_files[]=extra.yaml", "http_output.user_agent=x/1", "stdout_output.enabled=false", "json_include_output_property=false"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(cfg.RulesFiles) != "[extra.yaml /etc/falco/falco_rules.yaml]" {
		t.Errorf("rules files %v", cfg.RulesFiles)
	}
	if !cfg.JSONOutput || cfg.Priority != "warning" || !cfg.HTTPOutput.Enabled || cfg.HTTPOutput.URL != "http://127.0.0.1:2801/" ||
		cfg.HTTPOutput.UserAgent != "x/1" || cfg.StdoutOutput.Enabled || cfg.JSONIncludeOutputProperty || !cfg.JSONIncludeTagsProperty {
		t.Errorf("config %+v", cfg)
	}
	oc, err := OutputConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if oc.Stdout != nil || oc.HTTP == nil || oc.HTTP.UserAgent != "x/1" || oc.Priority != alert.PriorityWarning || !oc.JSON {
		t.Errorf("output config %+v", oc)
	}
	if _, err := LoadConfig(path, []string{"novalue"}); err == nil {
		t.Error("bad override accepted")
	}
	def, err := LoadConfig("", nil)
	if err != nil || !def.StdoutOutput.Enabled || def.RuleMatching != "first" || len(def.RulesFiles) != 0 {
		t.Errorf("defaults %+v %v", def, err)
	}
}

// TestLoadRulesSelection: falco.yaml's `rules:` list switches on a rule the
// official sandbox file ships disabled, and switches off stable ones.
func TestLoadRulesSelection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "falco.yaml")
	os.WriteFile(path, []byte(`
rules_files:
  - rules/testdata/falco_rules.yaml
  - rules/testdata/falco-sandbox_rules.yaml
rules:
  - disable:
      rule: "Read sensitive file*"
  - enable:
      rule: Unexpected inbound connection source
  - disable:
      tag: T1611
`), 0o600)
	cfg, err := LoadConfig(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := LoadRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"Read sensitive file untrusted":             false,
		"Read sensitive file trusted after startup": false,
		"Unexpected inbound connection source":      true,
		"Debugfs Launched in Privileged Container":  false,
		"Terminal shell in container":               true,
	}
	for _, r := range rs.Rules {
		if w, ok := want[r.Name]; ok && r.Enabled != w {
			t.Errorf("%s enabled = %v, want %v", r.Name, r.Enabled, w)
		}
	}
	cfg.Rules = append(cfg.Rules, RuleSelection{})
	if _, err := LoadRules(cfg); err == nil || !strings.Contains(err.Error(), "rules[3]") {
		t.Errorf("empty entry accepted: %v", err)
	}
}
