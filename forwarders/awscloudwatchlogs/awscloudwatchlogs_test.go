package awscloudwatchlogs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/saker-sec/saker/forwarders/awscloudwatchlogs"
	"github.com/saker-sec/saker/forwarders/internal/awspeer"
	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/hub/alert"
)

// logs is a loopback CloudWatch Logs endpoint: groups hold streams of
// events; it checks each call as CloudWatch does (JSON 1.1, target,
// SigV4 scope, event order, span and size) and answers its documented
// errors and rejections (events older than 14 days).
type logs struct {
	*httptest.Server
	mu      sync.Mutex
	streams map[string][]awspeer.LogEvent // "group/stream" → events
	groups  map[string]bool
	calls   []string
	status  int
	code    string
}

func newLogs(t *testing.T, group string) *logs {
	l := &logs{streams: map[string][]awspeer.LogEvent{}, groups: map[string]bool{group: true}}
	l.Server = httptest.NewServer(l)
	t.Cleanup(l.Close)
	return l
}

func (l *logs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(status int, code, msg string) {
		w.WriteHeader(status)
		_, _ = w.Write(awspeer.JSONError(code, msg))
	}
	op, err := awspeer.LogsTarget(r, "ap-northeast-1")
	if err != nil {
		fail(http.StatusBadRequest, "InvalidParameterException", err.Error())
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, op)
	if l.status != 0 {
		fail(l.status, l.code, "test peer")
		return
	}
	switch op {
	case "CreateLogStream":
		var c awspeer.CreateLogStream
		if err := testpeer.Strict(body, &c); err != nil || !l.groups[c.LogGroupName] {
			fail(http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
			return
		}
		if _, ok := l.streams[c.LogGroupName+"/"+c.LogStreamName]; ok {
			fail(http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log stream already exists")
			return
		}
		l.streams[c.LogGroupName+"/"+c.LogStreamName] = []awspeer.LogEvent{}
		_, _ = w.Write([]byte("{}"))
	case "PutLogEvents":
		p, err := awspeer.ParsePutLogEvents(body)
		if err != nil {
			fail(http.StatusBadRequest, "InvalidParameterException", err.Error())
			return
		}
		key := p.LogGroupName + "/" + p.LogStreamName
		if _, ok := l.streams[key]; !ok {
			fail(http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
			return
		}
		tooOld := 0
		for tooOld < len(p.LogEvents) && p.LogEvents[tooOld].Timestamp < time.Now().Add(-14*24*time.Hour).UnixMilli() {
			tooOld++
		}
		l.streams[key] = append(l.streams[key], p.LogEvents[tooOld:]...)
		if tooOld > 0 {
			_, _ = w.Write([]byte(`{"rejectedLogEventsInfo":{"tooOldLogEventEndIndex":` + strconv.Itoa(tooOld) + `}}`))
			return
		}
		_, _ = w.Write([]byte("{}"))
	default:
		fail(http.StatusBadRequest, "UnknownOperationException", op)
	}
}

func (l *logs) events(key string) []awspeer.LogEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]awspeer.LogEvent(nil), l.streams[key]...)
}

func forwarder(t *testing.T, l *logs, env map[string]string) *awscloudwatchlogs.Forwarder {
	t.Helper()
	env["AWS_REGION"], env["AWS_CLOUDWATCHLOGS_ENDPOINT"] = "ap-northeast-1", l.URL
	return awspeer.Build(t, env, awscloudwatchlogs.Load, awscloudwatchlogs.New)
}

// at returns alerts stamped at the given offsets from now.
func at(offsets ...time.Duration) []alert.Alert {
	out := make([]alert.Alert, len(offsets))
	for i, d := range offsets {
		out[i] = testpeer.Sample()
		out[i].Rule = "r" + string(rune('0'+i))
		out[i].Time = time.Now().Add(d).UTC()
	}
	return out
}

