// Package awspeer checks requests the way the AWS services the outputs
// call do (protocol, X-Amz-Target, a SigV4 Authorization for the right
// service and region, the documented body fields) and builds their
// documented answers, for the loopback peers of the SQS, SNS and
// CloudWatch Logs tests and benchmarks. S3 is tested against gofakes3, a
// real S3-compatible server, instead.
package awspeer

import (
	"crypto/md5" // #nosec G501 -- SQS's documented body digest, not a security check
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/settings"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
)

// Test credentials: what the outputs under test are configured with.
const (
	AccessKeyID     = "AKIDSAKERTEST"
	SecretAccessKey = "saker-test-secret"
)

var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([^,]+), Signature=[0-9a-f]{64}$`)

// CheckSigV4 checks that a request is signed with SigV4 by AccessKeyID for
// service in region, and that the signed headers cover host and the
// X-Amz-Date the request carries. (The signature itself is the SDK's
// business; the peer checks its shape and scope.)
func CheckSigV4(r *http.Request, service, region string) error {
	return CheckSigV4Key(r, AccessKeyID, service, region)
}

// CheckSigV4Key is CheckSigV4 for another access key (an assumed role's).
func CheckSigV4Key(r *http.Request, key, service, region string) error {
	m := sigV4.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return fmt.Errorf("no SigV4 Authorization header: %q", r.Header.Get("Authorization"))
	}
	if m[1] != key || m[3] != region || m[4] != service {
		return fmt.Errorf("SigV4 scope %s/%s/%s, want %s/%s/%s", m[1], m[3], m[4], key, region, service)
	}
	signed := strings.Split(m[5], ";")
	if !contains(signed, "host") || !contains(signed, "x-amz-date") {
		return fmt.Errorf("SigV4 signed headers %q lack host or x-amz-date", m[5])
	}
	if d := r.Header.Get("X-Amz-Date"); !strings.HasPrefix(d, m[2]) {
		return fmt.Errorf("X-Amz-Date %q does not match the credential date %s", d, m[2])
	}
	return nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// checkJSON checks an AWS JSON protocol request (version 1.0 or 1.1).
func checkJSON(r *http.Request, version, target, service, region string) error {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return fmt.Errorf("%s %s, want POST /", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-"+version {
		return fmt.Errorf("Content-Type %q, want application/x-amz-json-%s", ct, version)
	}
	if t := r.Header.Get("X-Amz-Target"); t != target {
		return fmt.Errorf("X-Amz-Target %q, want %q", t, target)
	}
	return CheckSigV4(r, service, region)
}

// SQSEntry is one message of a SendMessageBatch request.
type SQSEntry struct {
	ID                     string `json:"Id"`
	MessageBody            string
	MessageGroupID         string `json:"MessageGroupId,omitempty"`
	MessageDeduplicationID string `json:"MessageDeduplicationId,omitempty"`
}

// SQSBatch is a SendMessageBatch request.
type SQSBatch struct {
	QueueURL string `json:"QueueUrl"`
	Entries  []SQSEntry
}

// ParseSQSBatch checks an SQS SendMessageBatch request (AWS JSON 1.0,
// X-Amz-Target AmazonSQS.SendMessageBatch, SigV4 for sqs in region,
// 1–10 entries with unique ids and non-empty bodies) and decodes it.
func ParseSQSBatch(r *http.Request, body []byte, region string) (SQSBatch, error) {
	var b SQSBatch
	if err := checkJSON(r, "1.0", "AmazonSQS.SendMessageBatch", "sqs", region); err != nil {
		return b, err
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return b, fmt.Errorf("SendMessageBatch body: %w", err)
	}
	if b.QueueURL == "" || len(b.Entries) == 0 || len(b.Entries) > 10 {
		return b, fmt.Errorf("SendMessageBatch with QueueUrl %q and %d entries", b.QueueURL, len(b.Entries))
	}
	seen := map[string]bool{}
	for _, e := range b.Entries {
		if e.ID == "" || seen[e.ID] || e.MessageBody == "" {
			return b, fmt.Errorf("SendMessageBatch entry %+v: empty or repeated id, or empty body", e)
		}
		seen[e.ID] = true
	}
	return b, nil
}

// Failure is how a peer refuses one entry of a batch.
type Failure struct {
	Code        string
	SenderFault bool
}

// SQSReply is SQS's SendMessageBatch answer: every entry accepted (with
// the MD5 of its body, which the SDK verifies) except those in failed.
func SQSReply(b SQSBatch, failed map[string]Failure) []byte {
	type ok struct {
		ID               string `json:"Id"`
		MessageID        string `json:"MessageId"`
		MD5OfMessageBody string
	}
	type bad struct {
		ID          string `json:"Id"`
		Code        string
		Message     string
		SenderFault bool
	}
	resp := struct {
		Successful []ok  `json:"Successful"`
		Failed     []bad `json:"Failed"`
	}{Successful: []ok{}, Failed: []bad{}}
	for i, e := range b.Entries {
		if f, refused := failed[e.ID]; refused {
			resp.Failed = append(resp.Failed, bad{ID: e.ID, Code: f.Code, Message: "refused by the test peer", SenderFault: f.SenderFault})
			continue
		}
		sum := md5.Sum([]byte(e.MessageBody)) // #nosec G401
		resp.Successful = append(resp.Successful, ok{ID: e.ID, MessageID: "m-" + strconv.Itoa(i), MD5OfMessageBody: hex.EncodeToString(sum[:])})
	}
	out, _ := json.Marshal(resp)
	return out
}

// JSONError is an AWS JSON protocol error answer body.
func JSONError(code, msg string) []byte {
	out, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	return out
}

// SNSEntry is one message of a PublishBatch request.
type SNSEntry struct {
	ID         string
	Message    string
	Attributes map[string]SNSAttribute
}

// SNSAttribute is a message attribute.
type SNSAttribute struct {
	DataType, StringValue string
}

// SNSBatch is a PublishBatch request.
type SNSBatch struct {
	TopicArn string
	Entries  []SNSEntry
}

// ParseSNSBatch checks an SNS PublishBatch request (AWS query protocol:
// a form POST to / with Action=PublishBatch and Version=2010-03-31, SigV4
// for sns in region, 1–10 entries with unique ids, a Message each, and
// well-formed attributes) and decodes it.
func ParseSNSBatch(r *http.Request, body []byte, region string) (SNSBatch, error) {
	var b SNSBatch
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return b, fmt.Errorf("%s %s, want POST /", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return b, fmt.Errorf("Content-Type %q, want a form", ct)
	}
	if err := CheckSigV4(r, "sns", region); err != nil {
		return b, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return b, fmt.Errorf("PublishBatch form: %w", err)
	}
	if form.Get("Action") != "PublishBatch" || form.Get("Version") != "2010-03-31" {
		return b, fmt.Errorf("Action %q Version %q, want PublishBatch 2010-03-31", form.Get("Action"), form.Get("Version"))
	}
	b.TopicArn = form.Get("TopicArn")
	const entry = "PublishBatchRequestEntries.member."
	seen := map[string]bool{}
	for n := 1; form.Has(entry + strconv.Itoa(n) + ".Id"); n++ {
		p := entry + strconv.Itoa(n) + "."
		e := SNSEntry{ID: form.Get(p + "Id"), Message: form.Get(p + "Message"), Attributes: map[string]SNSAttribute{}}
		if e.ID == "" || seen[e.ID] || e.Message == "" {
			return b, fmt.Errorf("PublishBatch entry %d: empty or repeated id, or empty message", n)
		}
		seen[e.ID] = true
		for m := 1; form.Has(p + "MessageAttributes.entry." + strconv.Itoa(m) + ".Name"); m++ {
			a := p + "MessageAttributes.entry." + strconv.Itoa(m) + "."
			name, typ, val := form.Get(a+"Name"), form.Get(a+"Value.DataType"), form.Get(a+"Value.StringValue")
			if !validAttrName(name) || (typ != "String" && typ != "Number") || val == "" {
				return b, fmt.Errorf("entry %d attribute %q: type %q value %q is not a valid String or Number attribute", n, name, typ, val)
			}
			if typ == "Number" {
				if _, err := strconv.ParseFloat(val, 64); err != nil {
					return b, fmt.Errorf("entry %d attribute %q: %q is not a number", n, name, val)
				}
			}
			e.Attributes[name] = SNSAttribute{DataType: typ, StringValue: val}
		}
		b.Entries = append(b.Entries, e)
	}
	if b.TopicArn == "" || len(b.Entries) == 0 || len(b.Entries) > 10 {
		return b, fmt.Errorf("PublishBatch with TopicArn %q and %d entries", b.TopicArn, len(b.Entries))
	}
	return b, nil
}

// validAttrName follows SNS's rules for message attribute names: up to
// 256 of A-Z a-z 0-9 _ - ., no leading, trailing or double period, no
// AWS. or Amazon. prefix.
func validAttrName(n string) bool {
	if n == "" || len(n) > 256 || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".") || strings.Contains(n, "..") {
		return false
	}
	l := strings.ToLower(n)
	if strings.HasPrefix(l, "aws.") || strings.HasPrefix(l, "amazon.") {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// SNSReply is SNS's PublishBatch answer (XML): every entry published
// except those in failed.
func SNSReply(b SNSBatch, failed map[string]Failure) []byte {
	type member struct {
		ID          string `xml:"Id"`
		MessageID   string `xml:"MessageId,omitempty"`
		Code        string `xml:"Code,omitempty"`
		Message     string `xml:"Message,omitempty"`
		SenderFault *bool  `xml:"SenderFault,omitempty"`
	}
	type result struct {
		Successful []member `xml:"Successful>member"`
		Failed     []member `xml:"Failed>member"`
	}
	var res result
	for i, e := range b.Entries {
		if f, refused := failed[e.ID]; refused {
			sf := f.SenderFault
			res.Failed = append(res.Failed, member{ID: e.ID, Code: f.Code, Message: "refused by the test peer", SenderFault: &sf})
			continue
		}
		res.Successful = append(res.Successful, member{ID: e.ID, MessageID: "m-" + strconv.Itoa(i)})
	}
	out, _ := xml.Marshal(struct {
		XMLName  xml.Name `xml:"PublishBatchResponse"`
		NS       string   `xml:"xmlns,attr"`
		Result   result   `xml:"PublishBatchResult"`
		Metadata struct {
			RequestID string `xml:"RequestId"`
		} `xml:"ResponseMetadata"`
	}{NS: "http://sns.amazonaws.com/doc/2010-03-31/", Result: res})
	return out
}

// QueryError is an AWS query protocol error answer body.
func QueryError(code, msg string, sender bool) []byte {
	typ := "Receiver"
	if sender {
		typ = "Sender"
	}
	return []byte(`<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>` + typ + `</Type><Code>` + code +
		`</Code><Message>` + msg + `</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`)
}

// LogEvent is one event of a PutLogEvents request.
type LogEvent struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// PutLogEvents is a CloudWatch Logs PutLogEvents request.
type PutLogEvents struct {
	LogGroupName  string     `json:"logGroupName"`
	LogStreamName string     `json:"logStreamName"`
	LogEvents     []LogEvent `json:"logEvents"`
	SequenceToken string     `json:"sequenceToken,omitempty"`
}

// CreateLogStream is a CloudWatch Logs CreateLogStream request.
type CreateLogStream struct {
	LogGroupName  string `json:"logGroupName"`
	LogStreamName string `json:"logStreamName"`
}

// LogsTarget returns the CloudWatch Logs operation a request calls
// ("PutLogEvents", "CreateLogStream"), after checking the AWS JSON 1.1
// protocol and a SigV4 signature for logs in region.
func LogsTarget(r *http.Request, region string) (string, error) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "Logs_20140328.")
	return op, checkJSON(r, "1.1", "Logs_20140328."+op, "logs", region)
}

// ParsePutLogEvents decodes and checks a PutLogEvents body as CloudWatch
// Logs does: 1–10,000 events, in chronological order, spanning at most
// 24 hours, at most 1,048,576 bytes counting 26 bytes per event.
func ParsePutLogEvents(body []byte) (PutLogEvents, error) {
	var p PutLogEvents
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("PutLogEvents body: %w", err)
	}
	if p.LogGroupName == "" || p.LogStreamName == "" || len(p.LogEvents) == 0 || len(p.LogEvents) > 10000 {
		return p, fmt.Errorf("PutLogEvents to %q/%q with %d events", p.LogGroupName, p.LogStreamName, len(p.LogEvents))
	}
	if !sort.SliceIsSorted(p.LogEvents, func(i, j int) bool { return p.LogEvents[i].Timestamp < p.LogEvents[j].Timestamp }) {
		return p, fmt.Errorf("InvalidParameterException: log events not in chronological order")
	}
	if span := p.LogEvents[len(p.LogEvents)-1].Timestamp - p.LogEvents[0].Timestamp; span > 24*3600*1000 {
		return p, fmt.Errorf("InvalidParameterException: batch spans %d ms, more than 24 hours", span)
	}
	size := 0
	for _, e := range p.LogEvents {
		if e.Message == "" {
			return p, fmt.Errorf("InvalidParameterException: empty message")
		}
		size += len(e.Message) + 26
	}
	if size > 1048576 {
		return p, fmt.Errorf("InvalidParameterException: batch of %d bytes", size)
	}
	return p, nil
}

// Env adds the test credentials to an output's test environment (with
// AWS_CHECKIDENTITY off: no STS call) and returns it.
func Env(env map[string]string) map[string]string {
	env["AWS_ACCESSKEYID"], env["AWS_SECRETACCESSKEY"], env["AWS_CHECKIDENTITY"] = AccessKeyID, SecretAccessKey, "false"
	return env
}

// Build loads an AWS output from env (plus the test credentials) and
// builds it, failing the test on a settings error.
func Build[C any, F any](t testing.TB, env map[string]string,
	load func(*settings.Source) (C, bool), build func(C, outhttp.Options, *slog.Logger) (F, error),
) F {
	t.Helper()
	src := testpeer.Env(Env(env))
	cfg, ok := load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := build(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
