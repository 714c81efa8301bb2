package forwarders_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/internal/testpki"
	"github.com/saker-sec/saker/forwarders/opsgenie"
	"github.com/saker-sec/saker/forwarders/pagerduty"
	"github.com/saker-sec/saker/hub/alert"
)

// TestEveryHTTPOutputHonoursMutualTLS builds every HTTP output from its
// falcosidekick variables, as the hub does, and sends one alert to a TLS
// loopback peer that requires a client certificate signed by the CA in
// MUTUALTLSFILESPATH: with <OUT>_MUTUALTLS=true the alert arrives over a
// verified client certificate; without it the handshake is refused and
// the forwarder reports an error (no alert is silently lost).
func TestEveryHTTPOutputHonoursMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	outs := append(append([]benchOutput(nil), benchOutputs...), addedHTTPOutputs...)
	for _, o := range outs {
		if o.name == "opsgenie" {
			continue // its URL is fixed by OPSGENIE_REGION
		}
		prefix := strings.ToUpper(o.name)
		if o.name == "otlplogs" {
			prefix = "OTLP_LOGS"
		}
		t.Run(o.name, func(t *testing.T) {
			var verified atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
					verified.Add(1)
				}
				if o.reply != nil {
					_, _ = w.Write(o.reply(r, b))
				}
			}))
			srv.TLS = pki.ServerTLS(true)
			srv.StartTLS()
			defer srv.Close()
			for _, mutual := range []bool{true, false} {
				vars := o.env(srv.URL)
				vars["MUTUALTLSFILESPATH"] = pki.Dir
				vars["TLSCLIENT_CACERTFILE"] = pki.Dir + "/ca.crt"
				if mutual {
					vars[prefix+"_MUTUALTLS"] = "true"
				}
				setup, err := forwarders.FromEnv(env(vars), nil, nil)
				if err != nil || len(setup.Targets) != 1 {
					t.Fatalf("FromEnv = %+v, %v", setup, err)
				}
				_, err = setup.Targets[0].Forwarder.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
				if mutual && (err != nil || verified.Load() == 0) {
					t.Fatalf("%s_MUTUALTLS=true: Forward = %v, %d requests with a verified client certificate", prefix, err, verified.Load())
				}
				if !mutual && err == nil {
					t.Fatalf("without %s_MUTUALTLS the peer requiring a client certificate accepted the alert", prefix)
				}
			}
		})
	}
}

// TestFixedURLOutputsHonourMutualTLS: PagerDuty and Opsgenie have their
// URL fixed by _REGION, so TestEveryHTTPOutputHonoursMutualTLS cannot
// point them at a peer; here their Load reads <OUT>_MUTUALTLS, the URL is
// moved to a TLS peer requiring a client certificate, and delivery must
// present the one from MUTUALTLSFILESPATH.
func TestFixedURLOutputsHonourMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	var verified atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			verified.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"success","message":"Event processed","dedup_key":"k","result":"Request will be processed","took":0.1,"requestId":"r"}`)
	}))
	srv.TLS = pki.ServerTLS(true)
	srv.StartTLS()
	defer srv.Close()
	opts := outhttp.Options{TLS: settings.TLS{MutualTLSFilesPath: pki.Dir, CACertFile: pki.Dir + "/ca.crt"}}
	build := map[string]func(mutual string) (forwarders.Forwarder, error){
		"pagerduty": func(mutual string) (forwarders.Forwarder, error) {
			cfg, _ := pagerduty.Load(testpeer.Env(map[string]string{"PAGERDUTY_ROUTINGKEY": "k", "PAGERDUTY_MUTUALTLS": mutual}))
			cfg.Endpoint = srv.URL
			return pagerduty.New(cfg, opts, nil)
		},
		"opsgenie": func(mutual string) (forwarders.Forwarder, error) {
			cfg, _ := opsgenie.Load(testpeer.Env(map[string]string{"OPSGENIE_APIKEY": "k", "OPSGENIE_MUTUALTLS": mutual}))
			cfg.URL = srv.URL + "/v2/alerts"
			return opsgenie.New(cfg, opts, nil)
		},
	}
	for name, newF := range build {
		for _, mutual := range []string{"true", "false"} {
			before := verified.Load()
			f, err := newF(mutual)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
			if mutual == "true" && (err != nil || verified.Load() == before) {
				t.Errorf("%s with MUTUALTLS: Forward = %v", name, err)
			}
			if mutual == "false" && err == nil {
				t.Errorf("%s without MUTUALTLS: a peer requiring a client certificate accepted the alert", name)
			}
		}
	}
}
