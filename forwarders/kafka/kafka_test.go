package kafka_test

import (
	"context"
	"encoding/json"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/internal/testpki"
	"github.com/saker-sec/saker/forwarders/kafka"
	"github.com/saker-sec/saker/hub/alert"
)

// consume reads n records of topic from the cluster.
func consume(t *testing.T, addrs []string, topic string, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	c, err := kgo.NewClient(append(opts, kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fs := c.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	return got
}

func TestProduceToKfake(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "falco"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	src := testpeer.Env(map[string]string{"KAFKA_HOSTPORT": cluster.ListenAddrs()[0], "KAFKA_TOPIC": "falco",
		"KAFKA_COMPRESSION": "GZIP", "KAFKA_CLIENTID": "saker-test", "KAFKA_ASYNC": "true"})
	cfg, ok := kafka.Load(src)
	if !ok || src.Err() != nil || cfg.RequiredACKs != "ALL" || cfg.Balancer != "round_robin" || len(src.Warnings()) != 1 {
		t.Fatalf("Load = %+v, %v, %v, warnings %v", cfg, ok, src.Err(), src.Warnings())
	}
	f, err := kafka.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var alerts []alert.Alert
	for _, r := range []string{"r1", "r2", "r3", "r4"} {
		a := testpeer.Sample()
		a.Rule = r
		alerts = append(alerts, a)
	}
	if retry, err := f.Forward(context.Background(), alerts); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	recs := consume(t, cluster.ListenAddrs(), "falco", 4)
	var rules []string
	parts := map[int32]bool{}
	for _, r := range recs {
		var a alert.Alert
		if err := json.Unmarshal(r.Value, &a); err != nil || r.Key != nil {
			t.Fatalf("record %q key %q: %v", r.Value, r.Key, err)
		}
		rules = append(rules, a.Rule)
		parts[r.Partition] = true
	}
	sort.Strings(rules)
	if len(rules) != 4 || rules[0] != "r1" || rules[3] != "r4" || len(parts) < 2 {
		t.Fatalf("rules %v over partitions %v; want all four, round-robin", rules, parts)
	}
	want, _ := json.Marshal(&alerts[0])
	for _, r := range recs {
		if string(r.Value) == string(want) {
			return
		}
	}
	t.Fatalf("no record equals the Falco payload %s", want)
}

func TestSASL(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "falco"), kfake.EnableSASL(), kfake.Superuser("PLAIN", "saker", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	for _, tt := range []struct {
		pass    string
		wantErr bool
	}{{"s3cret", false}, {"wrong", true}} {
		f, err := kafka.New(kafka.Config{HostPort: cluster.ListenAddrs(), Topic: "falco", SASL: "PLAIN", Username: "saker", Password: tt.pass}, outhttp.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		retry, err := f.Forward(ctx, []alert.Alert{testpeer.Sample()})
		cancel()
		f.Close()
		// A refused login is retried (franz-go retries authentication, and
		// the dispatcher dead-letters after FORWARDING_MAXATTEMPTS).
		if (err != nil) != tt.wantErr {
			t.Errorf("password %q: Forward = %v, %v; want error %v", tt.pass, retry, err, tt.wantErr)
		}
	}
}

func TestBrokerDownIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f, err := kafka.New(kafka.Config{HostPort: []string{addr}, Topic: "falco"}, outhttp.Options{}, nil)
	if err != nil {
		t.Fatalf("New must not dial: %v", err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	retry, err := f.Forward(ctx, []alert.Alert{testpeer.Sample(), testpeer.Sample()})
	if err == nil || !retry {
		t.Fatalf("Forward = %v, %v; want a retryable error", retry, err)
	}
}

// TestMutualTLS produces to a kfake broker that requires a client
// certificate: KAFKA_MUTUALTLS alone turns TLS on (before, it needed
// KAFKA_TLS too and the client spoke plaintext to a TLS broker) and
// presents the certificate from MUTUALTLSFILESPATH; without it the broker
// refuses the connection and the alert is not reported delivered.
func TestMutualTLS(t *testing.T) {
	pki := testpki.New(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "falco"), kfake.TLS(pki.ServerTLS(true)))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	opts := outhttp.Options{TLS: settings.TLS{MutualTLSFilesPath: pki.Dir}}
	for _, mutual := range []bool{true, false} {
		vars := map[string]string{"KAFKA_HOSTPORT": cluster.ListenAddrs()[0], "KAFKA_TOPIC": "falco"}
		if mutual {
			vars["KAFKA_MUTUALTLS"] = "true"
		} else {
			vars["KAFKA_TLS"] = "true"
			opts.TLS.CACertFile = pki.Dir + "/ca.crt"
		}
		src := testpeer.Env(vars)
		cfg, _ := kafka.Load(src)
		f, err := kafka.New(cfg, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The refused handshake is retried by the client until the
		// dispatcher's deadline: a short one suffices here.
		timeout := 10 * time.Second
		if !mutual {
			timeout = 2 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		_, err = f.Forward(ctx, []alert.Alert{testpeer.Sample()})
		cancel()
		f.Close()
		if mutual && err != nil {
			t.Fatalf("KAFKA_MUTUALTLS=true: %v", err)
		}
		if !mutual && err == nil {
			t.Fatal("a broker requiring a client certificate took an alert from a client without one")
		}
	}
}
