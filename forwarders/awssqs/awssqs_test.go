package awssqs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/saker-sec/saker/forwarders/awssqs"
	"github.com/saker-sec/saker/forwarders/internal/awspeer"
	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

// queue is a loopback SQS endpoint: it checks each SendMessageBatch as
// SQS does and answers as SQS documents, refusing the entries in fail or
// the whole call with status/code.
type queue struct {
	*httptest.Server
	region string
	mu     sync.Mutex
	got    []awspeer.SQSBatch
	fail   map[string]awspeer.Failure
	status int
	code   string
}

func newQueue(t *testing.T, region string, tls bool) *queue {
	q := &queue{region: region}
	if tls {
		q.Server = httptest.NewTLSServer(q)
	} else {
		q.Server = httptest.NewServer(q)
	}
	t.Cleanup(q.Close)
	return q
}

func (q *queue) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b, err := awspeer.ParseSQSBatch(r, body, q.region)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write(awspeer.JSONError("InvalidParameterValue", err.Error()))
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if q.status != 0 {
		w.WriteHeader(q.status)
		_, _ = w.Write(awspeer.JSONError(q.code, "test peer"))
		return
	}
	q.got = append(q.got, b)
	_, _ = w.Write(awspeer.SQSReply(b, q.fail))
}

func (q *queue) batches() []awspeer.SQSBatch {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]awspeer.SQSBatch(nil), q.got...)
}

func forwarder(t *testing.T, env map[string]string) *awssqs.Forwarder {
	t.Helper()
	return awspeer.Build(t, env, awssqs.Load, awssqs.New)
}

func alerts(n int) []alert.Alert {
	out := make([]alert.Alert, n)
	for i := range out {
		out[i] = testpeer.Sample()
		out[i].UUID = "uuid-" + string(rune('a'+i))
	}
	return out
}

func TestSendMessageBatch(t *testing.T) {
	q := newQueue(t, "eu-west-3", false)
	// The queue URL is on the peer, so it is also the endpoint.
	f := forwarder(t, map[string]string{"AWS_SQS_URL": q.URL + "/123456789012/falco", "AWS_REGION": "eu-west-3"})
	in := alerts(12)
	if retry, err := f.Forward(context.Background(), in); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	got := q.batches()
	if len(got) != 2 || len(got[0].Entries) != 10 || len(got[1].Entries) != 2 {
		t.Fatalf("batches %+v; want 10 then 2 messages", got)
	}
	want, _ := json.Marshal(&in[11])
	if got[1].QueueURL != q.URL+"/123456789012/falco" || got[1].Entries[1].MessageBody != string(want) {
		t.Fatalf("last message %+v to %q; want the Falco payload %s", got[1].Entries[1], got[1].QueueURL, want)
	}
	if got[0].Entries[0].MessageGroupID != "" {
		t.Fatal("a standard queue got a message group")
	}
}

