package opsgenie_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/opsgenie"
	"github.com/saker-sec/saker/hub/alert"
)

// alertAPI answers as Opsgenie's create-alert endpoint: 401 without a
// GenieKey, 422 for a missing or over-long message, else 202.
func alertAPI(r testpeer.Request) (int, string) {
	if r.Method != http.MethodPost || r.Path != "/v2/alerts" {
		return http.StatusNotFound, ""
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "GenieKey ") {
		return http.StatusUnauthorized, `{"message":"Could not authenticate"}`
	}
	var p struct {
		Message, Alias, Entity, Description, Priority string
		Details                                       map[string]string
	}
	if err := testpeer.Strict(r.Body, &p); err != nil || p.Message == "" || len([]rune(p.Message)) > 130 {
		return http.StatusUnprocessableEntity, `{"message":"Request body is not processable"}`
	}
	return 0, ""
}

const want = `{"message":"Shell spawned in container (user=root)","alias":"5b4e1a8c-2c3f-4a53-9a77-1b2c3d4e5f60","entity":"Falcosidekick","description":"Terminal shell in container","details":{"hostname":"node-1","k8s_ns_name":"prod","k8s_pod_name":"api-1","priority":"Warning","proc_name":"bash","rule":"Terminal shell in container","source":"syscalls","tags":"T1059, container, shell"},"priority":"P4"}`

func TestForward(t *testing.T) {
	p := testpeer.New(t)
	p.Check, p.Status = alertAPI, http.StatusAccepted
	src := testpeer.Env(map[string]string{"OPSGENIE_APIKEY": "k3y", "OPSGENIE_REGION": "EU"})
	cfg, ok := opsgenie.Load(src)
	if !ok || src.Err() != nil || cfg.URL != opsgenie.EUURL {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	cfg.URL = p.URL + "/v2/alerts"
	f, err := opsgenie.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := testpeer.Sample()
	long.Output = strings.Repeat("é", 200)
	if _, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample(), long}); err != nil {
		t.Fatal(err)
	}
	r := p.Requests()
	if len(r) != 2 || r[0].Header.Get("Authorization") != "GenieKey k3y" {
		t.Fatalf("requests %+v", r)
	}
	testpeer.JSONEqual(t, r[0].Body, want)
}

func TestPriority(t *testing.T) {
	for p, want := range map[alert.Priority]string{alert.PriorityEmergency: "P1", alert.PriorityAlert: "P1", alert.PriorityCritical: "P2",
		alert.PriorityError: "P3", alert.PriorityWarning: "P4", alert.PriorityNotice: "P5", alert.PriorityDebug: "P5"} {
		if got := opsgenie.Priority(p); got != want {
			t.Errorf("Priority(%v) = %s, want %s", p, got, want)
		}
	}
}
