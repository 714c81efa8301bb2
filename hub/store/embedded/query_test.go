package embedded

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/store"
	"github.com/saker-sec/saker/hub/store/storetest"
)

// Text search reads events from the log and skips one without decoding it
// when its raw bytes lack the needle; that shortcut must never hide a
// match: escaped characters, \/ slashes, \u escapes, nested output fields
// (searched in their fmt form) and case all agree with store.MatchText.
func TestTextSearchAgreesWithMatchText(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	encoded := func(name, raw string) alert.Alert {
		a := sample(name)
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			t.Fatal(err)
		}
		a.Encoded = []byte(raw)
		return a
	}
	alerts := []alert.Alert{
		sample("plain"),
		func() alert.Alert { a := sample("quoted"); a.Output = `cat "/etc/shadow" by Bob`; return a }(),
		func() alert.Alert { a := sample("html"); a.Output = "gparent=<NA> a&b"; return a }(), // \u003c…
		encoded("slashes", `{"uuid":"slashes","output":"read \/etc\/passwd","priority":"Warning","rule":"r","time":"2026-01-01T00:00:00Z","output_fields":{"fd.name":"\/etc\/passwd"}}`),
		encoded("unicode", `{"uuid":"unicode","output":"caf\u00e9 opened","priority":"Warning","rule":"r","time":"2026-01-01T00:00:00Z","output_fields":{}}`),
		func() alert.Alert {
			a := sample("nested")
			a.OutputFields["k8s.labels"] = map[string]any{"app": "web"}
			return a
		}(),
	}
	if _, err := s.Append(ctx, alerts); err != nil {
		t.Fatal(err)
	}
	all, err := s.Query(ctx, store.Query{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{`"/etc`, "/etc/passwd", "café", "CAFÉ", "map[app:web]", "app:web", "BOB", "out plain", "7", "nothing", "=<na> a&", "<NA>", `"`, "&"} {
		var want []string
		for _, e := range all.Events {
			if store.MatchText(&e.Alert, strings.ToLower(needle)) {
				want = append(want, e.UUID)
			}
		}
		p, err := s.Query(ctx, store.Query{Limit: store.MaxLimit, Filter: store.Filter{Text: needle}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Events {
			got = append(got, e.UUID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("text %q: %v, want %v", needle, got, want)
		}
	}
}

// Reading an event back gives what encoding/json gives for its bytes
// (numbers exact as json.Number, times, priorities, nested fields).
func TestDecodeEventAgreesWithEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`{"id":"1-0","uuid":"u","output":"o \"q\" \u003cNA\u003e","priority":"Critical","rule":"r","time":"2026-01-01T00:00:00.123456789Z","output_fields":{"n":12345678901234567890,"f":-1.5e3,"b":true,"z":null,"m":{"a":[1,"x"]}},"source":"syscalls","tags":["a","b"],"hostname":"h"}`,
		`{"id":"2-0","output":"","priority":"warning","rule":"r","time":"2026-01-01T00:00:00Z","output_fields":{}}`,
	} {
		got, err := decodeEvent([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		var want store.Event
		d := json.NewDecoder(strings.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", raw, got, want)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	a := storetest.BenchAlert(1)
	body, err := json.Marshal(&store.Event{ID: "1-0", Alert: a})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, err := decodeEvent(body); err != nil {
			b.Fatal(err)
		}
	}
}

// Events live in the log: bytes that changed under the store (another
// process writing the file, a bad sector) are reported as an error naming
// the event and offset, never returned as some other event.
func TestChangedLogBytesAreAnError(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	ctx := context.Background()
	ids, err := s.Append(ctx, []alert.Alert{sample("a"), sample("b")})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.RLock()
	first, second := *s.evs[0], *s.evs[1]
	s.mu.RUnlock()
	f, err := os.OpenFile(filepath.Join(dir, logName), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Put b's bytes where a's were: valid JSON, the wrong event.
	raw := make([]byte, second.n)
	if _, err := f.ReadAt(raw, second.off); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(append(raw[:min(len(raw), int(first.n))], make([]byte, max(0, int(first.n)-len(raw)))...), first.off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := s.Get(ctx, ids[0]); err == nil || !strings.Contains(err.Error(), ids[0]) {
		t.Errorf("Get of an event whose bytes changed: %v, want an error naming %s", err, ids[0])
	}
	if _, err := s.Query(ctx, store.Query{}); err == nil {
		t.Error("Query over an event whose bytes changed: no error")
	}
	if e, err := s.Get(ctx, ids[1]); err != nil || e.UUID != "b" {
		t.Errorf("the intact event: %+v, %v", e, err)
	}
}

// The newest events, read again by the next page, tail or consumer, come
// from the recently read ones without decoding them again; each reader
// gets its own copy.
func TestRecentEventsReadOnce(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	l, err := s.Deliveries(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, []alert.Alert{sample("a"), sample("b"), sample("c")}); err != nil {
		t.Fatal(err)
	}
	first, err := s.Query(ctx, store.Query{Limit: 10})
	if err != nil || len(first.Events) != 3 {
		t.Fatalf("Query: %d events, %v", len(first.Events), err)
	}
	decoded := s.decodes.Load()
	first.Events[0].OutputFields["proc.name"] = "changed by a reader"
	first.Events[0].Tags[0] = "changed"
	ds, err := l.Claim(ctx, "c", 10, time.Minute, 0)
	if err != nil || len(ds) != 3 {
		t.Fatalf("Claim: %d, %v", len(ds), err)
	}
	again, err := s.Query(ctx, store.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.decodes.Load() - decoded; n != 0 {
		t.Errorf("the same 3 events decoded %d more times by a Claim and a Query", n)
	}
	for _, e := range append(again.Events, ds[0].Event) {
		if e.OutputFields["proc.name"] == "changed by a reader" || e.Tags[0] == "changed" {
			t.Fatalf("a reader's change to its copy shows in another read: %+v", e)
		}
	}
}
