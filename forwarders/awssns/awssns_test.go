package awssns_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/saker-sec/saker/forwarders/awssns"
	"github.com/saker-sec/saker/forwarders/internal/awspeer"
	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

// topic is a loopback SNS endpoint checking each PublishBatch as SNS
// does (query protocol, SigV4 scope, attribute rules) and answering as
// SNS documents.
type topic struct {
	*httptest.Server
	region string
	mu     sync.Mutex
	got    []awspeer.SNSBatch
	fail   map[string]awspeer.Failure
	status int
	code   string
}

func newTopic(t *testing.T, region string) *topic {
	p := &topic{region: region}
	p.Server = httptest.NewServer(p)
	t.Cleanup(p.Close)
	return p
}

func (p *topic) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "text/xml")
	b, err := awspeer.ParseSNSBatch(r, body, p.region)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(awspeer.QueryError("InvalidParameter", err.Error(), true))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status != 0 {
		w.WriteHeader(p.status)
		_, _ = w.Write(awspeer.QueryError(p.code, "test peer", p.status < 500))
		return
	}
	p.got = append(p.got, b)
	_, _ = w.Write(awspeer.SNSReply(b, p.fail))
}

func (p *topic) batches() []awspeer.SNSBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]awspeer.SNSBatch(nil), p.got...)
}

const arn = "arn:aws:sns:eu-central-1:123456789012:falco"

func forwarder(t *testing.T, p *topic, env map[string]string) *awssns.Forwarder {
	t.Helper()
	env["AWS_SNS_ENDPOINT"] = p.URL
	if env["AWS_SNS_TOPICARN"] == "" {
		env["AWS_SNS_TOPICARN"] = arn
	}
	return awspeer.Build(t, env, awssns.Load, awssns.New)
}

func TestPublishAttributes(t *testing.T) {
	p := newTopic(t, "eu-central-1") // no AWS_REGION: the ARN's region signs
	f := forwarder(t, p, map[string]string{})
	a := testpeer.Sample()
	a.OutputFields["k8s.pod.label[app.kubernetes.io/name]"] = "api"
	a.OutputFields["proc.aname[2]"] = "containerd"
	a.OutputFields["fd.name"] = "" // SNS refuses empty attribute values
	a.OutputFields["evt.is_open_read"] = true
	in := []alert.Alert{a, a, a, a, a, a, a, a, a, a, a}
	if retry, err := f.Forward(context.Background(), in); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	got := p.batches()
	if len(got) != 2 || len(got[0].Entries) != 10 || len(got[1].Entries) != 1 || got[0].TopicArn != arn {
		t.Fatalf("batches %+v; want 10 then 1 message to %s", got, arn)
	}
	e := got[1].Entries[0]
	want := map[string]awspeer.SNSAttribute{
		"priority":                             {DataType: "String", StringValue: "Warning"},
		"rule":                                 {DataType: "String", StringValue: a.Rule},
		"source":                               {DataType: "String", StringValue: "syscalls"},
		"tags":                                 {DataType: "String", StringValue: "shell,container,T1059"},
		"hostname":                             {DataType: "String", StringValue: "node-1"},
		"proc.name":                            {DataType: "String", StringValue: "bash"},
		"evt.time":                             {DataType: "Number", StringValue: "1763888400123456789"},
		"k8s.ns.name":                          {DataType: "String", StringValue: "prod"},
		"k8s.pod.name":                         {DataType: "String", StringValue: "api-1"},
		"k8s.pod.label.app.kubernetes.io_name": {DataType: "String", StringValue: "api"},
		"proc.aname.2":                         {DataType: "String", StringValue: "containerd"},
	}
	if e.Message != a.Output || !reflect.DeepEqual(e.Attributes, want) {
		t.Fatalf("message %q attributes\n%v\nwant %q\n%v", e.Message, e.Attributes, a.Output, want)
	}
}

func TestRawJSON(t *testing.T) {
	p := newTopic(t, "us-west-2")
	f := forwarder(t, p, map[string]string{"AWS_SNS_RAWJSON": "true", "AWS_REGION": "us-west-2"})
	a := testpeer.Sample()
	if _, err := f.Forward(context.Background(), []alert.Alert{a}); err != nil {
		t.Fatal(err)
	}
	e := p.batches()[0].Entries[0]
	want, _ := json.Marshal(&a)
	if e.Message != string(want) || len(e.Attributes) != 0 {
		t.Fatalf("raw message %q attributes %v; want the Falco payload %s alone", e.Message, e.Attributes, want)
	}
}

func TestRefusedEntriesArePartialFailures(t *testing.T) {
	p := newTopic(t, "eu-central-1")
	p.fail = map[string]awspeer.Failure{"0": {Code: "InvalidParameter", SenderFault: true}, "2": {Code: "InternalError"}}
	f := forwarder(t, p, map[string]string{})
	retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample(), testpeer.Sample(), testpeer.Sample()})
	var pe *batch.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 2 || !retry || pe.Failures[0].Retry || !pe.Failures[1].Retry {
		t.Fatalf("Forward = %v, %v; want #0 final, #2 retried", retry, err)
	}
}

func TestAnswerClassification(t *testing.T) {
	for _, tt := range []struct {
		status    int
		code      string
		wantRetry bool
	}{
		{http.StatusInternalServerError, "InternalError", true},
		{http.StatusBadRequest, "Throttling", true},
		{http.StatusForbidden, "AuthorizationError", false},
		{http.StatusNotFound, "NotFound", false},
	} {
		p := newTopic(t, "eu-central-1")
		p.status, p.code = tt.status, tt.code
		f := forwarder(t, p, map[string]string{})
		retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
		if err == nil || retry != tt.wantRetry || !strings.Contains(err.Error(), tt.code) {
			t.Errorf("%d %s: Forward = %v, %v; want an error naming it, retry %v", tt.status, tt.code, retry, err, tt.wantRetry)
		}
	}
}

func TestDownIsRetryable(t *testing.T) {
	p := newTopic(t, "eu-central-1")
	f := forwarder(t, p, map[string]string{})
	p.Close()
	if retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()}); err == nil || !retry {
		t.Fatalf("Forward = %v, %v; want a retryable error", retry, err)
	}
}

func TestLoad(t *testing.T) {
	src := testpeer.Env(map[string]string{"AWS_SNS_TOPICARN": "falco"})
	if _, ok := awssns.Load(src); !ok || src.Err() == nil {
		t.Fatal("a topic name instead of an ARN must stop start-up")
	}
	src = testpeer.Env(map[string]string{"AWS_SNS_TOPICARN": arn, "AWS_SNS_MINIMUMPRIORITY": "critical"})
	cfg, ok := awssns.Load(src)
	if !ok || src.Err() != nil || cfg.RawJSON || cfg.MinimumPriority != alert.PriorityCritical {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
}
