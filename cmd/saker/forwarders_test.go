package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/testutil"
)

// runHubWith runs `saker hub` on loopback ports with a fresh embedded store
// and env, until the test ends; it returns the ingestion and dashboard ports.
func runHubWith(t *testing.T, env map[string]string) (port, uiPort int) {
	port, uiPort = freeTCPPort(t), freeTCPPort(t)
	t.Setenv("LISTENADDRESS", "127.0.0.1")
	t.Setenv("LISTENPORT", fmt.Sprint(port))
	t.Setenv("UI_ADDRESS", "127.0.0.1")
	t.Setenv("UI_LISTENPORT", fmt.Sprint(uiPort))
	t.Setenv("SAKER_DATA_DIR", t.TempDir())
	t.Setenv("REDIS_ADDRESS", "")
	for k, v := range env {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runHub(ctx, "hub", nil, false, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub exit: %v", err)
		}
	})
	return port, uiPort
}

// POST /test reaches a forwarder whatever its minimum priority, as
// falcosidekick's test does (the test alert is Debug).
func TestTestAlertBypassesMinimumPriority(t *testing.T) {
	sink, url := newWebhookSink(t)
	port, _ := runHubWith(t, map[string]string{"WEBHOOK_ADDRESS": url, "WEBHOOK_MINIMUMPRIORITY": "critical"})
	var resp *http.Response
	testutil.Eventually(t, 15*time.Second, "the hub to answer POST /test", func() bool {
		var err error
		resp, err = http.Post(fmt.Sprintf("http://127.0.0.1:%d/test", port), "application/json", nil)
		return err == nil
	})
	var tr struct{ UUID string }
	json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if resp.StatusCode != 200 || tr.UUID == "" {
		t.Fatalf("POST /test: %d %+v", resp.StatusCode, tr)
	}
	testutil.Eventually(t, 10*time.Second, "the test alert at the webhook (WEBHOOK_MINIMUMPRIORITY=critical)",
		func() bool { return sink.has(tr.UUID) })
}

// A webhook that refuses an alert leaves a dead letter; through the
// dashboard (basic auth with the dashboard login) it is listed and, once
// the target accepts again, replayed to it.
func TestDeadLettersThroughDashboard(t *testing.T) {
	var refuse atomic.Bool
	refuse.Store(true)
	got := make(chan string, 10)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a struct{ UUID string }
		json.NewDecoder(r.Body).Decode(&a)
		if refuse.Load() {
			http.Error(w, "refused", http.StatusBadRequest)
			return
		}
		got <- a.UUID
	}))
	defer sink.Close()
	port, uiPort := runHubWith(t, map[string]string{"SAKER_UI_USER": "alice:s3cret", "WEBHOOK_ADDRESS": sink.URL})
	uuid := "00000000-0000-4000-8000-00000000dead"
	postOnFirstConnection(t, fmt.Sprintf("127.0.0.1:%d", port), uuid)

	testutil.WaitDial(t, 15*time.Second, fmt.Sprintf("127.0.0.1:%d", uiPort)).Close()
	ui := fmt.Sprintf("http://127.0.0.1:%d/api/v1/forwarders/webhook/deadletters", uiPort)
	do := func(method, url string, out any) int {
		req, _ := http.NewRequest(method, url, nil)
		req.SetBasicAuth("alice", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(out)
		return resp.StatusCode
	}
	var dead []struct{ ID, UUID, Reason string }
	testutil.Eventually(t, 10*time.Second, "a dead letter listed", func() bool {
		return do("GET", ui, &dead) == 200 && len(dead) > 0
	})
	if dead[0].UUID != uuid || !strings.Contains(dead[0].Reason, "400") {
		t.Fatalf("dead letters %+v", dead)
	}
	resp, err := http.Get(ui)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dead letters without login: %d", resp.StatusCode)
	}
	refuse.Store(false)
	var res struct{ Replayed int }
	if code := do("POST", ui+"/"+dead[0].ID+"/replay", &res); code != 200 || res.Replayed != 1 {
		t.Fatalf("replay: %d %+v", code, res)
	}
	if u := <-got; u != uuid {
		t.Fatalf("replayed %s, want %s", u, uuid)
	}
	dead = nil
	if do("GET", ui, &dead); len(dead) != 0 {
		t.Fatalf("dead letters after replay: %+v", dead)
	}
}
