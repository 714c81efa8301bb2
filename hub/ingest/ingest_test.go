package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/config"
)

const good = `{"output":"o","priority":"Warning","rule":"r","time":"2026-11-23T09:00:00.123456789Z","output_fields":{"evt.time":1795425121123456789}}`

func TestDecodeOneErrors(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"empty", "", "empty body"},
		{"blank", " \n\t", "empty body"},
		{"invalid json", `{"rule":`, "invalid JSON: unexpected end of input"},
		{"not json", `hello`, "invalid JSON at offset 1: invalid character 'h' looking for beginning of value"},
		{"array", `[1]`, "invalid JSON: expected an object, got array"},
		{"null", `null`, "invalid JSON: body must be a JSON object"},
		{"trailing garbage", good + `x`, "invalid JSON: unexpected data after the JSON object"},
		{"two objects", good + good, "invalid JSON: unexpected data after the JSON object"},
		{"missing rule", `{"priority":"Warning","time":"2026-11-23T09:00:00Z"}`, "missing rule"},
		{"empty rule", `{"rule":" ","priority":"Warning","time":"2026-11-23T09:00:00Z"}`, "missing rule"},
		{"missing priority", `{"rule":"r","time":"2026-11-23T09:00:00Z"}`, "missing priority"},
		{"missing time", `{"rule":"r","priority":"Warning"}`, "missing time"},
		{"unknown priority", `{"rule":"r","priority":"Severe","time":"2026-11-23T09:00:00Z"}`, `unknown priority "Severe" (want one of emergency, alert, critical, error, warning, notice, informational, debug)`},
		{"bad time", `{"rule":"r","priority":"Warning","time":"yesterday"}`, `time must be an RFC 3339 timestamp, got "yesterday"`},
		{"zero time", `{"rule":"r","priority":"Warning","time":"0001-01-01T00:00:00Z"}`, `time must be after 1970, got "0001-01-01T00:00:00Z"`},
		{"rule number", `{"rule":1,"priority":"Warning","time":"2026-11-23T09:00:00Z"}`, "rule must be a string, got a number"},
		{"priority number", `{"rule":"r","priority":4,"time":"2026-11-23T09:00:00Z"}`, "priority must be a string, got a number"},
		{"time number", `{"rule":"r","priority":"Warning","time":1795425121}`, "time must be a string, got a number"},
		{"output object", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output":{}}`, "output must be a string, got an object"},
		{"nested 9998 deep", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output_fields":{"f":` + strings.Repeat("[", 9998) + strings.Repeat("]", 9998) + `}}`, "payload nests 10000 levels deep, more than the 64 allowed"},
		{"nested 65 deep", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output_fields":{"f":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}}`, "payload nests 65 levels deep, more than the 64 allowed"},
		{"hostname bool", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","hostname":true}`, "hostname must be a string, got a boolean"},
		{"uuid number", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","uuid":7}`, "uuid must be a string, got a number"},
		{"fields array", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output_fields":[]}`, "output_fields must be an object, got an array"},
		{"tags string", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","tags":"a,b"}`, "tags must be an array of strings, got a string"},
		{"tag number", `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","tags":["a",1]}`, "tags[1] must be a string, got a number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeOne([]byte(c.body))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Error() != c.want {
				t.Fatalf("err = %q\nwant  %q", e.Error(), c.want)
			}
		})
	}
}

func TestDecodeOneAccepts(t *testing.T) {
	cases := []struct {
		name, body string
		check      func(t *testing.T, a alert.Alert)
	}{
		{"no output no hostname", `{"rule":"r","priority":"info","time":"2026-11-23T09:00:00Z"}`, func(t *testing.T, a alert.Alert) {
			if a.Priority != alert.PriorityInformational || a.Output != "" || a.Hostname != "" || a.OutputFields == nil {
				t.Fatalf("%+v", a)
			}
		}},
		{"case-insensitive priority", `{"rule":"r","priority":"EMERGENCY","time":"2026-11-23T09:00:00Z"}`, func(t *testing.T, a alert.Alert) {
			if a.Priority != alert.PriorityEmergency {
				t.Fatal(a.Priority)
			}
		}},
		{"big ints survive", good, func(t *testing.T, a alert.Alert) {
			v, _ := a.FieldValue("evt.time")
			if n, ok := v.(json.Number); !ok || n.String() != "1795425121123456789" {
				t.Fatalf("evt.time = %#v", v)
			}
		}},
		{"valid uuid kept", `{"uuid":"0B7B6C1E-5D0A-4A47-9A3E-2F4F1C9D8E11","rule":"r","priority":"Debug","time":"2026-11-23T09:00:00Z"}`, func(t *testing.T, a alert.Alert) {
			if a.UUID != "0b7b6c1e-5d0a-4a47-9a3e-2f4f1c9d8e11" {
				t.Fatal(a.UUID)
			}
		}},
		{"invalid uuid dropped", `{"uuid":"nope","rule":"r","priority":"Debug","time":"2026-11-23T09:00:00Z"}`, func(t *testing.T, a alert.Alert) {
			if a.UUID != "" {
				t.Fatal(a.UUID)
			}
		}},
		{"trailing whitespace", good + "\n\n  ", func(t *testing.T, a alert.Alert) {}},
		{"unknown fields ignored", `{"rule":"r","priority":"Debug","time":"2026-11-23T09:00:00Z","extra":{"x":1}}`, func(t *testing.T, a alert.Alert) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := DecodeOne([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, a)
		})
	}
}

func TestDecodeBatch(t *testing.T) {
	bad := `{"rule":"r","priority":"nope","time":"2026-11-23T09:00:00Z"}`
	cases := []struct {
		name, body string
		n          int
		err        string
	}{
		{"array", "[" + good + "," + good + "]", 2, ""},
		{"ndjson", good + "\n" + good + "\n\n" + good + "\n", 3, ""},
		{"single object", good, 1, ""},
		{"empty", "  ", 0, "empty body"},
		{"empty array", "[]", 0, "empty batch"},
		{"bad item in array", "[" + good + "," + bad + "]", 0, `event 1: unknown priority "nope"`},
		{"bad item in ndjson", good + "\n" + good + "\n" + bad, 0, `event 2: unknown priority "nope"`},
		{"broken ndjson line", good + "\n{\"rule\":\n", 0, "event 1: invalid JSON"},
		{"garbage after array", "[" + good + "]x", 0, "invalid JSON: unexpected data after the JSON array"},
		{"non-object item", "[" + good + ",3]", 0, "event 1: invalid JSON: expected an object, got number"},
		{"too many", good + good + good + good, 0, "batch has more than 3 events"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as, err := DecodeBatch([]byte(c.body), 3)
			if c.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.err) {
					t.Fatalf("err = %v, want prefix %q", err, c.err)
				}
				return
			}
			if err != nil || len(as) != c.n {
				t.Fatalf("got %d, %v; want %d", len(as), err, c.n)
			}
		})
	}
}

