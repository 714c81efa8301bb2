package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/testutil"
)

// POST /test reaches a forwarder whatever its minimum priority, as
// falcosidekick's test does (the test alert is Debug).
func TestTestAlertBypassesMinimumPriority(t *testing.T) {
	sink, url := newWebhookSink(t)
	port, uiPort := freeTCPPort(t), freeTCPPort(t)
	t.Setenv("LISTENADDRESS", "127.0.0.1")
	t.Setenv("LISTENPORT", fmt.Sprint(port))
	t.Setenv("UI_ADDRESS", "127.0.0.1")
	t.Setenv("UI_LISTENPORT", fmt.Sprint(uiPort))
	t.Setenv("SAKER_DATA_DIR", t.TempDir())
	t.Setenv("REDIS_ADDRESS", "")
	t.Setenv("WEBHOOK_ADDRESS", url)
	t.Setenv("WEBHOOK_MINIMUMPRIORITY", "critical")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runHub(ctx, "hub", nil, false, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub exit: %v", err)
		}
	}()
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
