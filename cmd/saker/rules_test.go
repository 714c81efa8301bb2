package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const stableRulesFile = "../../sensor/rules/testdata/falco_rules.yaml"

func TestRulesValidate(t *testing.T) {
	var out bytes.Buffer
	if err := rulesValidate(&out, []string{"-r", stableRulesFile}); err != nil {
		t.Fatalf("validate stable rules: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "falco_rules.yaml: Ok") {
		t.Errorf("output %q", out.String())
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("- rule: r\n  desc: d\n  condition: proc.name = \n  output: x\n  priority: INFO\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := rulesValidate(&out, []string{"-r", stableRulesFile, "-r", bad})
	var ec exitCode
	if !errors.As(err, &ec) || ec != 1 {
		t.Fatalf("invalid file: err %v, want exit code 1", err)
	}
	if !strings.Contains(out.String(), "bad.yaml: Invalid") || !strings.Contains(out.String(), "bad.yaml:3:") {
		t.Errorf("output %q", out.String())
	}
}

func TestRulesListAndFields(t *testing.T) {
	var out bytes.Buffer
	if err := rulesList(&out, []string{"-r", stableRulesFile}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Terminal shell in container") || strings.Count(out.String(), "\n") != 26 {
		t.Errorf("list output:\n%s", out.String())
	}
	out.Reset()
	if err := rulesList(&out, nil); err != nil {
		t.Fatalf("list default rules: %v", err)
	}
	out.Reset()
	if err := rulesFields(&out, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"proc.name ", "CHARBUF", "proc.aname[N]", "# source: k8s_audit", "ka.user.name ", "ka.uri.param[KEY]", "jevt.value[KEY]", "ka.req.pod.containers.image[N]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("fields output lacks %q", want)
		}
	}
	out.Reset()
	if err := rulesFields(&out, []string{"-source", "k8s_audit"}); err != nil || strings.Contains(out.String(), "proc.name") {
		t.Errorf("-source k8s_audit: %v\n%s", err, out.String())
	}
}

// TestRulesBothSources validates and lists Falco's syscall and k8s_audit
// rules files together, as `falco -r` with the k8saudit plugin does.
func TestRulesBothSources(t *testing.T) {
	k8s := "../../sensor/k8saudit/k8s_audit_rules.yaml"
	var out bytes.Buffer
	if err := rulesValidate(&out, []string{"-r", stableRulesFile, "-r", k8s}); err != nil {
		t.Fatalf("validate: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "k8s_audit_rules.yaml: Ok") {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	if err := rulesList(&out, []string{"-r", stableRulesFile, "-r", k8s}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Attach/Exec Pod") || !strings.Contains(out.String(), "(k8s_audit events)") {
		t.Errorf("list output:\n%s", out.String())
	}
}