func TestFalcoSamplesDecode(t *testing.T) {
	files, _ := filepath.Glob("testdata/falco/*.json")
	if len(files) == 0 {
		t.Fatal("no samples")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := DecodeOne(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		e, _ := NewEnricher(Options{})
		before := a
		e.Enrich(&a)
		if a.Source != before.Source || !reflect.DeepEqual(a.Tags, before.Tags) {
			t.Fatalf("%s: enrichment without options changed the alert", f)
		}
	}
}

func TestEnrich(t *testing.T) {
	t.Setenv("SAKER_TEST_ENV", "x")
	e, err := NewEnricher(Options{
		CustomFields:      map[string]string{"cluster": "prod", "proc.name": "overridden"},
		TemplatedFields:   templated(t, map[string]string{"where": `{{ index . "k8s.ns.name" }}/{{ index . "k8s.pod.name" }}`}),
		CustomTags:        []string{"saker", "container"},
		BracketReplacer:   "_",
		OutputFieldFormat: "<timestamp>: <priority> <output> (<custom_fields>) [<tags>]",
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("testdata/falco/read_sensitive_file.json")
	a, err := DecodeOne(b)
	if err != nil {
		t.Fatal(err)
	}
	a.UUID = ""
	e.Enrich(&a)
	if a.UUID == "" || !a.UUIDGenerated {
		t.Fatalf("no uuid given: uuid %q, generated %v", a.UUID, a.UUIDGenerated)
	}
	given := alert.Alert{UUID: "0b7b6c1e-5d0a-4a47-9a3e-2f4f1c9d8e11"}
	if e.Enrich(&given); given.UUIDGenerated {
		t.Fatal("a sender's uuid marked as generated")
	}
	f := a.OutputFields
	if f["cluster"] != "prod" || f["proc.name"] != "overridden" || f["where"] != "default/nginx-7f9c5d8b6-x2x9q" {
		t.Fatalf("fields: %v", f)
	}
	if _, ok := f["proc.aname[2]"]; ok || f["proc.aname_2"] != "systemd" {
		t.Fatalf("bracket replacer: %v", f)
	}
	wantTags := []string{"T1555", "container", "filesystem", "host", "maturity_stable", "mitre_credential_access", "saker"}
	if !reflect.DeepEqual(a.Tags, wantTags) {
		t.Fatalf("tags %v", a.Tags)
	}
	if !strings.HasPrefix(a.Output, "09:12:01.123456789: Warning Sensitive file opened") ||
		!strings.HasSuffix(a.Output, "k8s_ns_name=default) (cluster=prod proc.name=overridden) [T1555,container,filesystem,host,maturity_stable,mitre_credential_access,saker]") {
		t.Fatalf("output %q", a.Output)
	}
	if len(a.UUID) != 36 {
		t.Fatalf("uuid %q", a.UUID)
	}

	if _, err := config.ParseTemplatedFields(map[string]string{"x": "{{"}); err == nil {
		t.Fatal("bad template accepted")
	}

	// Source defaults to Falco's "syscall".
	var b2 alert.Alert
	e.Enrich(&b2)
	if b2.Source != "syscall" {
		t.Fatal(b2.Source)
	}
}

// decoded is a's decoding alone: output_fields as a map, whichever form
// it has, and not the bytes it may carry.
func decoded(a alert.Alert) alert.Alert {
	a.SetFields(a.Fields())
	a.Encoded, a.UUIDGenerated = nil, false // not part of the JSON
	return a
}

// sameDecoded compares decoded alerts, not the bytes they may carry.
func sameDecoded(a, b alert.Alert) bool {
	return reflect.DeepEqual(decoded(a), decoded(b))
}

// sameAlert compares alerts as their JSON has them: not the bytes an
// alert may carry (Encoded, RawOutputFields), and no tags is no tags
// (the JSON omits an empty list).
func sameAlert(a, b alert.Alert) bool {
	a, b = decoded(a), decoded(b)
	for _, x := range []*alert.Alert{&a, &b} {
		if len(x.Tags) == 0 {
			x.Tags = nil
		}
	}
	return reflect.DeepEqual(a, b)
}

// checkEncodings checks that a decoded alert, enriched without options
// (which leaves output_fields as sent), encodes to JSON that decodes to
// the alert itself and to what encoding its map gives.
func checkEncodings(t *testing.T, a alert.Alert) {
	t.Helper()
	e, _ := NewEnricher(Options{})
	e.Enrich(&a)
	Encode(&a)
	viaRaw := a // output_fields copied, the rest encoded
	viaRaw.Sent = nil
	Encode(&viaRaw)
	viaMap := viaRaw // everything encoded
	viaMap.RawOutputFields = nil
	Encode(&viaMap)
	for _, x := range []alert.Alert{a, viaRaw, viaMap} {
		if x.Encoded == nil {
			t.Fatalf("could not encode %+v", x)
		}
		back, err := DecodeOne(x.Encoded)
		if err != nil {
			t.Fatalf("re-decode %s: %v", x.Encoded, err)
		}
		if !sameAlert(back, a) {
			t.Fatalf("encodings differ:\n%s\n%s\n%+v", a.Encoded, x.Encoded, a)
		}
		// Stores read with encoding/json (numbers as json.Number).
		var std alert.Alert
		dec := json.NewDecoder(bytes.NewReader(x.Encoded))
		dec.UseNumber()
		if err := dec.Decode(&std); err != nil || !sameAlert(std, a) {
			t.Fatalf("encoding/json reads %s as %+v, %v; want %+v", x.Encoded, std, err, a)
		}
		if bytes.ContainsAny(x.Encoded, "\r\n") || !utf8.Valid(x.Encoded) {
			t.Fatalf("encoded alert is not one line of UTF-8: %q", x.Encoded)
		}
	}
}

// TestEncodeSent: an alert enrichment leaves as sent is stored as the
// sender's bytes (with the uuid the hub made up ahead of them); anything
// the bytes would not read back as (a member the alert lacks or repeats,
// a uuid or priority in another spelling, a missing source, unsorted or
// repeated tags, an option that changes the alert) is encoded instead.
func TestEncodeSent(t *testing.T) {
	const base = `"output":"o <NA> \u003c","priority":"Notice","rule":"r","time":"2026-11-23T09:00:00.000000000Z","source":"syscall",` +
		`"output_fields":{"k8s.ns.name":null,"evt.time":1795425121123456789},"tags":["a","b"],"hostname":"h"`
	const id = `"uuid":"0b7b6c1e-5d0a-4a47-9a3e-2f4f1c9d8e11"`
	cases := []struct {
		name, body string
		opts       Options
		sent       bool
	}{
		{"with uuid", `{` + id + `,` + base + `}`, Options{}, true},
		{"without uuid", `{` + base + `}`, Options{}, true},
		{"spaces", `{ ` + id + ` , ` + base + ` }`, Options{}, true},
		{"no tags", `{"output":"o","priority":"Notice","rule":"r","time":"2026-11-23T09:00:00Z","source":"s","output_fields":{}}`, Options{}, true},
		{"upper-case uuid", `{"uuid":"0B7B6C1E-5D0A-4A47-9A3E-2F4F1C9D8E11",` + base + `}`, Options{}, false},
		{"invalid uuid", `{"uuid":"nope",` + base + `}`, Options{}, false},
		{"null uuid", `{"uuid":null,` + base + `}`, Options{}, false},
		{"unknown member", `{"extra":1,` + base + `}`, Options{}, false},
		{"repeated member", `{"rule":"x",` + base + `}`, Options{}, false},
		{"lower-case priority", `{` + strings.Replace(base, `"Notice"`, `"notice"`, 1) + `}`, Options{}, false},
		{"no source", `{` + strings.Replace(base, `"source":"syscall",`, ``, 1) + `}`, Options{}, false},
		{"unsorted tags", `{` + strings.Replace(base, `["a","b"]`, `["b","a"]`, 1) + `}`, Options{}, false},
		{"repeated tags", `{` + strings.Replace(base, `["a","b"]`, `["a","a"]`, 1) + `}`, Options{}, false},
		{"null fields", `{` + strings.Replace(base, `{"k8s.ns.name":null,"evt.time":1795425121123456789}`, `null`, 1) + `}`, Options{}, false},
		{"not ASCII", `{` + strings.Replace(base, `"h"`, `"hé"`, 1) + `}`, Options{}, false},
		{"custom tags", `{` + base + `}`, Options{CustomTags: []string{"c"}}, false},
		{"custom fields", `{` + base + `}`, Options{CustomFields: map[string]string{"c": "d"}}, false},
		{"output format", `{` + strings.Replace(base, `"o <NA> \u003c"`, `"09:00:00.000000000: Notice o"`, 1) + `}`, Options{OutputFieldFormat: "<output> x"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := DecodeOne([]byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			e, _ := NewEnricher(c.opts)
			e.Enrich(&a)
			Encode(&a)
			body := strings.TrimSpace(c.body)
			want := body
			if a.UUIDGenerated {
				want = `{"uuid":"` + a.UUID + `",` + body[1:]
			}
			if sent := string(a.Encoded) == want; sent != c.sent {
				t.Fatalf("stored as sent: %v, want %v: %s", sent, c.sent, a.Encoded)
			}
			back, err := DecodeOne(a.Encoded)
			if err != nil || !sameAlert(back, a) {
				t.Fatalf("%s reads back as %+v, %v; want %+v", a.Encoded, back, err, a)
			}
			if c.opts.CustomFields == nil && c.opts.OutputFieldFormat == "" && len(c.opts.CustomTags) == 0 {
				plain, _ := DecodeOne([]byte(c.body))
				checkEncodings(t, plain)
			}
		})
	}
}

// TestEncodeKeepsSenderFields: an alert whose output_fields enrichment
// leaves alone is stored with the sender's output_fields bytes, which
// read back as the decoded map; any option that changes the fields
// encodes the map instead.
func TestEncodeKeepsSenderFields(t *testing.T) {
	files, _ := filepath.Glob("testdata/falco/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var sent struct {
			OutputFields json.RawMessage `json:"output_fields"`
		}
		if err := json.Unmarshal(b, &sent); err != nil {
			t.Fatal(err)
		}
		a, err := DecodeOne(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		checkEncodings(t, a)
		a, _ = DecodeOne(b)
		e, _ := NewEnricher(Options{CustomTags: []string{"x"}, OutputFieldFormat: "<output> <tags>"})
		e.Enrich(&a)
		Encode(&a)
		if !bytes.Contains(a.Encoded, append([]byte(`"output_fields":`), sent.OutputFields...)) {
			t.Fatalf("%s: sender's output_fields not kept:\n%s", f, a.Encoded)
		}
	}
	const head = `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output_fields":`
	for _, fields := range []string{
		`{"a":1,"a":2}`, `{"a":"\u00e9\/\ud83d\ude00","b":1795425121123456789,"c":1e400,"d":-0}`, "{\n\"a\":1}", "{\"a\":\"\xff\"}",
		`{"a":{"b":[1,null,{"c":"d"}]}}`, `{}`, `null`, ` { "a" : [ 1 , 2 ] } `,
	} {
		a, err := DecodeOne([]byte(head + fields + "}"))
		if err != nil {
			t.Fatalf("%s: %v", fields, err)
		}
		checkEncodings(t, a)
	}

	// Options that change output_fields: the map is encoded, with them.
	tf := templated(t, map[string]string{"t": `{{ index . "proc.name" }}`})
	for _, opts := range []Options{{CustomFields: map[string]string{"cluster": "prod"}}, {TemplatedFields: tf}, {BracketReplacer: "_"}} {
		a, err := DecodeOne([]byte(head + `{"proc.name":"sh","proc.aname[2]":"x"}}`))
		if err != nil {
			t.Fatal(err)
		}
		e, _ := NewEnricher(opts)
		e.Enrich(&a)
		Encode(&a)
		back, err := DecodeOne(a.Encoded)
		if err != nil || !sameAlert(back, a) {
			t.Fatalf("%+v: encoded %s, decoded %+v, %v", opts, a.Encoded, back, err)
		}
		if a.RawOutputFields != nil {
			t.Fatalf("%+v: output_fields changed but the sender's bytes kept", opts)
		}
	}
}

// TestEncodeRawIsAlertJSON: encodeRaw writes what encoding/json writes
// for alert.Alert, the same members in the same order with the same
// values, for strings that need escaping too.
func TestEncodeRawIsAlertJSON(t *testing.T) {
	when := time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.UTC)
	full := alert.Alert{UUID: "0b7b6c1e-5d0a-4a47-9a3e-2f4f1c9d8e11", Output: "o <&> \"q\" \\ \n\r\t\x01\x1f é \u2028\u2029 \xff\xfe end",
		Priority: alert.PriorityCritical, Rule: "r\x00", Time: when, Source: "s", Tags: []string{"a", "b\"c"}, Hostname: "h",
		RawOutputFields: []byte(`{"a":1795425121123456789,"b":"x","c":{"d":[null,true]}}`)}
	// Every member of alert.Alert's JSON is set above: one added to
	// alert.Alert must be added to encodeRaw (and here).
	v := reflect.ValueOf(full)
	for i, f := range reflect.VisibleFields(v.Type()) {
		if tag := f.Tag.Get("json"); f.IsExported() && tag != "-" && f.Name != "OutputFields" && v.Field(i).IsZero() {
			t.Fatalf("test alert leaves %s empty", f.Name)
		}
	}
	empty := alert.Alert{Priority: alert.PriorityDebug, Rule: "r", Time: when.In(time.FixedZone("x", 3600)), RawOutputFields: []byte(`{}`)}
	for _, a := range []alert.Alert{full, empty} {
		got := encodeRaw(&a)
		a.OutputFields = generic(t, a.RawOutputFields).(map[string]any)
		want, err := json.Marshal(&a)
		if err != nil {
			t.Fatal(err)
		}
		if gk, wk := topKeys(t, got), topKeys(t, want); !reflect.DeepEqual(gk, wk) {
			t.Fatalf("members %q, encoding/json's %q", gk, wk)
		}
		if g, w := generic(t, got), generic(t, want); !reflect.DeepEqual(g, w) {
			t.Fatalf("encodeRaw:\n%s\nencoding/json:\n%s", got, want)
		}
		if !utf8.Valid(got) || bytes.ContainsAny(got, "\r\n") {
			t.Fatalf("not one line of UTF-8: %q", got)
		}
	}
}

// topKeys are the member names of the JSON object b, in order.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return keys
		}
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			continue
		}
		// At depth 1 a string is a member's name: its value is skipped.
		if k, ok := tok.(string); ok && depth == 1 {
			keys = append(keys, k)
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// generic is b decoded by encoding/json, numbers as written.
func generic(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func templated(t *testing.T, m map[string]string) []config.TemplatedField {
	t.Helper()
	tf, err := config.ParseTemplatedFields(m)
	if err != nil {
		t.Fatal(err)
	}
	return tf
}

// FuzzDecode checks the decoders never panic and that whatever they accept
// is a valid alert that re-encodes and decodes to itself.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"rule":"r","priority":"info","time":"2026-11-23T09:00:00Z","tags":["a"],"output_fields":{"k8s.ns.name":1,"x":[1,{"y":null}]}}`))
	f.Add([]byte("[" + good + "]"))
	f.Add([]byte(good + "\n" + good))
	if files, _ := filepath.Glob("testdata/falco/*.json"); len(files) > 0 {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	tf, _ := config.ParseTemplatedFields(map[string]string{"t": `{{ index . "k8s.ns.name" }}`})
	e, _ := NewEnricher(Options{CustomFields: map[string]string{"a": "b"}, TemplatedFields: tf, BracketReplacer: "_", OutputFieldFormat: "<output> <tags>"})
	f.Fuzz(func(t *testing.T, body []byte) {
		a, err := DecodeOne(body)
		// The fast decoder accepts and refuses exactly what encoding/json
		// does, with the same result.
		ref, refErr := decodeStd(body)
		if (err == nil) != (refErr == nil) || (err != nil && err.Error() != refErr.Error()) || !sameDecoded(a, ref) {
			t.Fatalf("fast and reference decoders differ on %q:\n%+v, %v\n%+v, %v", body, a, err, ref, refErr)
		}
		if err == nil {
			if !a.Priority.Valid() || a.Rule == "" || a.Time.IsZero() {
				t.Fatalf("accepted invalid alert %+v", a)
			}
			plain, _ := DecodeOne(body) // its own maps: Enrich below changes a's
			checkEncodings(t, plain)
			checkPrepare(t, body)
			e.Enrich(&a)
			Encode(&a)
			if a.Encoded == nil {
				t.Fatalf("could not encode %+v", a)
			}
			// What stores write decodes to the alert itself, numbers exact.
			back, err := DecodeOne(a.Encoded)
			if err != nil {
				t.Fatalf("re-decode %s: %v", a.Encoded, err)
			}
			if !sameAlert(back, a) {
				t.Fatalf("encoded alert decodes to another:\n%+v\n%+v", back, a)
			}
		} else {
			var ie *Error
			if !errors.As(err, &ie) {
				t.Fatalf("non-client error %v", err)
			}
		}
		as, err := DecodeBatchLimit(body, 100, 4096)
		if err == nil && len(as) == 0 {
			t.Fatal("empty batch accepted")
		}
		if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
			ref, refErr := decodeValues(trimmed, 100, 4096)
			if (err == nil) != (refErr == nil) || (err != nil && err.Error() != refErr.Error()) || !reflect.DeepEqual(as, ref) {
				t.Fatalf("line and value batch decoders differ on %q:\n%+v, %v\n%+v, %v", body, as, err, ref, refErr)
			}
		}
	})
}

// BenchmarkDecodeEnrich is POST /'s work on one alert before the store:
// decode, enrich, encode once; without options (output_fields stay the
// sender's bytes) and with a custom field (the map is encoded).
func BenchmarkDecodeEnrich(b *testing.B) {
	body, err := os.ReadFile("testdata/falco/drop_and_execute.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts Options
	}{{"none", Options{}}, {"customfields", Options{CustomFields: map[string]string{"cluster": "prod"}}}} {
		b.Run(c.name, func(b *testing.B) {
			e, _ := NewEnricher(c.opts)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				a, err := DecodeOne(body)
				if err != nil {
					b.Fatal(err)
				}
				e.Enrich(&a)
				Encode(&a)
			}
		})
	}
}

// BenchmarkDecodeBatch is the batch route's decoding: 100 alerts of NDJSON,
// decoded, enriched and encoded once each.
func BenchmarkDecodeBatch(b *testing.B) {
	one, err := os.ReadFile("testdata/falco/terminal_shell.json")
	if err != nil {
		b.Fatal(err)
	}
	ndjson := bytes.Repeat(append(bytes.TrimSpace(one), '\n'), 100)
	array := append([]byte("["), bytes.ReplaceAll(bytes.TrimSpace(ndjson), []byte("\n"), []byte(","))...)
	array = append(array, ']')
	for _, c := range []struct {
		name string
		body []byte
	}{{"ndjson", ndjson}, {"array", array}} {
		b.Run(c.name, func(b *testing.B) {
			e, _ := NewEnricher(Options{})
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				as, err := DecodeBatchLimit(c.body, 1000, 1<<20)
				if err != nil || len(as) != 100 {
					b.Fatal(len(as), err)
				}
				for i := range as {
					e.Enrich(&as[i])
					Encode(&as[i])
				}
			}
		})
	}
}

