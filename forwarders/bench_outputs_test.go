package forwarders_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	gonats "github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"

	"github.com/saker-sec/saker/forwarders"
	"github.com/saker-sec/saker/forwarders/forwardertest"
)

// jsonList counts the elements of a JSON array body (Alertmanager,
// Datadog logs).
func jsonList(_ *http.Request, b []byte) (int, error) {
	var l []json.RawMessage
	err := json.Unmarshal(b, &l)
	return len(l), err
}

// jsonOne counts a JSON object body as one alert.
func jsonOne(_ *http.Request, b []byte) (int, error) {
	var m map[string]any
	return 1, json.Unmarshal(b, &m)
}

// addedHTTPOutputs are the HTTP outputs added after the first four, for
// BenchmarkThroughputAdded and BenchmarkOutageDrainAdded.
var addedHTTPOutputs = []benchOutput{
	{name: "alertmanager", count: jsonList, env: func(u string) map[string]string { return map[string]string{"ALERTMANAGER_HOSTPORT": u} }},
	{name: "teams", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"TEAMS_WEBHOOKURL": u + "/w"} }},
	{name: "discord", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"DISCORD_WEBHOOKURL": u + "/w"} }},
	{name: "googlechat", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"GOOGLECHAT_WEBHOOKURL": u + "/w"} }},
	{name: "mattermost", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"MATTERMOST_WEBHOOKURL": u + "/w"} }},
	{name: "rocketchat", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"ROCKETCHAT_WEBHOOKURL": u + "/w"} }},
	{name: "talon", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"TALON_ADDRESS": u} }},
	{name: "n8n", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"N8N_ADDRESS": u} }},
	{name: "opsgenie", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"OPSGENIE_APIKEY": "k"} }},
	{name: "datadog", count: jsonOne, env: func(u string) map[string]string { return map[string]string{"DATADOG_APIKEY": "k", "DATADOG_HOST": u} }},
	{name: "datadoglogs", count: jsonList, env: func(u string) map[string]string {
		return map[string]string{"DATADOGLOGS_APIKEY": "k", "DATADOGLOGS_HOST": u}
	}},
	{name: "splunk", count: jsonStream, env: func(u string) map[string]string { return map[string]string{"SPLUNK_HOST": u, "SPLUNK_TOKEN": "t"} }},
	{name: "openobserve", count: jsonStream, env: func(u string) map[string]string { return map[string]string{"OPENOBSERVE_HOSTPORT": u} }},
	{name: "otlplogs", count: otlpRecords, env: func(u string) map[string]string { return map[string]string{"OTLP_LOGS_ENDPOINT": u + "/v1/logs"} }},
	{name: "grafana", count: jsonOne, env: func(u string) map[string]string {
		return map[string]string{"GRAFANA_HOSTPORT": u, "GRAFANA_APIKEY": "k"}
	}},
}

// otlpRecords counts the log records of an OTLP/HTTP protobuf export.
func otlpRecords(_ *http.Request, b []byte) (int, error) {
	var req collogspb.ExportLogsServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		return 0, err
	}
	n := 0
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			n += len(sl.LogRecords)
		}
	}
	return n, nil
}

// jsonStream counts the JSON objects of a concatenated or newline-delimited
// body (Splunk HEC, OpenObserve _multi).
func jsonStream(_ *http.Request, b []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, err
		}
		n++
	}
}

