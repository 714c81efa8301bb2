// Package output turns rule matches into Falco alerts and delivers them:
// format.go compiles Falco output format strings (%field substitution) and
// builds the text line and the JSON alert exactly as Falco does; the sink
// files (stdout, file, syslog, program, http) deliver them with Falco's
// falco.yaml options.
package output

import (
	"encoding/base64"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/saker-sec/saker/hub/alert"
	"github.com/saker-sec/saker/sensor/event"
	"github.com/saker-sec/saker/sensor/fields"
)

// NA is what Falco prints for a field whose value cannot be extracted.
const NA = "<NA>"

// DefaultExtraOutput is what Falco 0.44 appends (after a space) to the
// output of every syscall-source rule by default (falco.yaml append_output).
const DefaultExtraOutput = "container_id=%container.id container_name=%container.name container_image_repository=%container.image.repository container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name"

// Source is the event source of every alert the sensor emits.
const Source = "syscall"

// Options tune formatting; the zero value is Falco's default except for
// ExtraOutput, which Compile fills with DefaultExtraOutput.
type Options struct {
	// ExtraOutput is appended, after a space, to every format (Falco's
	// append_output extra_output). NoExtraOutput disables it.
	ExtraOutput   string
	NoExtraOutput bool
	// ExtraFields are fields added to output_fields only, not to the text
	// (append_output extra_fields given as field names: "proc.pid",
	// "proc.aname[2]").
	ExtraFields []string
	// TimeISO8601 prints the text line's time as UTC ISO 8601
	// (time_format_iso_8601: true) instead of local HH:MM:SS.nnnnnnnnn.
	TimeISO8601 bool
	// Location is the zone of the local time (default time.Local).
	Location *time.Location
	// Hostname goes into each alert (default: fields.Hostname()).
	Hostname string
}

// transformer is an output transformer applied to a field's text.
type transformer uint8

const (
	trNone transformer = iota
	trToLower
	trToUpper
	trB64
	trBasename
	trLen
)

var transformers = map[string]transformer{"tolower": trToLower, "toupper": trToUpper, "b64": trB64, "basename": trBasename, "len": trLen}

// token is one piece of a compiled format: literal text, or a field.
type token struct {
	lit   string
	field *fieldRef
}

// fieldRef is one %field of a format.
type fieldRef struct {
	key   string // output_fields key: the field as written ("proc.aname[2]")
	r     fields.Resolved
	tr    transformer
	width int // %12proc.name: pad/truncate to width (0 = none)
}

// Formatter is a compiled output format. It is immutable and safe for
// concurrent use.
type Formatter struct {
	format string
	tokens []token
	refs   []*fieldRef // unique by key, in order of first appearance
	opts   Options
}

// Compile compiles a rule's output format with Falco's default options
// (the default extra output appended).
func Compile(format string) (*Formatter, error) { return CompileWith(format, Options{}) }

// CompileWith compiles an output format with explicit options.
func CompileWith(format string, o Options) (*Formatter, error) {
	if o.ExtraOutput == "" && !o.NoExtraOutput {
		o.ExtraOutput = DefaultExtraOutput
	}
	// libs strips one leading '*' (Falco's "print <NA> for missing values"
	// marker, which Saker always applies).
	format = strings.TrimPrefix(format, "*")
	full := format
	if !o.NoExtraOutput && o.ExtraOutput != "" {
		full = format + " " + o.ExtraOutput
	}
	toks, err := parseFormat(full)
	if err != nil {
		return nil, err
	}
	f := &Formatter{format: format, tokens: toks, opts: o}
	seen := map[string]bool{}
	for _, t := range toks {
		if t.field != nil && !seen[t.field.key] {
			seen[t.field.key] = true
			f.refs = append(f.refs, t.field)
		}
	}
	for _, name := range o.ExtraFields {
		et, err := parseFormat("%" + strings.TrimPrefix(name, "%"))
		if err != nil || len(et) != 1 || et[0].field == nil {
			if err == nil {
				err = fmt.Errorf("not a single field")
			}
			return nil, fmt.Errorf("extra field %q: %w", name, err)
		}
		if r := et[0].field; !seen[r.key] {
			seen[r.key] = true
			f.refs = append(f.refs, r)
		}
	}
	return f, nil
}