// TestDecodeArrayAsValues: a JSON array's fast path accepts what the
// general path accepts, with the same alerts, and leaves the rest (and
// the error messages) to it.
func TestDecodeArrayAsValues(t *testing.T) {
	for _, body := range []string{
		"[" + good + "]", "[ " + good + " , " + good + " ]", "[\n" + good + ",\n" + good + "\n]", "[]", "[" + good + ",]",
		"[" + good + "," + good + "," + good + "]", "[" + good + ",1]", "[" + good + "]x", "[" + good, "[[" + good + "]]",
		"[" + good + `,{"rule":"r"}]`, "[" + strings.Replace(good, `"o"`, `"\u00e9"`, 1) + "]", "[" + strings.Replace(good, `"o"`, "\"\xff\"", 1) + "]",
	} {
		got, _, ok := decodeArray([]byte(body), 2, 200, 0)
		want, err := decodeValues([]byte(body), 2, 200)
		if ok && (err != nil || !reflect.DeepEqual(got, want)) {
			t.Errorf("%q: fast path %+v, general path %+v, %v", body, got, want, err)
		}
		if !ok && err == nil && len(want) > 0 && bytes.IndexByte([]byte(body), 0xff) < 0 {
			t.Errorf("%q: fast path refused what the general path accepts", body)
		}
	}
}

