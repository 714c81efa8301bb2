// Package ingest turns request bodies into validated, enriched alerts: it
// decodes Falco's JSON payload the way falcosidekick does (minus its flaws:
// trailing garbage, panics on unexpected types, overwritten uuids), checks the
// required fields, and applies sidekick's enrichment options (CUSTOMFIELDS,
// TEMPLATEDFIELDS, CUSTOMTAGS, BRACKETREPLACER, OUTPUTFIELDFORMAT).
//
// Nothing here does I/O beyond reading the body it is given, so the decoder
// is fuzzed directly (FuzzDecode).
package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unsafe"

	"github.com/bytedance/sonic"
	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/alert"
)

// DefaultSource is the source given to alerts that carry none. Falco itself
// names its syscall source "syscall" (sidekick uses "syscalls", which no Falco
// version sends); we use Falco's spelling so filters match real traffic.
const DefaultSource = "syscall"

// Error is a client error: the payload is rejected with HTTP 400 and Msg.
type Error struct {
	// Index is the position of the offending item in a batch, -1 otherwise.
	Index int
	Msg   string
}

func (e *Error) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("event %d: %s", e.Index, e.Msg)
	}
	return e.Msg
}

func badf(format string, args ...any) *Error {
	return &Error{Index: -1, Msg: fmt.Sprintf(format, args...)}
}

// fastJSON encodes alerts whose output_fields are a map (see Encode).
// bytedance/sonic was chosen by measurement (hub/ingest/jsonbench: one
// decode plus one encode of a Falco payload, numbers exact, in 0.35–0.6 of
// encoding/json's time and a third of its allocations). Numbers are
// encoding/json.Number, invalid UTF-8 is replaced, as encoding/json does.
// It is configuration, never replaced at run time.
var fastJSON = sonic.Config{UseNumber: true, ValidateString: true, CaseSensitive: true}.Froze()

// DecodeOne decodes exactly one Falco payload from body: a single JSON object
// and nothing after it but white space. It validates the alert but does not
// enrich it (see Enricher). Errors are *Error.
//
// Well-formed payloads take one pass of the hot path's scanner (scan.go);
// anything it gives up on is decoded again by encoding/json, whose errors
// (with their offsets) are what clients get, so both paths accept and
// refuse the same bodies (FuzzDecode compares them).
func DecodeOne(body []byte) (alert.Alert, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		if a, ok := decodeFast(trimmed); ok {
			return a, nil
		}
	}
	return decodeStd(body)
}

// decodeFast decodes one object whose fields have their expected types
// and validates it; ok is false for anything else, which decodeStd then
// decodes again to name the problem. Whatever it accepts, decodeStd
// accepts with the same result.
func decodeFast(obj []byte) (alert.Alert, bool) {
	a, _, ok := decodeFastRoom(obj, 0)
	return a, ok
}

// decodeFastRoom is decodeFast leaving room bytes ahead of its copy of
// obj: buf is the room and the copy (see encodeInRoom).
func decodeFastRoom(obj []byte, room int) (a alert.Alert, buf []byte, ok bool) {
	var w wire
	if !scanAlert(obj, &w, room) {
		return alert.Alert{}, nil, false
	}
	a, ok = w.alert()
	return a, w.buf, ok
}

// alert validates w as fromMap validates a map; ok is false where fromMap
// returns an error.
func (w *wire) alert() (alert.Alert, bool) {
	if strings.TrimSpace(w.rule) == "" || strings.TrimSpace(w.priority) == "" || strings.TrimSpace(w.time) == "" {
		return alert.Alert{}, false
	}
	p, err := alert.ParsePriority(w.priority)
	if err != nil {
		return alert.Alert{}, false
	}
	t, err := parseTime(w.time)
	if err != nil {
		return alert.Alert{}, false
	}
	a := alert.Alert{UUID: canonicalUUID(w.uuid), Output: w.output, Priority: p, Rule: w.rule, Time: t,
		Source: w.source, Tags: w.tags, Hostname: w.hostname}
	switch {
	case w.rawFields == "":
		// Sidekick rejects alerts without output fields; Falco sends an
		// empty object for rules whose output has no %fields (see
		// fromMap).
		a.OutputFields = map[string]any{}
	case !w.plain && strings.ContainsAny(w.rawFields, "\n\r"):
		// Stores frame events one per line: these bytes cannot be
		// copied as they are, so the fields are encoded again.
		a.RawFields = w.fields
		a.SetFields(a.Fields())
	default:
		a.RawOutputFields = unsafe.Slice(unsafe.StringData(w.rawFields), len(w.rawFields))
		a.RawFields = w.fields
	}
	if w.sent(&a) {
		a.Sent = w.body
	}
	return a, true
}