// isFieldChar reports the characters a field name run is made of.
func isFieldChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
}

func isIdentChar(c byte) bool { return isFieldChar(c) && c != '.' }

// parseFormat splits a format into literal and field tokens as libs'
// sinsp_evt_formatter does: '%' then an optional width, then the longest
// registered field name prefixing the text, then an optional [arg] or, for
// fields taking a key, .arg. %transformer(field) applies a transformer.
func parseFormat(s string) ([]token, error) {
	var toks []token
	lit := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i > lit {
			toks = append(toks, token{lit: s[lit:i]})
		}
		j := i + 1
		if j >= len(s) {
			return nil, fmt.Errorf("invalid formatting syntax at offset %d: formatting cannot end with a %%", i)
		}
		width := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			width = width*10 + int(s[j]-'0')
			if width > 1<<16 {
				return nil, fmt.Errorf("invalid formatting width at offset %d", i)
			}
			j++
		}
		ref := &fieldRef{width: width}
		// transformer?
		k := j
		for k < len(s) && isIdentChar(s[k]) {
			k++
		}
		if k < len(s) && s[k] == '(' {
			tr, ok := transformers[s[j:k]]
			if !ok {
				return nil, fmt.Errorf("invalid formatting token %s: unknown transformer %q", s[i:], s[j:k])
			}
			end, key, r, err := parseField(s, k+1)
			if err != nil {
				return nil, err
			}
			if end >= len(s) || s[end] != ')' {
				return nil, fmt.Errorf("invalid formatting token %s: missing ')'", s[i:])
			}
			ref.tr, ref.r, ref.key = tr, r, s[j:k]+"("+key+")"
			j = end + 1
		} else {
			end, key, r, err := parseField(s, j)
			if err != nil {
				return nil, err
			}
			ref.r, ref.key = r, key
			j = end
		}
		toks = append(toks, token{field: ref})
		lit = j
		i = j - 1
	}
	if lit < len(s) {
		toks = append(toks, token{lit: s[lit:]})
	}
	return toks, nil
}

var fieldNames = sync.OnceValue(func() []string {
	all := fields.All()
	names := make([]string, len(all))
	for i, f := range all {
		names[i] = f.Name
	}
	return names
})

// parseField parses a field reference at s[i:], returning the index after
// it, its text as written and the resolved field.
func parseField(s string, i int) (int, string, fields.Resolved, error) {
	j := i
	for j < len(s) && isFieldChar(s[j]) {
		j++
	}
	run := s[i:j]
	// Longest registered field name that prefixes the run.
	name := ""
	for _, n := range fieldNames() {
		if len(n) > len(name) && strings.HasPrefix(run, n) {
			name = n
		}
	}
	if name == "" {
		tok := s[i:]
		if len(tok) > 40 {
			tok = tok[:40]
		}
		return 0, "", fields.Resolved{}, fmt.Errorf("invalid formatting token %q: unknown field", tok)
	}
	f, _ := fields.Lookup(name)
	end := i + len(name)
	arg, hasArg := "", false
	switch {
	case end < len(s) && s[end] == '[' && f.Arg != fields.NoArg:
		close := strings.IndexByte(s[end:], ']')
		if close < 0 {
			return 0, "", fields.Resolved{}, fmt.Errorf("invalid formatting token %q: missing ']'", s[i:])
		}
		arg, hasArg = s[end+1:end+close], true
		end += close + 1
	case end+1 < len(s) && s[end] == '.' && isIdentChar(s[end+1]) && (f.Arg == fields.KeyArg || f.Arg == fields.IndexOrKey || f.Arg == fields.RequiredArg):
		k := end + 1
		for k < len(s) && isIdentChar(s[k]) {
			k++
		}
		arg, hasArg = s[end+1:k], true
		end = k
	}
	if f.FilterOnly {
		return 0, "", fields.Resolved{}, fmt.Errorf("%s is filter only and cannot be used as a display field", name)
	}
	r, err := fields.Resolve(name, arg, hasArg)
	if err != nil {
		return 0, "", fields.Resolved{}, fmt.Errorf("invalid formatting token %q: %w", s[i:end], err)
	}
	return end, s[i:end], r, nil
}