// TestFastDecoderMatchesReference pins the corners where JSON decoders
// differ: both of DecodeOne's paths must give the same alert or error.
func TestFastDecoderMatchesReference(t *testing.T) {
	const head = `{"rule":"r","priority":"Warning","time":"2026-11-23T09:00:00Z","output_fields":{"f":`
	for _, v := range []string{
		`1795425121123456789`, `-9223372036854775808`, `18446744073709551616`, `1e400`, `-0`, `0.1e-7`, `01`, `.5`, `1.`,
		`"\u0000"`, "\"a\x01b\"", "\"\xff\xfe\"", `"\ud800"`, `"\ud83d\ude00"`, `"\/"`, `"<NA>&"`, `tru`, `nul`,
		`[1,2,]`, `{"a":1,}`, `{"a":1,"a":2}`, `{"":null}`, `[[[[]]]]`,
	} {
		for _, body := range []string{head + v + `}}`, head + v + `}} `, head + v + `}}x`, "\ufeff" + head + v + `}}`} {
			sameAsReference(t, body)
		}
	}
	// Fields: keys, nulls, duplicates, types, unknown fields.
	const p, tm = `"priority":"Warning"`, `"time":"2026-11-23T09:00:00Z"`
	for _, body := range []string{
		`{"RULE":"r",` + p + `,` + tm + `}`, `{"ru\u006ce":"r",` + p + `,` + tm + `}`, `{"rule":null,` + p + `,` + tm + `}`,
		`{"rule":"r","rule":1,` + p + `,` + tm + `}`, `{"rule":1,"rule":"r",` + p + `,` + tm + `}`, `{"rule":"a","rule":"b",` + p + `,` + tm + `}`,
		`{"rule":"r",` + p + `,` + tm + `,"tags":[]}`, `{"rule":"r",` + p + `,` + tm + `,"tags":null}`, `{"rule":"r",` + p + `,` + tm + `,"tags":[null]}`,
		`{"rule":"r",` + p + `,` + tm + `,"tags":["a",""]}`, `{"rule":"r",` + p + `,` + tm + `,"output_fields":{}}`,
		`{"rule":"r",` + p + `,` + tm + `,"output_fields":null}`, `{"rule":"r",` + p + `,` + tm + `,"output_fields":{"a":{"b":[1,null]}}}`,
		`{"rule":"r",` + p + `,` + tm + `,"extra":[1,2,]}`, `{"rule":"r",` + p + `,` + tm + `,"extra":{"x":1}}`,
		`{"rule":"r",` + p + `,` + tm + `,"uuid":"0B7B6C1E-5D0A-4A47-9A3E-2F4F1C9D8E11"}`, `{"rule":"r",` + p + `,` + tm + `,"uuid":"nope"}`,
		`{"rule":"r",` + p + `,` + tm + `,"uuid":null,"output":null,"source":null,"hostname":null}`,
		`{"rule":" ",` + p + `,` + tm + `}`, `{"rule":"r","priority":" warning ",` + tm + `}`, `{"rule":"r",` + p + `,"time":"2026-11-23T09:00:00+02:00"}`,
		`{"rule":"r",` + p + `,"time":"1969-12-31T23:59:59Z"}`, `{"rule":"r","priority":"INFO",` + tm + `}`, `{"rule":"r",` + p + `,` + tm + `,"output":true}`,
	} {
		sameAsReference(t, body)
	}
}

