package alert

import (
	"time"
)

// Alert is one Falco alert in the JSON shape Falco emits with
// json_output: true and json_include_output_property: true, plus the uuid
// that falcosidekick-style consumers add. The hub accepts it on POST /, the
// sensor produces it and every forwarder receives it.
//
// OutputFields values keep their JSON types. Decoders must use
// json.Decoder.UseNumber so integers such as evt.time (nanoseconds) survive
// without float rounding. The hub's ingest decoder leaves OutputFields nil
// and indexes the sender's bytes instead (RawOutputFields, RawFields):
// read output fields through Field, FieldValue, HasNestedField and Fields,
// which serve both forms.
type Alert struct {
	UUID         string         `json:"uuid,omitempty"`
	Output       string         `json:"output"`
	Priority     Priority       `json:"priority"`
	Rule         string         `json:"rule"`
	Time         time.Time      `json:"time"`
	OutputFields map[string]any `json:"output_fields"`
	Source       string         `json:"source,omitempty"`
	Tags         []string       `json:"tags,omitempty"`
	Hostname     string         `json:"hostname,omitempty"`

	// Encoded, when set, is this alert's JSON encoding, made once on the
	// hot path after decoding and enrichment (ingest.Encode): numbers
	// are json.Number, nesting is within MaxDepth, and the maps are the
	// alert's own. Stores write these bytes instead of encoding again;
	// they may share memory with the alert's strings, so nothing writes
	// into them. Whoever changes a field after encoding must clear it.
	Encoded []byte `json:"-"`
	// Sent, when set, is the JSON the alert was decoded from, on one
	// line, whose members are the alert's fields as they are now but for
	// the uuid: it holds the alert's UUID, or none when UUIDGenerated
	// (ingest.Encode then writes these bytes, with the uuid ahead).
	// Whoever changes another field must clear it (SetFields does).
	Sent []byte `json:"-"`
	// RawOutputFields, when set, is output_fields exactly as the sender's
	// JSON held it (one compact line, valid UTF-8, an object) and
	// OutputFields (or, when that is nil, RawFields) is its decoding:
	// encoding the alert then copies these bytes instead of encoding the
	// fields again. Whoever changes the fields must clear it (SetFields).
	RawOutputFields []byte `json:"-"`
	// RawFields, when OutputFields is nil, are output_fields' members
	// (RawOutputFields' members, when that is set) in the sender's order:
	// the decoder's index of them, which Field and the other accessors
	// read. Nothing may change the bytes RawOutputFields and RawFields
	// share.
	RawFields []RawField `json:"-"`
	// UUIDGenerated says the hub made UUID up (the sender gave none, as
	// Falco does): no sender can retry with it, so stores need not
	// remember it to recognise a retry.
	UUIDGenerated bool `json:"-"`
}

// TestRule is the rule of the test alert POST /test injects. Forwarders
// deliver it whatever their minimum priority, as falcosidekick does (its
// test alert is Debug, so any *_MINIMUMPRIORITY would drop it otherwise).
const TestRule = "Test rule"

// IsTest reports whether a is a test alert (rule TestRule).
func (a *Alert) IsTest() bool { return a.Rule == TestRule }
