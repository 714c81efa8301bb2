package pagerduty_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/pagerduty"
	"github.com/saker-sec/saker/hub/alert"
)

// event is the Events API v2 request as documented
// (developer.pagerduty.com, "Send an Alert Event").
type event struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

// eventsAPI answers as the Events API does: 202 with a JSON status, or
// 400 "invalid event" for a body that breaks the documented rules.
func eventsAPI(r testpeer.Request) (int, string) {
	if r.Method != http.MethodPost || r.Path != "/v2/enqueue" {
		return http.StatusNotFound, `{"status":"not found"}`
	}
	var e event
	if err := testpeer.Strict(r.Body, &e); err != nil {
		return http.StatusBadRequest, `{"status":"invalid event","message":"` + err.Error() + `"}`
	}
	sev := map[string]bool{"critical": true, "error": true, "warning": true, "info": true}
	if e.RoutingKey == "" || e.EventAction != "trigger" || e.Payload.Summary == "" || e.Payload.Source == "" || !sev[e.Payload.Severity] {
		return http.StatusBadRequest, `{"status":"invalid event","message":"Event object is invalid","errors":["missing field"]}`
	}
	return 0, ""
}

func peer(t *testing.T) *testpeer.Peer {
	p := testpeer.New(t)
	p.Check = eventsAPI
	p.Status, p.Reply = http.StatusAccepted, `{"status":"success","message":"Event processed","dedup_key":"x"}`
	return p
}

func TestForward(t *testing.T) {
	p := peer(t)
	src := testpeer.Env(map[string]string{"PAGERDUTY_ROUTINGKEY": "R0UT1NGKEY", "PAGERDUTY_REGION": "eu", "PAGERDUTY_CUSTOMHEADERS": "X-A:1"})
	cfg, ok := pagerduty.Load(src)
	if !ok || src.Err() != nil || cfg.Endpoint != pagerduty.EUEndpoint {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	cfg.Endpoint = p.URL
	f, err := pagerduty.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := testpeer.Sample()
	if _, err := f.Forward(context.Background(), []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	r := p.Only(t)
	if r.Header.Get("X-A") != "1" || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", r.Header)
	}
	var e event
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatal(err)
	}
	d := e.Payload.CustomDetails
	if e.RoutingKey != "R0UT1NGKEY" || e.DedupKey != a.UUID || e.Payload.Summary != a.Output || e.Payload.Source != "falco" ||
		e.Payload.Severity != "critical" || e.Payload.Timestamp != "2026-11-23T09:00:00Z" ||
		d["proc.name"] != "bash" || d["evt.time"] != 1763888400123456789.0 || d["hostname"] != "node-1" ||
		d["rule"] != a.Rule || d["priority"] != "Warning" || d["tags"] != "T1059, container, shell" {
		t.Fatalf("event %s", r.Body)
	}
}

func TestForwardClassifiesAnswers(t *testing.T) {
	for _, tt := range []struct {
		status int
		retry  bool
	}{{400, false}, {429, true}, {500, true}} {
		p := peer(t)
		p.Check = nil
		p.Status, p.Reply = tt.status, `{"status":"x","message":"m"}`
		f, _ := pagerduty.New(pagerduty.Config{RoutingKey: "k", Endpoint: p.URL}, outhttp.Options{}, nil)
		retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
		var se *outhttp.StatusError
		if retry != tt.retry || !errors.As(err, &se) || se.Code != tt.status {
			t.Errorf("HTTP %d: Forward = %v, %v; want retry %v", tt.status, retry, err, tt.retry)
		}
	}
}
