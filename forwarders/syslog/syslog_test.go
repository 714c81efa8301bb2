package syslog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/syslog"
	"github.com/saker-sec/saker/hub/alert"
)

// rfc3164 is the line log/syslog writes to a remote server:
// <PRI>TIMESTAMP HOSTNAME TAG[PID]: MSG.
var rfc3164 = regexp.MustCompile(`^<(\d+)>(\S+) (\S+) Falco\[(\d+)\]: (.*)$`)

func parse(t *testing.T, line string) (pri string, msg string) {
	t.Helper()
	m := rfc3164.FindStringSubmatch(strings.TrimRight(line, "\n"))
	if m == nil {
		t.Fatalf("not an RFC 3164 syslog line: %q", line)
	}
	if _, err := time.Parse(time.RFC3339, m[2]); err != nil {
		t.Fatalf("timestamp %q: %v", m[2], err)
	}
	return m[1], m[5]
}

func TestUDPJSON(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	host, port, _ := net.SplitHostPort(pc.LocalAddr().String())
	src := testpeer.Env(map[string]string{"SYSLOG_HOST": host, "SYSLOG_PORT": port, "SYSLOG_PROTOCOL": "udp"})
	cfg, ok := syslog.Load(src)
	if !ok || src.Err() != nil || cfg.Format != "json" {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, _ := syslog.New(cfg, outhttp.Options{}, nil)
	a := testpeer.Sample()
	if _, err := f.Forward(context.Background(), []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	pri, msg := parse(t, string(buf[:n]))
	want, _ := json.Marshal(&a)
	if pri != "4" || msg != string(want) { // facility 0, severity warning
		t.Fatalf("pri %s msg %s", pri, msg)
	}
}

func TestTCPCEF(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 4)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- l
		}
	}()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	f, _ := syslog.New(syslog.Config{Host: host, Port: port, Protocol: "tcp", Format: "cef"}, outhttp.Options{}, nil)
	a := testpeer.Sample()
	a.Output = "a=b | c\nd"
	b := testpeer.Sample()
	b.Priority = alert.PriorityCritical
	if _, err := f.Forward(context.Background(), []alert.Alert{a, b}); err != nil {
		t.Fatal(err)
	}
	want := `CEF:0|Falcosecurity|Falco|1.0|Falco Event|Terminal shell in container|6|uuid=5b4e1a8c-2c3f-4a53-9a77-1b2c3d4e5f60 start=2026-11-23T09:00:00Z msg=a\=b | c\nd source=syslogs hostname=node-1 outputfields=container.image.tag:<nil> evt.time:1763888400123456789 k8s.ns.name:prod k8s.pod.name:api-1 proc.name:bash tags=shell,container,T1059`
	want = strings.Replace(want, "source=syslogs", "source=syscalls", 1)
	for i, wantPri := range []string{"4", "2"} {
		select {
		case l := <-lines:
			pri, msg := parse(t, l)
			if pri != wantPri || (i == 0 && msg != want) {
				t.Fatalf("line %d: pri %s msg\n%s\nwant\n%s", i, pri, msg, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("line %d not received", i)
		}
	}
}

func TestServerDownIsRetryable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	f, _ := syslog.New(syslog.Config{Host: host, Port: port, Protocol: "tcp", Format: "json"}, outhttp.Options{}, nil)
	retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
	if err == nil || !retry {
		t.Fatalf("Forward = %v, %v; want a retryable error", retry, err)
	}
}