// sent reports whether the payload, w.body, can stand for a, the alert
// decoded from it, as its JSON (alert.Alert.Sent): one line, the alert's
// fields each once and nothing else, every value read back as a holds it
// (the uuid canonical, the priority spelt as its name, the time in the
// form encoding/json reads), and the ones enrichment would change already
// as it leaves them (a source, tags sorted without repeats).
func (w *wire) sent(a *alert.Alert) bool {
	if !w.plain || !w.known || a.RawOutputFields == nil || a.Source == "" || w.priority != a.Priority.String() ||
		(w.hasUUID && (a.UUID == "" || a.UUID != w.uuid)) {
		return false
	}
	for i := 1; i < len(a.Tags); i++ {
		if a.Tags[i-1] >= a.Tags[i] {
			return false
		}
	}
	var t time.Time
	return t.UnmarshalText(unsafe.Slice(unsafe.StringData(w.time), len(w.time))) == nil
}

// precheck refuses empty and too deeply nested bodies (before any decoder
// recurses into them; stores refuse what they could not read back) and
// returns body without surrounding white space.
func precheck(body []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, badf("empty body")
	}
	if d, deep := alert.TooDeep(trimmed); deep {
		return nil, badf("payload nests %d levels deep, more than the %d allowed", d, alert.MaxDepth)
	}
	return trimmed, nil
}

