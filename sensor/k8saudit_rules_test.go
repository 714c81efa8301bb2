package sensor

import (
	"testing"

	"github.com/saker-sec/saker/sensor/engine"
)

// TestLoadRulesBothSources: a Falco user's -r falco_rules.yaml -r
// k8s_audit_rules.yaml loads; the syscall engine takes only syscall rules
// (the hub evaluates the k8s_audit ones).
func TestLoadRulesBothSources(t *testing.T) {
	cfg := &Config{RulesFiles: []string{"rules/testdata/falco_rules.yaml", "k8saudit/k8s_audit_rules.yaml"}}
	rs, err := LoadRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := countSource(rs, "k8s_audit"); n != 48 {
		t.Errorf("%d k8s_audit rules loaded, want 48", n)
	}
	eng := engine.New(rs, engine.Options{})
	if len(eng.Rules()) == 0 {
		t.Fatal("no syscall rules")
	}
	for _, r := range eng.Rules() {
		if r.Source != "syscall" {
			t.Errorf("syscall engine evaluates %s rule %q", r.Source, r.Name)
		}
	}
}
