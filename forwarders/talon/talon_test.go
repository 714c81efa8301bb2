package talon_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/talon"
	"github.com/saker-sec/saker/hub/alert"
)

func TestForward(t *testing.T) {
	p := testpeer.New(t)
	src := testpeer.Env(map[string]string{"TALON_ADDRESS": p.URL, "TALON_MINIMUMPRIORITY": "critical"})
	cfg, ok := talon.Load(src)
	if !ok || src.Err() != nil || cfg.MinimumPriority != alert.PriorityCritical || !cfg.CheckCert {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := talon.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := testpeer.Sample()
	if _, err := f.Forward(context.Background(), []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(&a)
	r := p.Only(t)
	if r.Method != "POST" || r.Path != "/" || r.Header.Get("Content-Type") != outhttp.ContentTypeJSON {
		t.Fatalf("request %+v", r)
	}
	testpeer.JSONEqual(t, r.Body, string(want))
}