func TestFIFOQueueDeduplicatesByUUID(t *testing.T) {
	q := newQueue(t, "us-east-1", false)
	f := forwarder(t, map[string]string{"AWS_SQS_URL": q.URL + "/123456789012/falco.fifo"})
	in := alerts(2)
	if _, err := f.Forward(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	e := q.batches()[0].Entries
	if e[0].MessageGroupID != "falco" || e[0].MessageDeduplicationID != in[0].UUID || e[1].MessageDeduplicationID != in[1].UUID {
		t.Fatalf("FIFO entries %+v; want group falco and the uuids as deduplication ids", e)
	}
}

func TestRefusedEntriesArePartialFailures(t *testing.T) {
	q := newQueue(t, "us-east-1", false)
	q.fail = map[string]awspeer.Failure{"1": {Code: "InvalidMessageContents", SenderFault: true}, "2": {Code: "InternalError"}}
	f := forwarder(t, map[string]string{"AWS_SQS_URL": q.URL + "/1/falco"})
	retry, err := f.Forward(context.Background(), alerts(4))
	var pe *batch.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 2 || !retry {
		t.Fatalf("Forward = %v, %v; want 2 failures, retryable", retry, err)
	}
	if f0, f1 := pe.Failures[0], pe.Failures[1]; f0.Index != 1 || f0.Retry || f1.Index != 2 || !f1.Retry {
		t.Fatalf("failures %+v; want #1 final (sender fault), #2 retried", pe.Failures)
	}
}

func TestAnswerClassification(t *testing.T) {
	for _, tt := range []struct {
		status    int
		code      string
		wantRetry bool
	}{
		{http.StatusInternalServerError, "InternalError", true},
		{http.StatusServiceUnavailable, "ServiceUnavailable", true},
		{http.StatusBadRequest, "RequestThrottled", true},
		{http.StatusBadRequest, "ThrottlingException", true},
		{http.StatusForbidden, "AccessDenied", false},
		{http.StatusBadRequest, "AWS.SimpleQueueService.NonExistentQueue", false},
	} {
		q := newQueue(t, "us-east-1", false)
		q.status, q.code = tt.status, tt.code
		f := forwarder(t, map[string]string{"AWS_SQS_URL": q.URL + "/1/falco"})
		retry, err := f.Forward(context.Background(), alerts(1))
		if err == nil || retry != tt.wantRetry || !strings.Contains(err.Error(), tt.code) {
			t.Errorf("%d %s: Forward = %v, %v; want an error naming it, retry %v", tt.status, tt.code, retry, err, tt.wantRetry)
		}
	}
}

func TestTLS(t *testing.T) {
	q := newQueue(t, "us-east-1", true)
	f := forwarder(t, map[string]string{"AWS_SQS_URL": q.URL + "/1/falco"})
	if retry, err := f.Forward(context.Background(), alerts(1)); err == nil || retry {
		t.Fatalf("self-signed peer with CHECKCERT=true: Forward = %v, %v; want a final certificate error", retry, err)
	}
	f = forwarder(t, map[string]string{"AWS_SQS_URL": q.URL + "/1/falco", "AWS_SQS_CHECKCERT": "false"})
	if _, err := f.Forward(context.Background(), alerts(1)); err != nil || len(q.batches()) != 1 {
		t.Fatalf("CHECKCERT=false: %v, %d batches", err, len(q.batches()))
	}
}

func TestDownIsRetryable(t *testing.T) {
	q := newQueue(t, "us-east-1", false)
	f := forwarder(t, map[string]string{"AWS_SQS_URL": q.URL + "/1/falco"})
	q.Close()
	if retry, err := f.Forward(context.Background(), alerts(3)); err == nil || !retry {
		t.Fatalf("Forward = %v, %v; want a retryable error", retry, err)
	}
}

func TestLoad(t *testing.T) {
	src := testpeer.Env(map[string]string{"AWS_SQS_URL": "https://sqs.ap-south-1.amazonaws.com/123456789012/falco", "AWS_SQS_MINIMUMPRIORITY": "error"})
	cfg, ok := awssqs.Load(src)
	if !ok || src.Err() != nil || cfg.Endpoint != "" || cfg.MinimumPriority != alert.PriorityError || !cfg.AWS.CheckIdentity {
		t.Fatalf("Load = %+v, %v, %v; want AWS's endpoint, minimum error", cfg, ok, src.Err())
	}
	src = testpeer.Env(map[string]string{"AWS_SQS_URL": "http://localstack:4566/000000000000/falco"})
	if cfg, _ := awssqs.Load(src); cfg.Endpoint != "http://localstack:4566" {
		t.Fatalf("LocalStack queue URL: endpoint %q", cfg.Endpoint)
	}
	src = testpeer.Env(map[string]string{"AWS_SQS_URL": "https://sqs.us-east-1.amazonaws.com/1/q", "AWS_SQS_ENDPOINT": "http://127.0.0.1:4566/"})
	if cfg, _ := awssqs.Load(src); cfg.Endpoint != "http://127.0.0.1:4566" {
		t.Fatalf("AWS_SQS_ENDPOINT: endpoint %q", cfg.Endpoint)
	}
	for _, bad := range []map[string]string{
		{"AWS_SQS_URL": "not a url"},
		{"AWS_SQS_URL": "https://sqs.us-east-1.amazonaws.com/1/q", "AWS_ACCESSKEYID": "AKID"},
	} {
		src := testpeer.Env(bad)
		if _, ok := awssqs.Load(src); !ok || src.Err() == nil {
			t.Errorf("%v: want a start-up error", bad)
		}
	}
	if _, ok := awssqs.Load(testpeer.Env(map[string]string{"AWS_REGION": "us-east-1"})); ok {
		t.Fatal("enabled without AWS_SQS_URL")
	}
}
