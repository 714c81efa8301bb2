package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unsafe"

	"github.com/google/uuid"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/hub/config"
)

// Options are falcosidekick's enrichment settings.
type Options struct {
	// CustomFields are added to every alert's output_fields, replacing
	// incoming values of the same name (as sidekick does). Values are
	// already resolved (a "%VAR" value is read from the environment by
	// the config package).
	CustomFields map[string]string
	// TemplatedFields are Go templates (parsed once, by the config
	// package) executed over output_fields; the result is stored under
	// the field's name.
	TemplatedFields []config.TemplatedField
	// CustomTags are appended to every alert's tags.
	CustomTags []string
	// BracketReplacer, when set, rewrites output field names such as
	// "proc.aname[2]" to "proc.aname<r>2" (brackets break some outputs).
	BracketReplacer string
	// OutputFieldFormat rewrites the output line, sidekick's
	// OUTPUTFIELDFORMAT: tokens <timestamp> <priority> <output>
	// <custom_fields> <templated_fields> <tags>.
	OutputFieldFormat string
}

// Enricher applies Options to decoded alerts.
type Enricher struct {
	opts       Options
	customKeys []string
}

// NewEnricher validates opts.
func NewEnricher(opts Options) (*Enricher, error) {
	e := &Enricher{opts: opts}
	for k := range opts.CustomFields {
		e.customKeys = append(e.customKeys, k)
	}
	sort.Strings(e.customKeys)
	for _, t := range opts.TemplatedFields {
		if t.Template == nil {
			return nil, fmt.Errorf("templated field %q: no template", t.Name)
		}
	}
	return e, nil
}

// falcoOutput matches Falco's output line, "12:00:00.123456789: Warning …",
// the only shape OUTPUTFIELDFORMAT rewrites (as in sidekick).
var falcoOutput = regexp.MustCompile(`(?i)^[0-9:]+\.[0-9]+: (Debug|Info|Informational|Notice|Warning|Error|Critical|Alert|Emergency) `)

// Enrich fills defaults (source, uuid) and applies the options to a. It
// never fails: a template that fails on one alert stores the error text in
// the field so the problem is visible where it shows.
func (e *Enricher) Enrich(a *alert.Alert) {
	if a.OutputFields == nil && a.RawOutputFields == nil {
		a.SetFields(map[string]any{})
	}
	if len(e.customKeys) > 0 || len(e.opts.TemplatedFields) > 0 ||
		(e.opts.BracketReplacer != "" && a.OutputFields == nil && hasBracketKey(a.RawFields)) {
		a.SetFields(a.Fields()) // the fields change below
	}
	if a.Source == "" {
		a.Source, a.Sent = DefaultSource, nil
	}
	if a.UUID == "" {
		a.UUID, a.UUIDGenerated = newUUID(), true
	}
	var customStr, tmplStr []string
	for _, k := range e.customKeys {
		v := e.opts.CustomFields[k]
		a.OutputFields[k] = v
		customStr = append(customStr, k+"="+v)
	}
	for _, t := range e.opts.TemplatedFields {
		var buf bytes.Buffer
		v := ""
		if err := t.Template.Execute(&buf, a.OutputFields); err != nil {
			v = "template error: " + err.Error()
		} else {
			v = buf.String()
		}
		a.OutputFields[t.Name] = v
		tmplStr = append(tmplStr, t.Name+"="+v)
	}
	if len(e.opts.CustomTags) > 0 {
		a.Tags, a.Sent = append(a.Tags, e.opts.CustomTags...), nil
	}
	if len(a.Tags) > 0 {
		if !slices.IsSorted(a.Tags) { // Falco sends them sorted
			slices.Sort(a.Tags)
			a.Sent = nil
		}
		if d := dedupSorted(a.Tags); len(d) != len(a.Tags) {
			a.Tags, a.Sent = d, nil
		}
	}
	if r := e.opts.BracketReplacer; r != "" && a.OutputFields != nil {
		for k, v := range a.OutputFields {
			if strings.Contains(k, "[") {
				a.SetFields(a.OutputFields)
				delete(a.OutputFields, k)
				a.OutputFields[strings.ReplaceAll(strings.ReplaceAll(k, "]", ""), "[", r)] = v
			}
		}
	}
	if f := e.opts.OutputFieldFormat; f != "" && falcoOutput.MatchString(a.Output) {
		parts := strings.SplitN(a.Output, " ", 3)
		if len(parts) == 3 {
			out := strings.NewReplacer(
				"<timestamp>", strings.TrimSuffix(parts[0], ":"),
				"<priority>", a.Priority.String(),
				"<output>", parts[2],
				"<custom_fields>", strings.Join(customStr, " "),
				"<templated_fields>", strings.Join(tmplStr, " "),
				"<tags>", strings.Join(a.Tags, ","),
			).Replace(f)
			out = strings.TrimSpace(out)
			out = strings.TrimSuffix(out, "( )")
			out = strings.TrimSuffix(out, "()")
			a.Output, a.Sent = strings.TrimSpace(out), nil
		}
	}
}

