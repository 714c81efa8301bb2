package awssqs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/awssqs"
	"github.com/saker-sec/saker/forwarders/internal/awspeer"
	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
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
	// okCalls, when set, is how many calls succeed before status applies.
	okCalls int
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
	if q.status != 0 && len(q.got) >= q.okCalls {
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

// logged is a slog handler passing each record's message and attributes
// to a channel, so a test can wait for a log line.
type logged chan string

func (l logged) Enabled(context.Context, slog.Level) bool { return true }
func (l logged) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	l <- line
	return nil
}
func (l logged) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logged) WithGroup(string) slog.Handler      { return l }

// TestAssumeRoleAndIdentityCheck: with AWS_ROLEARN and AWS_EXTERNALID the
// messages are signed with the role's temporary credentials from STS
// AssumeRole (asked at the output's endpoint, signed with the configured
// keys), and AWS_CHECKIDENTITY logs who they are.
func TestAssumeRoleAndIdentityCheck(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/falco"
	var (
		mu      sync.Mutex
		assumed int
		sqsErr  error
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			form, _ := url.ParseQuery(string(body))
			// AssumeRole is signed with the configured keys, the rest with the role's.
			key := "ASIAROLE"
			if form.Get("Action") == "AssumeRole" {
				key = awspeer.AccessKeyID
			}
			if err := awspeer.CheckSigV4Key(r, key, "sts", "us-east-1"); err != nil {
				http.Error(w, err.Error(), http.StatusForbidden)
				return
			}
			switch form.Get("Action") {
			case "AssumeRole":
				if form.Get("RoleArn") != role || form.Get("ExternalId") != "ext-42" || form.Get("RoleSessionName") != "saker" {
					http.Error(w, "bad AssumeRole "+form.Encode(), http.StatusBadRequest)
					return
				}
				assumed++
				fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>`+
					`<AccessKeyId>ASIAROLE</AccessKeyId><SecretAccessKey>role-secret</SecretAccessKey><SessionToken>role-token</SessionToken>`+
					`<Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROA:saker</AssumedRoleId></AssumedRoleUser>`+
					`</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`,
					time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "arn:aws:sts::123456789012:assumed-role/falco/saker")
			case "GetCallerIdentity":
				_, _ = io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
					`<Arn>arn:aws:sts::123456789012:assumed-role/falco/saker</Arn><UserId>AROA:saker</UserId><Account>123456789012</Account>`+
					`</GetCallerIdentityResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
			default:
				http.Error(w, "unexpected STS action "+form.Get("Action"), http.StatusBadRequest)
			}
			return
		}
		if err := awspeer.CheckSigV4Key(r, "ASIAROLE", "sqs", "us-east-1"); err != nil || r.Header.Get("X-Amz-Security-Token") != "role-token" {
			sqsErr = fmt.Errorf("SQS request not signed by the assumed role: %v, token %q", err, r.Header.Get("X-Amz-Security-Token"))
			http.Error(w, sqsErr.Error(), http.StatusForbidden)
			return
		}
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "ASIAROLE", awspeer.AccessKeyID, 1))
		b, err := awspeer.ParseSQSBatch(r, body, "us-east-1")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = w.Write(awspeer.SQSReply(b, nil))
	}))
	defer srv.Close()
	env := awspeer.Env(map[string]string{"AWS_SQS_URL": srv.URL + "/123456789012/falco", "AWS_ROLEARN": role, "AWS_EXTERNALID": "ext-42"})
	env["AWS_CHECKIDENTITY"] = "true"
	src := testpeer.Env(env)
	cfg, _ := awssqs.Load(src)
	logs := make(logged, 16)
	f, err := awssqs.New(cfg, outhttp.Options{}, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := f.Forward(context.Background(), alerts(2)); err != nil {
		t.Fatalf("Forward = %v, %v (peer: %v)", retry, err, sqsErr)
	}
	for line := range logs {
		if strings.Contains(line, "AWS credentials") {
			if !strings.Contains(line, "arn:aws:sts::123456789012:assumed-role/falco/saker") {
				t.Fatalf("identity check logged %q; want the assumed role", line)
			}
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if assumed != 1 {
		t.Fatalf("AssumeRole called %d times, want once (credentials cached)", assumed)
	}
}

func TestFailedCallFailsItsRunAndSkipsTheRest(t *testing.T) {
	q := newQueue(t, "us-east-1", false)
	q.status, q.code, q.okCalls = http.StatusServiceUnavailable, "ServiceUnavailable", 1
	f := forwarder(t, map[string]string{"AWS_SQS_URL": q.URL + "/1/falco"})
	retry, err := f.Forward(context.Background(), alerts(25)) // calls of 10, 10, 5
	var pe *batch.PartialError
	if !errors.As(err, &pe) || !retry || len(pe.Failures) != 15 || len(q.batches()) != 1 {
		t.Fatalf("Forward = %v, %v after %d calls; want the first 10 delivered, 15 retryable failures", retry, err, len(q.batches()))
	}
	for i, fl := range pe.Failures {
		if fl.Index != 10+i || !fl.Retry || fl.Skipped != (i >= 10) {
			t.Fatalf("failure %d = %+v; want #10–19 failed, #20–24 skipped (not attempted)", i, fl)
		}
	}
}