func sameAsReference(t *testing.T, body string) {
	t.Helper()
	a, err := DecodeOne([]byte(body))
	ref, refErr := decodeStd([]byte(body))
	if (err == nil) != (refErr == nil) || (err != nil && err.Error() != refErr.Error()) || !sameDecoded(a, ref) {
		t.Errorf("%q:\nfast      %+v, %v\nreference %+v, %v", body, a, err, ref, refErr)
	}
}

// TestHasSpecial: the word-at-a-time test agrees with the byte table on
// every byte value in every position, among plain and high bytes.
func TestHasSpecial(t *testing.T) {
	for _, fill := range []byte{'a', 0xff, 0x80, 0x20, '"' + 1, '\\' - 1} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(c)
				want := special[fill] || special[c]
				if got := hasSpecial(load8(string(w), 0)); got != want {
					t.Fatalf("%q: hasSpecial %v, want %v", w, got, want)
				}
			}
		}
	}
}

// TestIsPlain: the word-at-a-time test agrees with a byte loop on every
// byte value in every position.
func TestIsPlain(t *testing.T) {
	for n := 1; n <= 17; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{'a'}, n)
				b[pos] = byte(c)
				if got, want := isPlain(b), c >= 0x20 && c < 0x80; got != want {
					t.Fatalf("%q: isPlain %v, want %v", b, got, want)
				}
			}
		}
	}
}

