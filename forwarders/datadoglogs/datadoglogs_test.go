package datadoglogs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/saker-sec/saker/forwarders/datadoglogs"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

// intake answers as POST /api/v2/logs: 403 without DD-API-KEY, 400 for a
// body that is not a list of log entries, 413 past 1000 entries, else 202.
func intake(r testpeer.Request) (int, string) {
	if r.Method != http.MethodPost || r.Path != datadoglogs.Path {
		return http.StatusNotFound, ""
	}
	if r.Header.Get("DD-API-KEY") == "" {
		return http.StatusForbidden, ""
	}
	var entries []datadoglogs.Entry
	if err := testpeer.Strict(r.Body, &entries); err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if len(entries) > datadoglogs.MaxBatch {
		return http.StatusRequestEntityTooLarge, ""
	}
	return 0, ""
}

func TestForwardBatch(t *testing.T) {
	p := testpeer.New(t)
	p.Check, p.Status = intake, http.StatusAccepted
	src := testpeer.Env(map[string]string{"DATADOGLOGS_APIKEY": "k3y", "DATADOGLOGS_HOST": p.URL + "/", "DATADOGLOGS_SERVICE": "falco-prod"})
	cfg, ok := datadoglogs.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := datadoglogs.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testpeer.Sample(), testpeer.Sample()
	b.Hostname = "node-2"
	if _, err := f.Forward(context.Background(), []alert.Alert{a, b}); err != nil {
		t.Fatal(err)
	}
	var got []datadoglogs.Entry
	if err := json.Unmarshal(p.Only(t).Body, &got); err != nil || len(got) != 2 {
		t.Fatalf("body: %v", err)
	}
	msg, _ := json.Marshal(&a)
	want := datadoglogs.Entry{DDSource: "falco", Hostname: "node-1", Service: "falco-prod", Message: string(msg), DDTags: "T1059,container,shell"}
	if got[0] != want || got[1].Hostname != "node-2" {
		t.Fatalf("entries\n got %+v\nwant %+v", got, want)
	}
}
