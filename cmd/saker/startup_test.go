package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// webhookSink records the uuids of the alerts a webhook target receives.
type webhookSink struct {
	mu    sync.Mutex
	uuids map[string]int
}

func newWebhookSink(t *testing.T) (*webhookSink, string) {
	s := &webhookSink{uuids: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var one struct{ UUID string }
		s.mu.Lock()
		if json.Unmarshal(b, &one) == nil && one.UUID != "" {
			s.uuids[one.UUID]++
		} else {
			var many []struct{ UUID string }
			if json.Unmarshal(b, &many) == nil {
				for _, a := range many {
					s.uuids[a.UUID]++
				}
			}
		}
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return s, srv.URL
}

func (s *webhookSink) has(uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.uuids[uuid] > 0
}

// postOnFirstConnection dials the hub until the listener accepts and sends
// an alert on that very connection: the earliest moment a Falco could
// deliver one. It returns the alert's uuid once answered 200.
func postOnFirstConnection(t *testing.T, addr, uuid string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var c net.Conn
	for {
		var err error
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub never accepted: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	defer c.Close()
	body := fmt.Sprintf(`{"uuid":%q,"output":"startup","priority":"Warning","rule":"Startup race","time":%q,"output_fields":{}}`,
		uuid, time.Now().UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("first POST: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("first POST: %s", resp.Status)
	}
}

// An alert answered 200 on the hub's very first connection reaches every
// forwarder configured at start-up: their consumer groups exist before the
// listener accepts, so none starts after an acknowledged alert (issue 17 #1).
func TestForwarderDeliversAlertsFromFirstConnection(t *testing.T) {
	sink, url := newWebhookSink(t)
	for round := 0; round < 3; round++ {
		port, uiPort := freeTCPPort(t), freeTCPPort(t)
		t.Setenv("LISTENADDRESS", "127.0.0.1")
		t.Setenv("LISTENPORT", fmt.Sprint(port))
		t.Setenv("UI_ADDRESS", "127.0.0.1")
		t.Setenv("UI_LISTENPORT", fmt.Sprint(uiPort))
		t.Setenv("SAKER_DATA_DIR", t.TempDir()) // a fresh store: the group is new
		t.Setenv("REDIS_ADDRESS", "")
		t.Setenv("WEBHOOK_ADDRESS", url)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- runHub(ctx, "hub", nil, false, io.Discard) }()
		uuid := fmt.Sprintf("00000000-0000-4000-8000-%012d", round)
		postOnFirstConnection(t, fmt.Sprintf("127.0.0.1:%d", port), uuid)
		deadline := time.Now().Add(10 * time.Second)
		for !sink.has(uuid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("round %d: hub exit: %v", round, err)
		}
		if !sink.has(uuid) {
			t.Fatalf("round %d: alert answered 200 on the first connection was never forwarded", round)
		}
	}
}
