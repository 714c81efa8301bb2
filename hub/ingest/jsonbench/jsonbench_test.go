// Package jsonbench chooses the hub's JSON library by measurement: each
// candidate decodes a real Falco payload into the generic shape the hub
// keeps (map[string]any, numbers exact) and encodes the enriched alert
// once, as the hot path does. It is a module of its own so the candidates
// never enter the hub's go.mod.
//
//	cd hub/ingest/jsonbench && go test -run . -bench . -benchmem -cpu 1
//
// encoding/json/v2 still needs GOEXPERIMENT=jsonv2 in go1.26; its
// implementation is github.com/go-json-experiment/json, measured here
// through its v1 API (the one with UseNumber).
//
// A candidate that rounds 64-bit numbers (evt.time in nanoseconds) or
// changes their type fails TestExact and is out, whatever its speed.
package jsonbench

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	sonic "github.com/bytedance/sonic"
	v1 "github.com/go-json-experiment/json/v1"
	goccy "github.com/goccy/go-json"
	segment "github.com/segmentio/encoding/json"

	"github.com/saker-sec/saker/hub/alert"
)

// candidate decodes a payload object with exact numbers and encodes an
// alert.
type candidate struct {
	name   string
	decode func([]byte) (map[string]any, error)
	encode func(*alert.Alert) ([]byte, error)
	// out says why the candidate fails TestExact ("" = it passes).
	out string
}

var sonicNumbers = sonic.Config{UseNumber: true}.Froze()

var candidates = []candidate{
	{"encoding/json",
		func(b []byte) (map[string]any, error) {
			d := stdjson.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var m map[string]any
			return m, d.Decode(&m)
		},
		func(a *alert.Alert) ([]byte, error) { return stdjson.Marshal(a) }, ""},
	{"go-json-experiment/v1",
		func(b []byte) (map[string]any, error) {
			d := v1.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var m map[string]any
			return m, d.Decode(&m)
		},
		func(a *alert.Alert) ([]byte, error) { return v1.Marshal(a) },
		"its UseNumber yields its own Number type, which the hub's readers do not know"},
	{"goccy/go-json",
		func(b []byte) (map[string]any, error) {
			d := goccy.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var m map[string]any
			return m, d.Decode(&m)
		},
		func(a *alert.Alert) ([]byte, error) { return goccy.Marshal(a) }, ""},
	{"segmentio/encoding",
		func(b []byte) (map[string]any, error) {
			d := segment.NewDecoder(bytes.NewReader(b))
			d.UseNumber()
			var m map[string]any
			return m, d.Decode(&m)
		},
		func(a *alert.Alert) ([]byte, error) { return segment.Marshal(a) }, ""},
	{"bytedance/sonic",
		func(b []byte) (map[string]any, error) {
			var m map[string]any
			return m, sonicNumbers.Unmarshal(b, &m)
		},
		func(a *alert.Alert) ([]byte, error) { return sonicNumbers.Marshal(a) }, ""},
}

func payload(tb testing.TB) []byte {
	b, err := os.ReadFile("../testdata/falco/terminal_shell.json")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// toAlert is the part of ingest's validation that touches the decoded
// values, enough for the encode half to see the real shape.
func toAlert(tb testing.TB, m map[string]any) alert.Alert {
	p, err := alert.ParsePriority(m["priority"].(string))
	if err != nil {
		tb.Fatal(err)
	}
	ts, err := time.Parse(time.RFC3339Nano, m["time"].(string))
	if err != nil {
		tb.Fatal(err)
	}
	var tags []string
	for _, t := range m["tags"].([]any) {
		tags = append(tags, t.(string))
	}
	return alert.Alert{UUID: m["uuid"].(string), Output: m["output"].(string), Priority: p, Rule: m["rule"].(string),
		Time: ts, OutputFields: m["output_fields"].(map[string]any), Source: m["source"].(string),
		Tags: tags, Hostname: m["hostname"].(string)}
}

// TestExact: evt.time (19 digits, above 2^53) survives decode and encode
// as the same number, as an encoding/json.Number (the type the hub's
// readers, templates and forwarders switch on).
func TestExact(t *testing.T) {
	body := payload(t)
	for _, c := range candidates {
		t.Run(c.name, func(t *testing.T) {
			err := exact(t, c, body)
			switch {
			case c.out == "" && err != nil:
				t.Fatal(err)
			case c.out != "" && err == nil:
				t.Fatalf("passes now: drop its note %q", c.out)
			case c.out != "":
				t.Logf("out (%s): %v", c.out, err)
			}
		})
	}
}

func exact(t *testing.T, c candidate, body []byte) error {
	m, err := c.decode(body)
	if err != nil {
		return err
	}
	v := m["output_fields"].(map[string]any)["evt.time"]
	if n, ok := v.(stdjson.Number); !ok || n != "1795425225987654321" {
		return fmt.Errorf("evt.time decoded as %T %v, want encoding/json.Number 1795425225987654321", v, v)
	}
	a := toAlert(t, m)
	out, err := c.encode(&a)
	if err != nil {
		return err
	}
	if !bytes.Contains(out, []byte(`"evt.time":1795425225987654321`)) {
		return fmt.Errorf("encoded evt.time is not the exact number: %s", out)
	}
	var back alert.Alert
	d := stdjson.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&back); err != nil || !back.Time.Equal(a.Time) || back.Priority != a.Priority {
		return fmt.Errorf("encoded alert does not decode back: %v\n%s", err, out)
	}
	return nil
}

// BenchmarkRoundTrip is the hot path's JSON work per alert: one decode,
// one encode.
func BenchmarkRoundTrip(b *testing.B) {
	body := payload(b)
	for _, c := range candidates {
		b.Run(c.name, func(b *testing.B) {
			m, err := c.decode(body)
			if err != nil {
				b.Skip(err)
			}
			a := toAlert(b, m)
			if _, err := c.encode(&a); err != nil {
				b.Skip(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				m, _ := c.decode(body)
				a.OutputFields = m["output_fields"].(map[string]any)
				if _, err := c.encode(&a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