// Format returns the rule output with fields substituted (without the
// time and priority prefix of the text line).
func (f *Formatter) Format(ev *event.Event) string {
	return string(f.AppendFormat(make([]byte, 0, 256), ev))
}

// AppendFormat appends the substituted output to b.
func (f *Formatter) AppendFormat(b []byte, ev *event.Event) []byte {
	for _, t := range f.tokens {
		if t.field == nil {
			b = append(b, t.lit...)
			continue
		}
		start := len(b)
		b = t.field.appendText(b, ev, f.opts)
		if w := t.field.width; w > 0 {
			if n := len(b) - start; n > w {
				b = b[:start+w]
			} else {
				for ; n < w; n++ {
					b = append(b, ' ')
				}
			}
		}
	}
	return b
}

// appendText renders one field as Falco prints it.
func (r *fieldRef) appendText(b []byte, ev *event.Event, o Options) []byte {
	v, ok := r.r.Extract(ev)
	if !ok {
		return append(b, NA...)
	}
	if r.tr != trNone {
		s, n, isNum := r.transform(v, ev, o)
		if isNum {
			return strconv.AppendInt(b, n, 10)
		}
		return append(b, s...)
	}
	return appendValue(b, r.r, v, o)
}

func appendValue(b []byte, r fields.Resolved, v fields.Value, o Options) []byte {
	if v.IsList {
		b = append(b, '(')
		for i, s := range v.List {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, s...)
		}
		return append(b, ')')
	}
	switch r.Type {
	case fields.String, fields.Flags:
		return append(b, v.S...)
	case fields.Bytes:
		return append(b, v.B...)
	case fields.Bool:
		return strconv.AppendBool(b, v.N != 0)
	case fields.IPAddr:
		return v.IP.AppendTo(b)
	case fields.IPNet:
		return append(b, "<IPNET>"...) // libs prints network fields so
	case fields.Uint64, fields.Uint32, fields.Port:
		return strconv.AppendUint(b, uint64(v.N), 10)
	case fields.Double:
		return strconv.AppendFloat(b, v.F, 'f', 1, 64) // libs' "%.1lf"
	case fields.AbsTime:
		if r.Field.Name == "evt.time" {
			return appendEvtTime(b, v.N, o)
		}
		return strconv.AppendInt(b, v.N, 10)
	}
	return strconv.AppendInt(b, v.N, 10)
}

// appendEvtTime renders %evt.time: local HH:MM:SS.nnnnnnnnn, or with
// time_format_iso_8601 UTC YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000.
func appendEvtTime(b []byte, ns int64, o Options) []byte {
	t := time.Unix(0, ns)
	if o.TimeISO8601 {
		return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000-0700")
	}
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).AppendFormat(b, "15:04:05.000000000")
}

