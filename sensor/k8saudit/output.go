package k8saudit

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/saker-sec/saker/sensor/fields"
)

// NA is printed for a field with no value, as Falco prints it.
const NA = "<NA>"

// formatter is a compiled k8s_audit rule output.
type formatter struct {
	tokens []token
	refs   []token // field tokens, unique by key, for output_fields
}

type token struct {
	lit string
	key string // the field as written: "ka.uri.param[command]"
	r   fields.Resolved
}

var fieldNames = sync.OnceValue(Fields{}.names)

// compileOutput compiles a rule output against the k8s_audit fields.
func compileOutput(format string) (*formatter, error) {
	format = strings.TrimPrefix(format, "*")
	f := &formatter{}
	seen := map[string]bool{}
	lit := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(format) && isFieldChar(format[j]) {
			j++
		}
		run := format[i+1 : j]
		name := ""
		for _, n := range fieldNames() {
			if len(n) > len(name) && strings.HasPrefix(run, n) && (len(run) == len(n) || !isIdentChar(run[len(n)])) {
				name = n
			}
		}
		if name == "" {
			continue // not a field: kept as text, as "100%" would be
		}
		end := i + 1 + len(name)
		arg, hasArg := "", false
		if end < len(format) && format[end] == '[' {
			k := strings.IndexByte(format[end:], ']')
			if k < 0 {
				return nil, fmt.Errorf("invalid formatting token %q: missing ']'", format[i:])
			}
			arg, hasArg = format[end+1:end+k], true
			end += k + 1
		}
		r, err := Fields{}.Resolve(name, arg, hasArg)
		if err != nil {
			return nil, fmt.Errorf("invalid formatting token %q: %w", format[i:end], err)
		}
		if lit < i {
			f.tokens = append(f.tokens, token{lit: format[lit:i]})
		}
		t := token{key: format[i+1 : end], r: r}
		f.tokens = append(f.tokens, t)
		if !seen[t.key] {
			seen[t.key] = true
			f.refs = append(f.refs, t)
		}
		lit = end
		i = end - 1
	}
	if lit < len(format) {
		f.tokens = append(f.tokens, token{lit: format[lit:]})
	}
	return f, nil
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isFieldChar(c byte) bool { return isIdentChar(c) || c == '.' }

// appendText renders the output: list values as "(a,b)", a missing value
// as <NA>, as Falco prints them.
func (f *formatter) appendText(b []byte, ev *evalEvent) []byte {
	for _, t := range f.tokens {
		if t.key == "" {
			b = append(b, t.lit...)
			continue
		}
		v, ok := t.r.Extract(&ev.ev)
		switch {
		case !ok:
			b = append(b, NA...)
		case v.IsList:
			b = append(b, '(')
			for i, s := range v.List {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, s...)
			}
			b = append(b, ')')
		default:
			b = append(b, v.S...)
		}
	}
	return b
}

// fields returns output_fields: every field of the output keyed as
// written (strings, lists as arrays, nil when missing) plus evt.time.
func (f *formatter) fields(ev *evalEvent) map[string]any {
	m := make(map[string]any, len(f.refs)+1)
	for _, t := range f.refs {
		v, ok := t.r.Extract(&ev.ev)
		switch {
		case !ok:
			m[t.key] = nil
		case v.IsList:
			m[t.key] = append([]string(nil), v.List...)
		default:
			m[t.key] = strings.Clone(v.S) // values alias the parser's memory
		}
	}
	m["evt.time"] = ev.ev.TS
	return m
}

// appendTime appends Falco's line prefix time: local HH:MM:SS.nnnnnnnnn,
// or ISO 8601 UTC with time_format_iso_8601.
func appendTime(b []byte, ns int64, iso bool, loc *time.Location) []byte {
	t := time.Unix(0, ns)
	if iso {
		return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z")
	}
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).AppendFormat(b, "15:04:05.000000000")
}
