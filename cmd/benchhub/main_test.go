package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// wrkReport is wrk 4.1's --latency report of a run with failures.
const wrkReport = `Running 2s test @ http://127.0.0.1:40000/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.10ms    3.20ms  34.38ms   80.00%
    Req/Sec     4.03k   512.00     5.00k    70.00%
  Latency Distribution
     50%    4.64ms
     75%    6.10ms
     90%    8.00ms
     99%   34.38ms
  16050 requests in 2.00s, 1.18MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 47
Requests/sec:   8025.00
Transfer/sec:    603.00KB
`

func TestParseWrk(t *testing.T) {
	res, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	if res.reqs != 16000 || res.errors != 50 || res.secs != 2 || res.p50 != 4640*time.Microsecond || res.p99 != 34380*time.Microsecond {
		t.Fatalf("%+v", res)
	}
	if _, err := parseWrk("wrk: unable to connect\n"); err == nil {
		t.Fatal("no error for a report without figures")
	}
}

// TestLoadPayload: the bench sends the sample without its uuid (Falco
// sends none) and with the run's time, at the sample's size.
func TestLoadPayload(t *testing.T) {
	sample := filepath.Join("..", "..", "hub", "ingest", "testdata", "falco", "terminal_shell.json")
	raw, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC()
	body, err := loadPayload(sample)
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		UUID *string   `json:"uuid"`
		Time time.Time `json:"time"`
		Rule string    `json:"rule"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatal(err)
	}
	if a.UUID != nil || a.Rule == "" || a.Time.Before(before.Truncate(time.Second)) || a.Time.After(time.Now()) {
		t.Fatalf("payload %s", body)
	}
	var sent, orig map[string]json.RawMessage
	if err := json.Unmarshal(raw, &orig); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	if len(sent["time"]) != len(orig["time"]) || len(sent) != len(orig)-1 {
		t.Fatalf("payload %s: time %s, the sample's %s", body, sent["time"], orig["time"])
	}
	// Falco's "<NA>" as Falco writes it, not as json.Marshal escapes it.
	if !strings.Contains(string(body), "<NA>") || strings.Contains(string(body), `\u003c`) {
		t.Fatalf("payload %s: not written as Falco writes it", body)
	}
}