// BenchmarkThroughputAdded drains stored alerts to each added output's
// loopback peer (HTTP sinks, kfake, an embedded nats-server, a TCP syslog
// listener): alerts/s with the output's default settings.
func BenchmarkThroughputAdded(b *testing.B) {
	for _, o := range addedHTTPOutputs {
		if o.name == "opsgenie" {
			continue // its URL is fixed by OPSGENIE_REGION; covered by its package tests
		}
		b.Run(o.name, func(b *testing.B) {
			s := o.sink(b)
			forwardertest.Throughput(b, o.target(b, s), s)
		})
	}
	b.Run("kafka", func(b *testing.B) {
		p := newKafkaPeer(b)
		forwardertest.Throughput(b, targetFromEnv(b, map[string]string{"KAFKA_HOSTPORT": p.addr, "KAFKA_TOPIC": "falco"}), p)
	})
	b.Run("nats", func(b *testing.B) {
		p := newNATSPeer(b)
		forwardertest.Throughput(b, targetFromEnv(b, map[string]string{"NATS_HOSTPORT": p.url}), p)
	})
	b.Run("syslog-tcp", func(b *testing.B) {
		p := newSyslogPeer(b)
		host, port, _ := net.SplitHostPort(p.addr)
		forwardertest.Throughput(b, targetFromEnv(b, map[string]string{"SYSLOG_HOST": host, "SYSLOG_PORT": port, "SYSLOG_PROTOCOL": "tcp"}), p)
	})
}

// BenchmarkOutageDrainAdded is BenchmarkOutageDrain for the HTTP outputs
// added after the first four: each one's own payload and batching through
// the same 60 s outage at 200 alerts/s (about a minute and a half each;
// SAKER_BENCH_OUTAGE shortens it, -bench 'OutageDrainAdded/<name>' picks one).
func BenchmarkOutageDrainAdded(b *testing.B) {
	outage := forwardertest.OutageDuration(b)
	for _, o := range addedHTTPOutputs {
		if o.name == "opsgenie" {
			continue // its URL is fixed by OPSGENIE_REGION; covered by its package tests
		}
		b.Run(o.name, func(b *testing.B) {
			s := o.sink(b)
			forwardertest.OutageDrain(b, o.target(b, s), s, 200, outage)
		})
	}
}

func targetFromEnv(b *testing.B, vars map[string]string) forwarders.Target {
	setup, err := forwarders.FromEnv(env(vars), nil, nil)
	if err != nil || len(setup.Targets) != 1 {
		b.Fatalf("FromEnv = %+v, %v", setup, err)
	}
	return setup.Targets[0]
}

// counter is the Delivered half of forwardertest.Peer for the non-HTTP
// peers; they are only used for throughput, never taken down.
type counter struct{ n atomic.Int64 }

func (c *counter) Delivered() int { return int(c.n.Load()) }
func (c *counter) Down()          { panic("not supported: throughput only") }
func (c *counter) Up()            { panic("not supported: throughput only") }

type kafkaPeer struct {
	counter
	addr string
}

func newKafkaPeer(b *testing.B) *kafkaPeer {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "falco"))
	if err != nil {
		b.Fatal(err)
	}
	p := &kafkaPeer{addr: cl.ListenAddrs()[0]}
	c, err := kgo.NewClient(kgo.SeedBrokers(p.addr), kgo.ConsumeTopics("falco"))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			c.PollFetches(ctx).EachRecord(func(*kgo.Record) { p.n.Add(1) })
		}
	}()
	b.Cleanup(func() { cancel(); <-done; c.Close(); cl.Close() })
	return p
}

type natsPeer struct {
	counter
	url string
}

func newNATSPeer(b *testing.B) *natsPeer {
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		b.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		b.Fatal("nats-server not ready")
	}
	p := &natsPeer{url: s.ClientURL()}
	nc, err := gonats.Connect(p.url)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := nc.Subscribe("falco.>", func(*gonats.Msg) { p.n.Add(1) }); err != nil {
		b.Fatal(err)
	}
	_ = nc.Flush()
	b.Cleanup(func() { nc.Close(); s.Shutdown() })
	return p
}

type syslogPeer struct {
	counter
	addr string
}

func newSyslogPeer(b *testing.B) *syslogPeer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := &syslogPeer{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				sc.Buffer(make([]byte, 1<<20), 1<<20)
				for sc.Scan() {
					p.n.Add(1)
				}
			}()
		}
	}()
	b.Cleanup(func() { ln.Close() })
	return p
}
