package output

import (
	"os"
	"strings"
	"testing"

	"github.com/saker-sec/saker/hub/alert"
	"gopkg.in/yaml.v3"
)

// TestOfficialOutputsCompile compiles the output of every rule in the
// official stable rules file and renders it over a sample event: no
// unknown field, no panic, and the default container fields appended.
func TestOfficialOutputsCompile(t *testing.T) {
	// The official stable rules, kept in the repository as test data.
	data, err := os.ReadFile("../rules/testdata/falco_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := yaml.Unmarshal(data, &items); err != nil {
		t.Fatal(err)
	}
	ev := containerEvent()
	n := 0
	for _, it := range items {
		out, ok := it["output"].(string)
		if !ok {
			continue
		}
		n++
		f, err := Compile(strings.TrimSpace(out))
		if err != nil {
			t.Errorf("rule %v: %v", it["rule"], err)
			continue
		}
		line := f.Line(ev, alert.PriorityWarning)
		if !strings.HasSuffix(line, " container_id=abcdef012345 container_name=web container_image_repository=docker.io/library/nginx container_image_tag=1.25 k8s_pod_name=web-1 k8s_ns_name=prod") {
			t.Errorf("rule %v: line %q lacks the default fields", it["rule"], line)
		}
		if strings.Contains(line, "%") {
			t.Errorf("rule %v: unsubstituted token in %q", it["rule"], line)
		}
	}
	if n < 20 {
		t.Fatalf("only %d rule outputs found", n)
	}
}