// Prepare is POST /'s work on one payload before the store: DecodeOne,
// Enrich and Encode, with the same alert and encoding. The decoder leaves
// room ahead of its copy of the payload, so that an alert stored as sent
// (alert.Alert.Sent) that came without a uuid, as Falco's do, has the one
// Enrich makes up written there (encodeInRoom), where Encode would copy
// the payload again behind the uuid.
func (e *Enricher) Prepare(body []byte) (alert.Alert, error) {
	var a alert.Alert
	var buf []byte
	trimmed := bytes.TrimSpace(body)
	ok := len(trimmed) > 0 && trimmed[0] == '{'
	if ok {
		a, buf, ok = decodeFastRoom(trimmed, uuidRoom)
	}
	if !ok {
		var err error
		if a, err = decodeStd(body); err != nil {
			return a, err
		}
	}
	e.prepare(&a, buf)
	return a, nil
}

// PrepareBatch is Prepare for POST /api/v1/events: DecodeBatchLimit, then
// Enrich and Encode for each alert.
func (e *Enricher) PrepareBatch(body []byte, maxItems int, maxItemBytes int64) ([]alert.Alert, error) {
	as, bufs, err := decodeBatch(body, maxItems, maxItemBytes, uuidRoom)
	if err != nil {
		return nil, err
	}
	for i := range as {
		var buf []byte
		if bufs != nil {
			buf = bufs[i]
		}
		e.prepare(&as[i], buf)
	}
	return as, nil
}

// prepare enriches and encodes a, decoded into buf (or nil).
func (e *Enricher) prepare(a *alert.Alert, buf []byte) {
	e.Enrich(a)
	if !encodeInRoom(a, buf) {
		Encode(a)
	}
}

// uuidMember is the length of the uuid member written ahead of a payload,
// {"uuid":"<36 characters>", and uuidRoom the room the decoder leaves for
// it: the payload's opening brace is overwritten.
const (
	uuidMember = len(`{"uuid":"`) + 36 + len(`",`)
	uuidRoom   = uuidMember - 1
)

// encodeInRoom encodes a, stored as sent with a uuid the hub made up, in
// buf: its payload's copy behind uuidRoom bytes, which no string holds.
// ok is false for any other alert or buffer.
func encodeInRoom(a *alert.Alert, buf []byte) bool {
	if a.Sent == nil || !a.UUIDGenerated || len(a.UUID) != 36 || !a.Priority.Valid() ||
		len(buf) != uuidRoom+len(a.Sent) || unsafe.SliceData(buf[uuidRoom:]) != unsafe.SliceData(a.Sent) {
		return false
	}
	n := copy(buf, `{"uuid":"`)
	n += copy(buf[n:], a.UUID)
	copy(buf[n:], `",`) // over the payload's '{'
	a.Encoded, a.Sent = buf, nil
	return true
}

// newUUID makes a random (version 4) uuid for an alert that came without
// one. It names the alert, it is no secret: its 122 random bits come from
// math/rand/v2's generator (ChaCha8, seeded by the runtime from the
// system's entropy in each process), a third of the cost of a read of
// crypto/rand per alert.
func newUUID() string {
	var u uuid.UUID
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u.String()
}

func dedupSorted(s []string) []string {
	out := s[:1]
	for _, v := range s[1:] {
		if v != out[len(out)-1] {
			out = append(out, v)
		}
	}
	return out
}

func hasBracketKey(fields []alert.RawField) bool {
	for _, f := range fields {
		if strings.Contains(f.Key, "[") {
			return true
		}
	}
	return false
}
