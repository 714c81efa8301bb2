package forwarders_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/forwarders/forwardertest"
	"github.com/saker-sec/saker/forwarders/loki"
	"github.com/saker-sec/saker/hub/alert"
)

// benchOutput is one output under benchmark: a loopback sink that speaks
// its API, and the env settings that point the output at it.
type benchOutput struct {
	name  string
	count forwardertest.CountFunc
	reply func(r *http.Request, body []byte) []byte
	env   func(url string) map[string]string
}

var benchOutputs = []benchOutput{
	{name: "webhook", count: func(r *http.Request, b []byte) (int, error) {
		var a alert.Alert
		return 1, json.Unmarshal(b, &a)
	}, env: func(url string) map[string]string { return map[string]string{"WEBHOOK_ADDRESS": url + "/falco"} }},
	{name: "slack", count: func(r *http.Request, b []byte) (int, error) {
		var m struct{ Attachments []any }
		if err := json.Unmarshal(b, &m); err != nil || len(m.Attachments) != 1 {
			return 0, fmt.Errorf("not a Slack message: %v", err)
		}
		return 1, nil
	}, reply: func(*http.Request, []byte) []byte { return []byte("ok") },
		env: func(url string) map[string]string {
			return map[string]string{"SLACK_WEBHOOKURL": url + "/services/T0/B0/x"}
		}},
	{name: "loki", count: func(r *http.Request, b []byte) (int, error) {
		var p loki.Payload
		if err := json.Unmarshal(b, &p); err != nil {
			return 0, err
		}
		n := 0
		for _, s := range p.Streams {
			n += len(s.Values)
		}
		return n, nil
	}, env: func(url string) map[string]string { return map[string]string{"LOKI_HOSTPORT": url} }},
	{name: "elasticsearch", count: func(r *http.Request, b []byte) (int, error) {
		n, err := bulkDocs(b)
		return n, err
	}, reply: bulkReply,
		env: func(url string) map[string]string { return map[string]string{"ELASTICSEARCH_HOSTPORT": url} }},
}

// bulkDocs counts the documents of a _bulk body (action line + document).
func bulkDocs(b []byte) (int, error) {
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			lines++
		}
	}
	if lines%2 != 0 {
		return 0, errors.New("odd number of _bulk lines")
	}
	return lines / 2, nil
}

// bulkReply answers a _bulk request as Elasticsearch does: every item created.
func bulkReply(_ *http.Request, b []byte) []byte {
	n, _ := bulkDocs(b)
	items := strings.TrimSuffix(strings.Repeat(`{"create":{"status":201}},`, n), ",")
	return []byte(`{"took":1,"errors":false,"items":[` + items + `]}`)
}

// target builds the output from its env settings, as the hub does.
func (o benchOutput) target(b *testing.B, sink *forwardertest.Sink) forwarders.Target {
	setup, err := forwarders.FromEnv(env(o.env(sink.URL())), nil, nil)
	if err != nil || len(setup.Targets) != 1 {
		b.Fatalf("%s: FromEnv = %+v, %v", o.name, setup, err)
	}
	return setup.Targets[0]
}

func (o benchOutput) sink(b *testing.B) *forwardertest.Sink {
	s := forwardertest.NewSink(b, o.count)
	s.Reply = o.reply
	return s
}

// BenchmarkThroughput drains stored alerts to each output's loopback peer
// with the output's default settings: alerts/s.
func BenchmarkThroughput(b *testing.B) {
	for _, o := range benchOutputs {
		b.Run(o.name, func(b *testing.B) {
			s := o.sink(b)
			forwardertest.Throughput(b, o.target(b, s), s)
		})
	}
}

// BenchmarkOutageDrain stores 200 alerts/s while each output's peer is down
// for 60 s (SAKER_BENCH_OUTAGE to change), and reports how long after it
// is back every alert is delivered (drain_s). ~65 s per output.
func BenchmarkOutageDrain(b *testing.B) {
	outage := forwardertest.OutageDuration(b)
	for _, o := range benchOutputs {
		b.Run(o.name, func(b *testing.B) {
			s := o.sink(b)
			forwardertest.OutageDrain(b, o.target(b, s), s, 200, outage)
		})
	}
}

// BenchmarkOutageDrainFalcosidekick puts falcosidekick through the same
// outage as BenchmarkOutageDrain/webhook, for comparison in the same run:
// SAKER_BENCH_SIDEKICK names its binary (built outside this repository);
// alerts are POSTed to it at 200/s and it forwards them to the webhook
// sink. It reports how many reached the sink and how many were lost
// (falcosidekick keeps no queue).
func BenchmarkOutageDrainFalcosidekick(b *testing.B) {
	bin := os.Getenv("SAKER_BENCH_SIDEKICK")
	if bin == "" {
		b.Skip("SAKER_BENCH_SIDEKICK (path to a falcosidekick binary) not set")
	}
	outage := forwardertest.OutageDuration(b)
	for range b.N {
		sink := benchOutputs[0].sink(b)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command(bin)
		cmd.Env = []string{"LISTENADDRESS=127.0.0.1", fmt.Sprintf("LISTENPORT=%d", port), "WEBHOOK_ADDRESS=" + sink.URL() + "/falco"}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if resp, err := http.Get(base + "/ping"); err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("falcosidekick did not start")
			}
		}
		total := 0
		send := func(d time.Duration) {
			tick := time.NewTicker(time.Second / 20)
			defer tick.Stop()
			for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
				for _, a := range forwardertest.Alerts(10) {
					body, _ := json.Marshal(a)
					resp, err := http.Post(base+"/", "application/json", bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
					total++
				}
			}
		}
		send(time.Second)
		sink.Down()
		send(outage)
		sink.Up()
		send(time.Second)
		// Settled when nothing more arrives for 3 s.
		for last := -1; last != sink.Delivered(); time.Sleep(3 * time.Second) {
			last = sink.Delivered()
		}
		b.ReportMetric(float64(sink.Delivered()), "delivered")
		b.ReportMetric(float64(total-sink.Delivered()), "lost")
	}
}