// TestNewUUID: made-up uuids are version 4, RFC 4122 variant, in canonical
// form, and do not repeat.
func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 10000 {
		s := newUUID()
		u, err := uuid.Parse(s)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != s || seen[s] {
			t.Fatalf("%q: %v, version %d, variant %v, repeated %v", s, err, u.Version(), u.Variant(), seen[s])
		}
		seen[s] = true
	}
}

// checkPrepare checks that Prepare and PrepareBatch give what DecodeOne
// and DecodeBatchLimit, Enrich and Encode give (without options): the same
// alerts, the same answer to a bad body, and the same bytes to store but
// for the uuid the hub made up.
func checkPrepare(t *testing.T, body []byte) {
	t.Helper()
	e, _ := NewEnricher(Options{})
	got, gerr := e.Prepare(body)
	want, werr := DecodeOne(body)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("%q: Prepare %v, DecodeOne %v", body, gerr, werr)
	}
	if werr == nil {
		samePrepared(t, body, got, want)
	}
	gots, gerr := e.PrepareBatch(body, 100, 4096)
	wants, werr := DecodeBatchLimit(body, 100, 4096)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) || len(gots) != len(wants) {
		t.Fatalf("%q: PrepareBatch %d, %v, DecodeBatchLimit %d, %v", body, len(gots), gerr, len(wants), werr)
	}
	for i := range wants {
		samePrepared(t, body, gots[i], wants[i])
	}
}