// decodeStd is DecodeOne with encoding/json alone: the reference the fast
// path is held to, and the source of error messages.
func decodeStd(body []byte) (alert.Alert, error) {
	if _, err := precheck(body); err != nil {
		return alert.Alert{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return alert.Alert{}, jsonErr(err)
	}
	if m == nil {
		return alert.Alert{}, badf("invalid JSON: body must be a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return alert.Alert{}, badf("invalid JSON: unexpected data after the JSON object")
	}
	return fromMap(m)
}

// Encode encodes a, once, into a.Encoded, after decoding and enrichment:
// stores then write these bytes rather than encoding the alert again. a
// must hold what DecodeOne produces plus enrichment (numbers as
// json.Number, maps of its own). Should encoding fail, Encoded stays nil,
// the fields are decoded into OutputFields, and the store encodes the
// alert itself (and reports the error).
//
// An alert enrichment left as it was sent (Sent) is the sender's bytes,
// with the uuid ahead when the hub made it up; one whose output_fields
// alone are still the sender's bytes (RawOutputFields) is written around
// them (encodeRaw): the fields, most of an alert, are not encoded again.
func Encode(a *alert.Alert) {
	a.Encoded = nil
	if a.Sent != nil && a.Priority.Valid() {
		switch {
		case a.UUIDGenerated:
			// The sender's bytes with the uuid ahead.
			b := make([]byte, 0, len(a.Sent)+len(a.UUID)+len(`{"uuid":"",`))
			b = append(b, `{"uuid":"`...)
			b = append(b, a.UUID...)
			b = append(b, `",`...)
			a.Encoded = append(b, a.Sent[1:]...)
			return
		case a.UUID == "" || bytes.Contains(a.Sent, []byte(a.UUID)):
			a.Encoded = a.Sent
			return
		}
	}
	if a.RawOutputFields != nil && a.Priority.Valid() {
		a.Encoded = encodeRaw(a)
		return
	}
	if a.OutputFields == nil {
		a.SetFields(a.Fields()) // json.Marshal's form, for stores too
	}
	if b, err := fastJSON.Marshal(a); err == nil {
		a.Encoded = b
	}
}

// DecodeBatch decodes a batch: either a JSON array of payloads or
// newline-delimited JSON (one object per line; blank lines are skipped).
// It is all-or-nothing: the first invalid item fails the batch with an
// *Error naming its index. maxItems bounds the batch (0 = unbounded).
func DecodeBatch(body []byte, maxItems int) ([]alert.Alert, error) {
	return DecodeBatchLimit(body, maxItems, 0)
}

// ErrItemTooLarge is wrapped by DecodeBatchLimit's error for an item over
// its size limit.
var ErrItemTooLarge = errors.New("event too large")

// DecodeBatchLimit is DecodeBatch with each item limited to maxItemBytes of
// JSON (0 = no limit), the limit POST / applies to one alert.
func DecodeBatchLimit(body []byte, maxItems int, maxItemBytes int64) ([]alert.Alert, error) {
	out, _, err := decodeBatch(body, maxItems, maxItemBytes, 0)
	return out, err
}

// decodeBatch is DecodeBatchLimit whose fast paths leave room bytes
// ahead of each item's copy: bufs[i] is out[i]'s (decodeFastRoom), or
// bufs is nil.
func decodeBatch(body []byte, maxItems int, maxItemBytes int64, room int) (out []alert.Alert, bufs [][]byte, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil, badf("empty body")
	}
	var ok bool
	if trimmed[0] == '[' {
		out, bufs, ok = decodeArray(trimmed, maxItems, maxItemBytes, room)
	} else {
		out, bufs, ok = decodeLines(trimmed, maxItems, maxItemBytes, room)
	}
	if ok {
		return out, bufs, nil
	}
	out, err = decodeValues(trimmed, maxItems, maxItemBytes)
	return out, nil, err
}

// decodeValues is DecodeBatchLimit's general path: it splits the batch into
// JSON values (an array's items, or a stream's values whatever their line
// breaks) and decodes each; trimmed is the non-empty body without
// surrounding white space.
func decodeValues(trimmed []byte, maxItems int, maxItemBytes int64) ([]alert.Alert, error) {
	var raws []json.RawMessage
	if trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if err := dec.Decode(&raws); err != nil {
			return nil, jsonErr(err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, badf("invalid JSON: unexpected data after the JSON array")
		}
	} else {
		// NDJSON: a stream of JSON values. Decoding value by value (instead
		// of splitting on '\n') also accepts pretty-printed objects and
		// reports the item index rather than a line number.
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		for {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if err == io.EOF {
				break
			}
			if err != nil {
				e := jsonErr(err)
				e.Index = len(raws)
				return nil, e
			}
			raws = append(raws, raw)
			if maxItems > 0 && len(raws) > maxItems {
				return nil, badf("batch has more than %d events", maxItems)
			}
		}
	}
	if len(raws) == 0 {
		return nil, badf("empty batch")
	}
	if maxItems > 0 && len(raws) > maxItems {
		return nil, badf("batch has more than %d events", maxItems)
	}
	out := make([]alert.Alert, len(raws))
	for i, raw := range raws {
		if maxItemBytes > 0 && int64(len(raw)) > maxItemBytes {
			return nil, fmt.Errorf("event %d: %w: larger than %d bytes", i, ErrItemTooLarge, maxItemBytes)
		}
		a, err := DecodeOne(raw)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Index = i
				return nil, e
			}
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out[i] = a
	}
	return out, nil
}

func tooDeep(b []byte) bool { _, deep := alert.TooDeep(b); return deep }

// decodeLines is the fast path for NDJSON written one alert per line, as
// senders write it: each line is decoded once, where the general path below
// first splits the stream into values and then decodes each. ok is false
// when a line is not a whole valid alert or the batch breaks a limit; the
// general path then decodes the batch again and says what is wrong. Every
// batch this accepts, the general path accepts with the same alerts: a line
// holding one whole object is one value of the stream.
func decodeLines(body []byte, maxItems int, maxItemBytes int64, room int) ([]alert.Alert, [][]byte, bool) {
	out := make([]alert.Alert, 0, bytes.Count(body, []byte{'\n'})+1)
	var bufs [][]byte
	if room > 0 {
		bufs = make([][]byte, 0, cap(out))
	}
	for len(body) > 0 {
		var line []byte
		line, body, _ = bytes.Cut(body, []byte{'\n'})
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if (maxItemBytes > 0 && int64(len(line)) > maxItemBytes) || (maxItems > 0 && len(out) == maxItems) ||
			line[0] != '{' || tooDeep(line) {
			return nil, nil, false
		}
		a, buf, ok := decodeFastRoom(line, room)
		if !ok {
			return nil, nil, false
		}
		out = append(out, a)
		if room > 0 {
			bufs = append(bufs, buf)
		}
	}
	return out, bufs, len(out) > 0
}

