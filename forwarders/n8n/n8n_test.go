package n8n_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/n8n"
	"github.com/saker-sec/saker/hub/alert"
)

func TestForwardAuth(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		user, pass string
		header     string
	}{
		{name: "basic", env: map[string]string{"N8N_USER": "u", "N8N_PASSWORD": "p"}, user: "u", pass: "p"},
		{name: "header", env: map[string]string{"N8N_HEADERAUTHNAME": "X-N8n-Key", "N8N_HEADERAUTHVALUE": "s3cret"}, header: "s3cret"},
		{name: "user without password sends no auth", env: map[string]string{"N8N_USER": "u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testpeer.New(t)
			tt.env["N8N_ADDRESS"] = p.URL + "/webhook/falco"
			src := testpeer.Env(tt.env)
			cfg, ok := n8n.Load(src)
			if !ok || src.Err() != nil {
				t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
			}
			f, err := n8n.New(cfg, outhttp.Options{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := testpeer.Sample()
			if _, err := f.Forward(context.Background(), []alert.Alert{a}); err != nil {
				t.Fatal(err)
			}
			r := p.Only(t)
			user, pass, _ := (&httpReq{r}).basicAuth()
			if r.Path != "/webhook/falco" || user != tt.user || pass != tt.pass || r.Header.Get("X-N8n-Key") != tt.header {
				t.Fatalf("request %+v", r)
			}
			want, _ := json.Marshal(&a)
			testpeer.JSONEqual(t, r.Body, string(want))
		})
	}
}

type httpReq struct{ r testpeer.Request }

func (h *httpReq) basicAuth() (string, string, bool) {
	req := &http.Request{Header: h.r.Header}
	return req.BasicAuth()
}