// samePrepared compares got, prepared from body, with want, decoded from
// it, once want is enriched and encoded.
func samePrepared(t *testing.T, body []byte, got, want alert.Alert) {
	t.Helper()
	e, _ := NewEnricher(Options{})
	e.Enrich(&want)
	if got.UUIDGenerated != want.UUIDGenerated {
		t.Fatalf("%q: uuid made up %v, want %v", body, got.UUIDGenerated, want.UUIDGenerated)
	}
	if got.UUIDGenerated {
		want.UUID = got.UUID // each made up its own
	}
	Encode(&want)
	// A map's encoding has no set order: it must read back the same.
	same := bytes.Equal(got.Encoded, want.Encoded)
	if want.OutputFields != nil {
		g, gerr := DecodeOne(got.Encoded)
		w, werr := DecodeOne(want.Encoded)
		same = gerr == nil && werr == nil && sameAlert(g, w)
	}
	if !sameAlert(got, want) || !same {
		t.Fatalf("%q: prepared\n%s\n%+v\ndecoded, enriched, encoded\n%s\n%+v", body, got.Encoded, got, want.Encoded, want)
	}
}

// TestPrepareAsDecodeEnrichEncode: Prepare's answers are DecodeOne's,
// Enrich's and Encode's, for payloads stored as sent with and without a
// uuid, others, and bad ones.
func TestPrepareAsDecodeEnrichEncode(t *testing.T) {
	files, _ := filepath.Glob("testdata/falco/*.json")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		checkPrepare(t, b)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "uuid") // as Falco sends it
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
		checkPrepare(t, buf.Bytes())
		e, _ := NewEnricher(Options{})
		if a, err := e.Prepare(buf.Bytes()); err != nil || !a.UUIDGenerated || !bytes.HasPrefix(a.Encoded, []byte(`{"uuid":"`+a.UUID+`","`)) {
			t.Fatalf("%s without uuid: %v, %s", f, err, a.Encoded)
		}
	}
	noUUID := `{"output":"o","priority":"Notice","rule":"r","time":"2026-11-23T09:00:00Z","source":"s","output_fields":{"a":1}}`
	for _, body := range []string{good, " " + good + "\n", `{"uuid":"nope",` + good[1:], `{"extra":1,` + good[1:], "", "{", "[1]", good + "x",
		strings.Replace(good, `"Warning"`, `"warning"`, 1), noUUID, noUUID + "\n" + good + "\n" + noUUID, "[" + noUUID + "," + good + "]",
		"[" + noUUID + ",1]", noUUID + "\n{"} {
		checkPrepare(t, []byte(body))
	}
	e, _ := NewEnricher(Options{})
	as, err := e.PrepareBatch([]byte(noUUID+"\n"+noUUID), 10, 1000)
	if err != nil || len(as) != 2 || as[0].UUID == as[1].UUID || !bytes.HasPrefix(as[1].Encoded, []byte(`{"uuid":"`+as[1].UUID+`","output"`)) {
		t.Fatalf("%v: %+v", err, as)
	}
}