// decodeArray is decodeLines for a JSON array, body: the scanner finds
// its items (encoding/json's Decoder, which the general path splits the
// array with, took most of a batch's time) and each is decoded once. ok
// is false when an item is not a whole valid alert, the batch breaks a
// limit or the array is empty; the general path then says why. Every
// batch this accepts, the general path accepts with the same alerts.
func decodeArray(body []byte, maxItems int, maxItemBytes int64, room int) ([]alert.Alert, [][]byte, bool) {
	// The items are copied by decodeFast: the scanner may read the
	// caller's bytes in place.
	sc := scanner{s: unsafe.String(unsafe.SliceData(body), len(body))}
	var out []alert.Alert
	var bufs [][]byte
	ok := sc.array(func() bool {
		sc.ws()
		start := sc.i
		if _, ok := sc.value(); !ok {
			return false
		}
		item := body[start:sc.i]
		if item[0] != '{' || (maxItemBytes > 0 && int64(len(item)) > maxItemBytes) || (maxItems > 0 && len(out) == maxItems) {
			return false
		}
		a, buf, ok := decodeFastRoom(item, room)
		out = append(out, a)
		if room > 0 {
			bufs = append(bufs, buf)
		}
		return ok
	})
	return out, bufs, ok && sc.i == len(sc.s) && len(out) > 0
}

func jsonErr(err error) *Error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return badf("invalid JSON: unexpected end of input")
	case errors.As(err, &se):
		return badf("invalid JSON at offset %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		return badf("invalid JSON: expected an object, got %s", te.Value)
	}
	return badf("invalid JSON: %s", err.Error())
}

// fromMap validates a decoded JSON object field by field, so a wrong type
// gets a message naming the field rather than Go's type names.
func fromMap(m map[string]any) (alert.Alert, error) {
	var a alert.Alert
	var err error
	str := func(key string, required bool) (string, error) {
		v, ok := m[key]
		if !ok || v == nil {
			if required {
				return "", badf("missing %s", key)
			}
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", badf("%s must be a string, got %s", key, typeName(v))
		}
		if required && strings.TrimSpace(s) == "" {
			return "", badf("missing %s", key)
		}
		return s, nil
	}
	if a.Rule, err = str("rule", true); err != nil {
		return a, err
	}
	p, err := str("priority", true)
	if err != nil {
		return a, err
	}
	if a.Priority, err = alert.ParsePriority(p); err != nil {
		return a, badf("%s", err.Error())
	}
	ts, err := str("time", true)
	if err != nil {
		return a, err
	}
	if a.Time, err = parseTime(ts); err != nil {
		return a, err
	}
	if a.Output, err = str("output", false); err != nil {
		return a, err
	}
	if a.Source, err = str("source", false); err != nil {
		return a, err
	}
	if a.Hostname, err = str("hostname", false); err != nil {
		return a, err
	}
	id, err := str("uuid", false)
	if err != nil {
		return a, err
	}
	a.UUID = canonicalUUID(id)
	switch of := m["output_fields"].(type) {
	case nil:
		// Sidekick rejects alerts without output fields; Falco sends an
		// empty object for rules whose output has no %fields, and losing
		// those alerts is worse than storing them without fields.
		a.OutputFields = map[string]any{}
	case map[string]any:
		a.OutputFields = of
	default:
		return a, badf("output_fields must be an object, got %s", typeName(of))
	}
	switch tags := m["tags"].(type) {
	case nil:
	case []any:
		a.Tags = make([]string, 0, len(tags))
		for i, t := range tags {
			s, ok := t.(string)
			if !ok {
				return a, badf("tags[%d] must be a string, got %s", i, typeName(t))
			}
			a.Tags = append(a.Tags, s)
		}
	default:
		return a, badf("tags must be an array of strings, got %s", typeName(tags))
	}
	return a, nil
}

// parseTime reads an alert's time: RFC 3339, after 1970.
func parseTime(ts string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return t, badf("time must be an RFC 3339 timestamp, got %q", ts)
	}
	if t.IsZero() || t.Year() < 1970 {
		return t, badf("time must be after 1970, got %q", ts)
	}
	return t, nil
}

// canonicalUUID keeps a valid incoming uuid (in canonical form): a sender
// retrying after a timeout then produces the same uuid, which the store
// and consumers deduplicate on. Anything else is dropped ("").
func canonicalUUID(id string) string {
	if u, err := uuid.Parse(id); err == nil && id != "" {
		return u.String()
	}
	return ""
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
