package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSensorActionsFlag: --actions is read and validated before the
// sensor starts (here -L stops after loading).
func TestSensorActionsFlag(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "actions.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte("- match:\n    rule: Terminal shell in container\n  action: kill\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("- match: {rule: x}\n  action: kill\n  signal: NOPE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runSensorCmd(context.Background(), io.Discard, []string{"--actions", good, "-L"}); err != nil {
		t.Fatalf("good actions file: %v", err)
	}
	err := runSensorCmd(context.Background(), io.Discard, []string{"--actions", bad, "-L"})
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), `signal "NOPE"`) {
		t.Fatalf("bad actions file: %v", err)
	}
	err = runSensorCmd(context.Background(), io.Discard, []string{"--actions", filepath.Join(dir, "missing.yaml"), "-L"})
	if err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing actions file: %v", err)
	}
}
