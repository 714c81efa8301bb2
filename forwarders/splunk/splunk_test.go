package splunk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/saker-sec/saker/forwarders/internal/batch"
	"github.com/saker-sec/saker/forwarders/internal/outhttp"
	"github.com/saker-sec/saker/forwarders/internal/testpeer"
	"github.com/saker-sec/saker/forwarders/splunk"
	"github.com/saker-sec/saker/hub/alert"
)

const hecPath = "/services/collector/event"

// hecEvent is the server side of HEC's JSON event endpoint.
type hecEvent struct {
	Time       *float64        `json:"time"`
	Event      json.RawMessage `json:"event"`
	SourceType string          `json:"sourcetype"`
}

// hec answers as Splunk's HTTP Event Collector does: 401 code 2 without a
// token, 403 code 4 for a wrong one, 400 code 6 with invalid-event-number
// for the first event it cannot read (a "bad" rule here, as a stand-in for
// an event Splunk refuses), 200 {"text":"Success","code":0} otherwise.
func hec(events *[][]hecEvent) func(testpeer.Request) (int, string) {
	return func(r testpeer.Request) (int, string) {
		if r.Method != http.MethodPost || r.Path != hecPath {
			return http.StatusNotFound, `{"text":"The requested URL was not found on this server.","code":404}`
		}
		switch r.Header.Get("Authorization") {
		case "":
			return http.StatusUnauthorized, `{"text":"Token is required","code":2}`
		case "Splunk tok":
		default:
			return http.StatusForbidden, `{"text":"Invalid token","code":4}`
		}
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.DisallowUnknownFields()
		var got []hecEvent
		for n := 0; ; n++ {
			var e hecEvent
			err := dec.Decode(&e)
			if err == io.EOF {
				break
			}
			var a alert.Alert
			if err != nil || len(e.Event) == 0 || json.Unmarshal(e.Event, &a) != nil || a.Rule == "bad" {
				return http.StatusBadRequest, fmt.Sprintf(`{"text":"Invalid data format","code":6,"invalid-event-number":%d}`, n)
			}
			got = append(got, e)
		}
		*events = append(*events, got)
		return 0, `{"text":"Success","code":0}`
	}
}

func TestForwardBatch(t *testing.T) {
	p := testpeer.New(t)
	var events [][]hecEvent
	p.Check = hec(&events)
	src := testpeer.Env(map[string]string{"SPLUNK_HOST": p.URL + hecPath, "SPLUNK_TOKEN": "tok", "SPLUNK_CUSTOMHEADERS": "X-Org:saker"})
	cfg, ok := splunk.Load(src)
	if !ok || src.Err() != nil {
		t.Fatalf("Load = %+v, %v, %v", cfg, ok, src.Err())
	}
	f, err := splunk.New(cfg, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := testpeer.Sample(), testpeer.Sample()
	b.Rule = "Other"
	if _, err := f.Forward(context.Background(), []alert.Alert{a, b}); err != nil {
		t.Fatal(err)
	}
	r := p.Only(t)
	if r.Header.Get("X-Org") != "saker" || len(events) != 1 || len(events[0]) != 2 {
		t.Fatalf("request %+v, events %d", r.Header, len(events))
	}
	e := events[0][0]
	want, _ := json.Marshal(&a)
	if e.SourceType != "falcosidekick" || e.Time == nil || *e.Time != 1795424400.123 {
		t.Fatalf("event %+v", e)
	}
	testpeer.JSONEqual(t, e.Event, string(want))
}

func TestRefusedEventInBatch(t *testing.T) {
	p := testpeer.New(t)
	var events [][]hecEvent
	p.Check = hec(&events)
	f, err := splunk.New(splunk.Config{Host: p.URL + hecPath, Token: "tok"}, outhttp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	alerts := []alert.Alert{testpeer.Sample(), testpeer.Sample(), testpeer.Sample()}
	alerts[1].Rule = "bad"
	_, err = f.Forward(context.Background(), alerts)
	var pe *batch.PartialError
	if !errors.As(err, &pe) || len(pe.Failures) != 2 {
		t.Fatalf("Forward = %v; want the 2nd alert refused and the 3rd sent again", err)
	}
	if f0, f1 := pe.Failures[0], pe.Failures[1]; f0.Index != 1 || f0.Retry || f1.Index != 2 || !f1.Retry || !f1.Skipped {
		t.Fatalf("failures %+v", pe.Failures)
	}
}

func TestAnswers(t *testing.T) {
	for _, tt := range []struct {
		token     string
		status    int
		wantRetry bool
	}{{"", 401, false}, {"wrong", 403, false}, {"tok", 503, true}} {
		p := testpeer.New(t)
		var events [][]hecEvent
		p.Check = hec(&events)
		if tt.status == 503 {
			p.Check = func(testpeer.Request) (int, string) { return 503, `{"text":"Server is busy","code":9}` }
		}
		f, _ := splunk.New(splunk.Config{Host: p.URL + hecPath, Token: tt.token}, outhttp.Options{}, nil)
		retry, err := f.Forward(context.Background(), []alert.Alert{testpeer.Sample()})
		var se *outhttp.StatusError
		if !errors.As(err, &se) || se.Code != tt.status || retry != tt.wantRetry {
			t.Errorf("token %q: Forward = %v, %v; want HTTP %d retry %v", tt.token, retry, err, tt.status, tt.wantRetry)
		}
	}
}
