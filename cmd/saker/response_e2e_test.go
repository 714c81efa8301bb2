//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/testutil"
	"github.com/saker-sec/saker/sensor"
	"github.com/saker-sec/saker/sensor/probe"
	"github.com/saker-sec/saker/sensor/response"
)

// TestResponseRecordsReachHub runs the product path of a response: the
// hub (`saker hub`, embedded store) and the sensor (real probe, its
// http_output pointed at the hub, an actions file) in this process. A
// marked shell raises an alert; the sensor kills it and records the kill
// and a skipped action; both records and the alert travel over HTTP to
// the hub, are stored, and the query API (the dashboard's, logged in)
// finds the records by the alert's uuid
// (source=response&field=response.alert_id=<uuid>).
func TestResponseRecordsReachHub(t *testing.T) {
	if err := probe.Check(); err != nil {
		if os.Getenv("SAKER_REQUIRE_BPF") == "1" {
			t.Fatalf("SAKER_REQUIRE_BPF=1 but the probe cannot load: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	port, uiPort := runHubWith(t, map[string]string{"SAKER_UI_USER": "alice:s3cret"})
	hub := fmt.Sprintf("http://127.0.0.1:%d", port)
	ui := fmt.Sprintf("http://127.0.0.1:%d", uiPort)
	testutil.WaitDial(t, 10*time.Second, fmt.Sprintf("127.0.0.1:%d", port)).Close()
	testutil.WaitDial(t, 10*time.Second, fmt.Sprintf("127.0.0.1:%d", uiPort)).Close()
	// The query API is the dashboard's, behind its login.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := client.Post(ui+"/login", "application/json", strings.NewReader(`{"username":"alice","password":"s3cret"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("login: %s", resp.Status)
	}

	// The sensor, configured as a user would: rules file, actions file,
	// http_output to the hub.
	mark := "saker-e2e-" + uuid.NewString()
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	rule := "E2E response shell"
	if err := os.WriteFile(rulesFile, []byte(`
- rule: `+rule+`
  desc: the shell this test starts
  condition: evt.type in (execve, execveat) and evt.dir=< and proc.name=sh and proc.args contains "`+mark+`"
  output: e2e shell (pid=%proc.pid)
  priority: WARNING
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := sensor.LoadConfig("", []string{"http_output.enabled=true", "http_output.url=" + hub + "/", "json_output=true", "stdout_output.enabled=false"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.RulesFiles = []string{rulesFile}
	if cfg.Response, err = response.Parse([]byte(`
matching: all
actions:
  - match: {rule: ` + rule + `}
    action: kill
  - match: {rule: ` + rule + `}
    action: container_pause
`)); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	sensorDone := make(chan error, 1)
	sctx, scancel := context.WithCancel(context.Background())
	go func() {
		sensorDone <- sensor.Run(sctx, sensor.Options{Config: cfg, Logger: slog.New(slog.DiscardHandler), Ready: func() { close(ready) }})
	}()
	t.Cleanup(func() {
		scancel()
		if err := <-sensorDone; err != nil {
			t.Errorf("sensor: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-sensorDone:
		t.Fatalf("sensor stopped: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("sensor not ready within 2m")
	}

	shell := exec.Command("sh", "-c", "sleep 30; : "+mark)
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shell.Process.Kill() })
	err = shell.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("shell ended with %v, want killed by SIGKILL", err)
	}
	pid := fmt.Sprint(shell.Process.Pid)

	type event struct {
		UUID         string         `json:"uuid"`
		Rule         string         `json:"rule"`
		Source       string         `json:"source"`
		OutputFields map[string]any `json:"output_fields"`
	}
	query := func(q url.Values) []event {
		t.Helper()
		resp, err := client.Get(ui + "/api/v1/events?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Events []event }
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET events?%s: %s %s", q.Encode(), resp.Status, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Events
	}
	// The sensor's http output delivers asynchronously: wait for the
	// stored alert, then for its two records.
	var trigger []event
	testutil.Eventually(t, 10*time.Second, "the alert in the hub", func() bool {
		trigger = query(url.Values{"rule": {rule}, "field": {"proc.pid=" + pid}})
		return len(trigger) > 0
	})
	if len(trigger) != 1 || trigger[0].UUID == "" {
		t.Fatalf("alerts of the shell: %+v", trigger)
	}
	var recs []event
	byAlert := url.Values{"source": {response.Source}, "field": {"response.alert_id=" + trigger[0].UUID}}
	testutil.Eventually(t, 10*time.Second, "two response records in the hub", func() bool {
		recs = query(byAlert)
		return len(recs) >= 2
	})
	var got []string
	for _, r := range recs {
		if r.Source != response.Source || r.Rule != response.RecordRule || fmt.Sprint(r.OutputFields["proc.pid"]) != pid {
			t.Errorf("record %+v: want source %s, rule %s, proc.pid %s", r, response.Source, response.RecordRule, pid)
		}
		got = append(got, fmt.Sprint(r.OutputFields["response.action"], "/", r.OutputFields["response.result"]))
	}
	sort.Strings(got)
	if want := fmt.Sprint([]string{"container_pause/skipped", "kill/done"}); fmt.Sprint(got) != want {
		t.Fatalf("records of alert %s: %v, want %s", trigger[0].UUID, got, want)
	}
	// The filter is exact: another alert id finds none.
	if other := query(url.Values{"source": {response.Source}, "field": {"response.alert_id=" + uuid.NewString()}}); len(other) != 0 {
		t.Fatalf("records of an unknown alert id: %+v", other)
	}
}
