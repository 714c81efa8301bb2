package rules

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata")

// The three official rules files (falcosecurity/rules, Apache-2.0, see
// testdata/LICENSE), loaded as Falco users load them: the stable file
// first, then the incubating and sandbox files.
var officialFiles = []string{
	"testdata/falco_rules.yaml",
	"testdata/falco-incubating_rules.yaml",
	"testdata/falco-sandbox_rules.yaml",
}

func TestOfficialRulesMatchSharedCopy(t *testing.T) {
	for _, p := range officialFiles {
		shared, err := os.ReadFile(filepath.Join("../../../shared/falco-rules", filepath.Base(p)))
		if err != nil {
			continue // a clean clone has only the testdata copies
		}
		local, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(shared, local) {
			t.Errorf("%s differs from the shared copy: refresh testdata", p)
		}
	}
}

func TestOfficialRulesLoadUnmodified(t *testing.T) {
	for _, tc := range []struct {
		files []string
		rules int
	}{
		{officialFiles[:1], 25},
		{[]string{officialFiles[0], officialFiles[1]}, 25 + 31},
		{[]string{officialFiles[0], officialFiles[2]}, 25 + 37},
		{officialFiles, 25 + 31 + 37},
	} {
		name := strings.Join(tc.files, "+")
		t.Run(name, func(t *testing.T) {
			rs, err := LoadFiles(Config{}, tc.files...)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if rs.DefinedRules != tc.rules || len(rs.Rules) != tc.rules {
				t.Errorf("defined %d, compiled %d rules; want %d", rs.DefinedRules, len(rs.Rules), tc.rules)
			}
			for _, r := range rs.Rules {
				if r.Filter == nil {
					t.Errorf("rule %q has no filter", r.Name)
				}
			}
		})
	}
}

// TestOfficialCompiledConditions pins every official rule's compiled
// condition (lists and macros expanded, exceptions appended), so compiler
// rewrites cannot change what a rule matches unnoticed. Regenerate with
// `go test ./sensor/rules -run OfficialCompiled -update` and review the
// diff.
func TestOfficialCompiledConditions(t *testing.T) {
	rs, err := LoadFiles(Config{}, officialFiles...)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rs.Rules {
		b.WriteString(r.Name + "\n\t" + r.Condition + "\n")
	}
	const golden = "testdata/official_conditions.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("compiled conditions differ at line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("compiled conditions differ in length: got %d lines, want %d", len(gl), len(wl))
	}
}
