package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/config"
	"github.com/saker-sec/saker/hub/testutil"
)

var freeTCPPort = testutil.FreePort

// TestHubCommandStopsGracefully runs `saker hub` in-process (the same path
// main takes on SIGTERM: the context ends), checks both ports answer, stops
// it, and checks a restart on the same data dir still has the alert.
func TestHubCommandStopsGracefully(t *testing.T) {
	port, uiPort := freeTCPPort(t), freeTCPPort(t)
	t.Setenv("LISTENADDRESS", "127.0.0.1")
	t.Setenv("LISTENPORT", fmt.Sprint(port))
	t.Setenv("UI_ADDRESS", "127.0.0.1")
	t.Setenv("UI_LISTENPORT", fmt.Sprint(uiPort))
	t.Setenv("SAKER_DATA_DIR", t.TempDir())
	t.Setenv("REDIS_ADDRESS", "")
	t.Setenv("SAKER_UI_USER", "alice:s3cret")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ui := fmt.Sprintf("http://127.0.0.1:%d", uiPort)

	run := func() (context.CancelFunc, chan error) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runHub(ctx, "hub", nil, false, io.Discard) }()
		t.Cleanup(cancel)
		testutil.Eventually(t, 10*time.Second, "the hub's /ping", func() bool {
			resp, err := http.Get(base + "/ping")
			if err == nil {
				resp.Body.Close()
			}
			return err == nil
		})
		testutil.WaitDial(t, 10*time.Second, fmt.Sprintf("127.0.0.1:%d", uiPort)).Close()
		return cancel, done
	}

	cancel, done := run()
	resp, err := http.Post(base+"/test", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var tr struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if resp.StatusCode != 200 || tr.ID == "" {
		t.Fatalf("POST /test: %d", resp.StatusCode)
	}
	// The dashboard answers (a redirect to its login page).
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.Get(fmt.Sprintf("http://127.0.0.1:%d/", uiPort))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Fatalf("dashboard: %d", resp.StatusCode)
	}
	// Log in; the session is kept in the data dir and survives a restart.
	resp, err = http.Post(ui+"/login", "application/json", strings.NewReader(`{"username":"alice","password":"s3cret"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		session = c
	}
	if resp.StatusCode != 200 || session == nil {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("hub exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("hub did not stop")
	}

	cancel, done = run()
	defer func() { cancel(); <-done }()
	// The ingestion port serves no reads; the dashboard does, to the
	// session opened before the restart.
	resp, err = http.Get(base + "/api/v1/events/" + tr.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET event on the ingestion port: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", ui+"/api/v1/events/"+tr.ID, nil)
	req.AddCookie(session)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"rule":"Test rule"`) {
		t.Fatalf("after restart: %d %s", resp.StatusCode, b)
	}
}

// TestPrintConfig: `saker hub --print-config` prints the effective
// configuration from the file and the environment, secrets masked, with
// the warnings, and exits without starting anything.
func TestPrintConfig(t *testing.T) {
	path := t.TempDir() + "/c.yaml"
	if err := os.WriteFile(path, []byte("listenport: 3801\nslack:\n  webhookurl: https://hooks.slack.com/services/T0/B0/tok\n  minimumpriority: warn\nnosuchoutput:\n  address: https://example.invalid/x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("REDIS_PASSWORD", "hunter2")
	t.Setenv("WEBHOOK_ADDRESS", "http://hook:8080/")
	t.Setenv("WEBHOOK_METHOD", "patch")
	t.Setenv("WEBHOOK_CUSTOMHEADER", "X-A:1") // misspelt
	var out strings.Builder
	if err := runHub(context.Background(), "hub", []string{"-c", path, "--print-config"}, false, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"LISTENPORT=3801", "# file", "WEBHOOK_METHOD=POST", "# default (set value ignored)", "REDIS_PASSWORD=********", "SAKER_UI_USER=********",
		`WARNING SLACK_MINIMUMPRIORITY: unknown priority "warn"`, `WARNING WEBHOOK_METHOD: unknown method "PATCH"`, "WARNING NOSUCHOUTPUT_ADDRESS: set in the configuration file but not used",
		"WARNING WEBHOOK_CUSTOMHEADER: set in the environment but not used"} {
		if !strings.Contains(got, want) {
			t.Errorf("print-config lacks %q:\n%s", want, got)
		}
	}
	for _, leak := range []string{"hunter2", "tok", "admin:admin"} {
		if strings.Contains(got, leak) {
			t.Errorf("print-config leaks %q", leak)
		}
	}
}

// TestStartupLogsConfigurationWarnings: a value the hub replaced by a
// default is logged at start-up, one WARN line each.
func TestStartupLogsConfigurationWarnings(t *testing.T) {
	env := map[string]string{"SLACK_WEBHOOKURL": "https://hooks.slack.com/services/T0/B0/x", "SLACK_MINIMUMPRIORITY": "warn",
		"WEBHOOK_ADDRESS": "http://hook/", "WEBHOOK_METHOD": "patch"}
	conf, err := decodeSettings(config.NewSource(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, nil))
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	logWarnings(slog.New(slog.NewTextHandler(&buf, nil)), conf.effective)
	got := buf.String()
	for _, want := range []string{`level=WARN msg="configuration: SLACK_MINIMUMPRIORITY: unknown priority \"warn\"`, `level=WARN msg="configuration: WEBHOOK_METHOD: unknown method \"PATCH\"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
}
