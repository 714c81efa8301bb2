package nats_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	gonats "github.com/nats-io/nats.go"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/internal/testpki"
	"github.com/saker-sec/saker/forwarders/nats"
	"github.com/saker-sec/saker/hub/alert"
)

// runServer starts an embedded nats-server on a loopback ephemeral port.
func runServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func TestSubject(t *testing.T) {
	a := alert.Alert{Rule: "Terminal shell in container (T1059)!", Priority: alert.PriorityCritical}
	if got := nats.Subject("", &a); got != "falco.critical.terminal_shell_in_container_t1059" {
		t.Fatalf("Subject = %q", got)
	}
	if got := nats.Subject("sec.<rule>", &a); got != "sec.terminal_shell_in_container_t1059" {
		t.Fatalf("Subject = %q", got)
	}
}

func TestPublishToEmbeddedServer(t *testing.T) {
	s := runServer(t)
	sub, err := gonats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	msgs := make(chan *gonats.Msg, 10)
	if _, err := sub.ChanSubscribe("falco.>", msgs); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	src := testpeer.Env(map[string]string{"NATS_HOSTPORT": s.ClientURL()})
	cfg, ok := nats.Load(src)
	if !ok || src.Err() != nil || cfg.SubjectTemplate != nats.DefaultSubjectTemplate {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := nats.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a, b := testpeer.Sample(), testpeer.Sample()
	b.Priority, b.Rule = alert.PriorityError, "Write below etc"
	if _, err := f.Forward(context.Background(), []alert.Alert{a, b}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		subject string
		a       alert.Alert
	}{{"falco.warning.terminal_shell_in_container", a}, {"falco.error.write_below_etc", b}} {
		select {
		case m := <-msgs:
			body, _ := json.Marshal(&want.a)
			if m.Subject != want.subject || string(m.Data) != string(body) {
				t.Fatalf("message %d: %s %s", i, m.Subject, m.Data)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d not received", i)
		}
	}
}

func TestServerDownIsRetryable(t *testing.T) {
	s := runServer(t)
	url := s.ClientURL()
	s.Shutdown()
	s.WaitForShutdown()
	f, err := nats.New(nats.Config{HostPort: url}, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
	if err == nil || !retry {
		t.Fatalf("Forward = %v, %v; want a retryable error", retry, err)
	}
}

// TestMutualTLS publishes to an embedded nats-server that requires a
// client certificate (tls:// URL): with NATS_MUTUALTLS the certificate from
// MUTUALTLSFILESPATH is presented and the message arrives; without it the
// server refuses the connection and Forward fails.
func TestMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		TLS: true, TLSVerify: true, TLSConfig: pki.ServerTLS(true), TLSTimeout: 5})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	defer s.Shutdown()
	url := strings.Replace(s.ClientURL(), "nats://", "tls://", 1)
	opts := outhttp.Options{TLS: settings.TLS{MutualTLSFilesPath: pki.Dir, CACertFile: pki.Dir + "/ca.crt"}}
	for _, mutual := range []bool{true, false} {
		vars := map[string]string{"NATS_HOSTPORT": url}
		if mutual {
			vars["NATS_MUTUALTLS"] = "true"
		}
		cfg, _ := nats.Load(testpeer.Env(vars))
		f, err := nats.New(cfg, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = f.Forward(ctx, []alert.Alert{testpeer.Sample()})
		cancel()
		f.Close()
		if mutual && err != nil {
			t.Fatalf("NATS_MUTUALTLS=true: %v", err)
		}
		if !mutual && err == nil {
			t.Fatal("a server requiring a client certificate took an alert from a client without one")
		}
	}
}
