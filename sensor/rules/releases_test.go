package rules

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestOlderOfficialReleasesLoad: the official rules files of older
// falcosecurity/rules releases, which users still run, load unmodified
// (each incubating/sandbox file with the stable file of its time).
func TestOlderOfficialReleasesLoad(t *testing.T) {
	files, err := filepath.Glob("testdata/releases/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no release files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			paths := []string{f}
			if !strings.HasPrefix(filepath.Base(f), "falco_rules") {
				// Incubating and sandbox files build on the stable file.
				paths = []string{"testdata/releases/falco_rules-5.0.0.yaml", f}
			}
			rs, err := LoadFiles(Config{}, paths...)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(rs.Rules) == 0 {
				t.Fatal("no rules")
			}
		})
	}
}