// transform applies the ref's transformer to a value's text.
func (r *fieldRef) transform(v fields.Value, ev *event.Event, o Options) (string, int64, bool) {
	var s string
	if v.IsList {
		if r.tr == trLen {
			return "", int64(len(v.List)), true
		}
		s = string(appendValue(nil, r.r, v, o))
	} else if r.r.Type == fields.String {
		s = v.S
	} else {
		s = string(appendValue(nil, r.r, v, o))
	}
	switch r.tr {
	case trToLower:
		return strings.ToLower(s), 0, false
	case trToUpper:
		return strings.ToUpper(s), 0, false
	case trB64:
		return base64.StdEncoding.EncodeToString([]byte(s)), 0, false
	case trBasename:
		if s == "" {
			return "", 0, false
		}
		if strings.HasSuffix(s, "/") {
			return "", 0, false
		}
		return path.Base(s), 0, false
	case trLen:
		return "", int64(len(s)), true
	}
	return s, 0, false
}

// timeFields are rendered as text in lines but, as libs' extract_as_js
// does, as integer nanoseconds in output_fields.
var timeFields = map[string]bool{"evt.time": true, "evt.time.s": true, "evt.time.iso8601": true, "evt.datetime": true, "evt.datetime.s": true}

// jsonValue is a field's typed output_fields value (nil when missing).
func (r *fieldRef) jsonValue(ev *event.Event, o Options) any {
	if r.tr == trNone && timeFields[r.r.Field.Name] {
		return ev.TS
	}
	v, ok := r.r.Extract(ev)
	if !ok {
		return nil
	}
	if r.tr != trNone {
		s, n, isNum := r.transform(v, ev, o)
		if isNum {
			return n
		}
		return s
	}
	if v.IsList {
		return append([]string(nil), v.List...)
	}
	switch r.r.Type {
	case fields.String, fields.Flags:
		return strings.Clone(v.S) // values may alias event memory
	case fields.Bytes:
		return string(v.B)
	case fields.Bool:
		return v.N != 0
	case fields.IPAddr:
		return v.IP.String()
	case fields.IPNet:
		return "<IPNET>"
	case fields.Uint64, fields.Uint32, fields.Port, fields.AbsTime:
		return uint64(v.N)
	case fields.Double:
		return v.F
	}
	return v.N
}

// Fields returns output_fields: every field of the format keyed as
// written, with typed values (nil when missing), plus the time field of
// the line's prefix (evt.time, or evt.time.iso8601 with
// time_format_iso_8601) as integer nanoseconds, as Falco adds it.
func (f *Formatter) Fields(ev *event.Event) map[string]any {
	m := make(map[string]any, len(f.refs)+1)
	for _, r := range f.refs {
		m[r.key] = r.jsonValue(ev, f.opts)
	}
	if f.opts.TimeISO8601 {
		m["evt.time.iso8601"] = ev.TS
	} else {
		m["evt.time"] = ev.TS
	}
	return m
}

// AppendLine appends Falco's text line "TIME: Priority output".
func (f *Formatter) AppendLine(b []byte, ev *event.Event, p alert.Priority) []byte {
	b = appendEvtTime(b, ev.TS, f.opts)
	b = append(b, ": "...)
	b = append(b, p.String()...)
	b = append(b, ' ')
	return f.AppendFormat(b, ev)
}

// Line returns Falco's text line for a match.
func (f *Formatter) Line(ev *event.Event, p alert.Priority) string {
	return string(f.AppendLine(make([]byte, 0, 512), ev, p))
}

// Alert builds the Falco alert for a match of rule on ev: output is the
// text line (as Falco's JSON "output"), time is the event time in UTC,
// tags sorted as Falco's tag set.
func (f *Formatter) Alert(ev *event.Event, rule string, p alert.Priority, tags []string) alert.Alert {
	host := f.opts.Hostname
	if host == "" {
		host = fields.Hostname()
	}
	var ts []string
	if len(tags) > 0 {
		ts = append([]string(nil), tags...)
		sort.Strings(ts)
	}
	return alert.Alert{
		Output:       f.Line(ev, p),
		Priority:     p,
		Rule:         rule,
		Time:         time.Unix(0, ev.TS).UTC(),
		OutputFields: f.Fields(ev),
		Source:       Source,
		Tags:         ts,
		Hostname:     host,
	}
}