func TestDefaultStreamCreatedAndEventsInTimeOrder(t *testing.T) {
	l := newLogs(t, "falco")
	f := forwarder(t, l, map[string]string{"AWS_CLOUDWATCHLOGS_LOGGROUP": "falco"})
	in := at(-time.Minute, -time.Hour, 0)
	if retry, err := f.Forward(context.Background(), in); err != nil {
		t.Fatalf("Forward = %v, %v", retry, err)
	}
	if _, err := f.Forward(context.Background(), at(0)); err != nil {
		t.Fatal(err)
	}
	got := l.events("falco/" + awscloudwatchlogs.DefaultStream)
	if len(got) != 4 {
		t.Fatalf("stream has %d events, want 4", len(got))
	}
	// CloudWatch needs time order; each event is the Falco payload at the alert's time.
	for i, want := range []int{1, 0, 2} {
		b, _ := json.Marshal(&in[want])
		if got[i].Message != string(b) || got[i].Timestamp != in[want].Time.UnixMilli() {
			t.Fatalf("event %d = %+v; want alert %d's payload at its time", i, got[i], want)
		}
	}
	if strings.Join(l.calls, ",") != "CreateLogStream,PutLogEvents,PutLogEvents" {
		t.Fatalf("calls %v; want the stream created once", l.calls)
	}
}

func TestConfiguredStreamCreatedOnlyWhenMissing(t *testing.T) {
	l := newLogs(t, "falco")
	f := forwarder(t, l, map[string]string{"AWS_CLOUDWATCHLOGS_LOGGROUP": "falco", "AWS_CLOUDWATCHLOGS_LOGSTREAM": "node-1"})
	if _, err := f.Forward(context.Background(), at(0, 0)); err != nil {
		t.Fatal(err)
	}
	if got := l.events("falco/node-1"); len(got) != 2 || strings.Join(l.calls, ",") != "PutLogEvents,CreateLogStream,PutLogEvents" {
		t.Fatalf("calls %v, %d events; want a write, the missing stream created, the write again", l.calls, len(got))
	}
}

func TestSpanOver24HoursIsSplit(t *testing.T) {
	l := newLogs(t, "falco")
	f := forwarder(t, l, map[string]string{"AWS_CLOUDWATCHLOGS_LOGGROUP": "falco"})
	if _, err := f.Forward(context.Background(), at(-30*time.Hour, -time.Hour, -29*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.Join(l.calls, ","), "PutLogEvents"); n != 2 || len(l.events("falco/"+awscloudwatchlogs.DefaultStream)) != 3 {
		t.Fatalf("calls %v; want two PutLogEvents (CloudWatch refuses a batch spanning over 24 h)", l.calls)
	}
}

func TestRejectedOldEventsAreFinal(t *testing.T) {
	l := newLogs(t, "falco")
	f := forwarder(t, l, map[string]string{"AWS_CLOUDWATCHLOGS_LOGGROUP": "falco"})
	retry, err := f.Forward(context.Background(), at(0, -15*24*time.Hour, -time.Minute))
	var pe *batch.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 1 || pe.Failures[0].Index != 1 || pe.Failures[0].Retry || retry {
		t.Fatalf("Forward = %v, %v; want alert #1 (15 days old) failed for good, the others written", retry, err)
	}
	if n := len(l.events("falco/" + awscloudwatchlogs.DefaultStream)); n != 2 {
		t.Fatalf("%d events written, want 2", n)
	}
}

func TestAnswerClassification(t *testing.T) {
	for _, tt := range []struct {
		status    int
		code      string
		wantRetry bool
	}{
		{http.StatusInternalServerError, "ServiceUnavailableException", true},
		{http.StatusBadRequest, "ThrottlingException", true},
		{http.StatusBadRequest, "AccessDeniedException", false},
		{http.StatusBadRequest, "InvalidParameterException", false},
	} {
		l := newLogs(t, "falco")
		f := forwarder(t, l, map[string]string{"AWS_CLOUDWATCHLOGS_LOGGROUP": "falco", "AWS_CLOUDWATCHLOGS_LOGSTREAM": "s"})
		l.status, l.code = tt.status, tt.code
		retry, err := f.Forward(context.Background(), at(0, 0))
		var pe *batch.PartialError
		if !errors.As(err, &pe) || retry != tt.wantRetry || !strings.Contains(err.Error(), tt.code) {
			t.Errorf("%d %s: Forward = %v, %v; want an error naming it, retry %v", tt.status, tt.code, retry, err, tt.wantRetry)
		}
	}
}

func TestMissingGroupIsFinal(t *testing.T) {
	l := newLogs(t, "falco")
	f := forwarder(t, l, map[string]string{"AWS_CLOUDWATCHLOGS_LOGGROUP": "other"})
	if retry, err := f.Forward(context.Background(), at(0)); err == nil || retry || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Fatalf("Forward = %v, %v; want a final error naming the missing group", retry, err)
	}
}
