package ingest

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/saker-sec/saker/hub/alert"
)

// The hot path's decoder: one pass over a payload, no intermediate map.
// It reads JSON exactly as encoding/json accepts it (the grammar, string
// escapes, control characters refused) and takes the alert's fields in
// their expected types; anything else (invalid UTF-8, which encoding/json
// would repair, a field of another type, nesting beyond alert.MaxDepth,
// a syntax error) makes it give up, and decodeStd then decodes the
// payload again to give the answer and the error message (FuzzDecode
// holds the two to the same results). output_fields are indexed
// (alert.RawField), not decoded: the hot path reads two to four of them.
// All decoded strings share one copy of the payload.

// special marks the bytes a string's scan stops at: the closing quote,
// an escape, and the control characters JSON refuses in strings.
var special = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// scanner reads JSON text in s from i.
type scanner struct {
	s     string
	i     int
	depth int // open objects and arrays
	// plain says s is printable ASCII alone (no control character, no
	// white space but spaces): a string then ends at its first quote
	// that no backslash escapes, which str finds with IndexByte.
	plain bool
}

func (sc *scanner) ws() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c,
// consuming it when it is.
func (sc *scanner) next(c byte) bool {
	sc.ws()
	if sc.i < len(sc.s) && sc.s[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

// str scans the string starting at s[i] (a quote) and returns its JSON
// text, quotes included, and whether it holds escapes.
func (sc *scanner) str() (raw string, escaped, ok bool) {
	s, start := sc.s, sc.i
	i := start + 1
	if sc.plain {
		if q := strings.IndexByte(s[i:], '"'); q >= 0 && strings.IndexByte(s[i:i+q], '\\') < 0 {
			sc.i = i + q + 1
			return s[start:sc.i], false, true
		}
	}
	for i < len(s) {
		if i+8 <= len(s) && !hasSpecial(load8(s, i)) {
			i += 8
			continue
		}
		c := s[i]
		if !special[c] {
			i++
			continue
		}
		switch c {
		case '"':
			sc.i = i + 1
			return s[start:sc.i], escaped, true
		case '\\':
			escaped = true
			if i+1 >= len(s) {
				return "", false, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(s) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) || !isHex(s[i+5]) {
					return "", false, false
				}
				i += 6
			default:
				return "", false, false
			}
		default: // a control character
			return "", false, false
		}
	}
	return "", false, false
}

// load8 is the 8 bytes of s from i (i+8 <= len(s)) as one word.
func load8(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasSpecial reports whether a byte of x is special (a quote, a
// backslash or below 0x20), 8 bytes at a time: the test for a byte below
// n, (x - n·ones) &^ x & highs, is exact about whether there is one.
func hasSpecial(x uint64) bool {
	q, b := x^('"'*ones), x^('\\'*ones)
	return ((x-0x20*ones)&^x|(q-ones)&^q|(b-ones)&^b)&highs != 0
}

// isPlain reports whether every byte of b is printable ASCII (0x20 to
// 0x7f), 8 at a time: a word's bytes are when neither a byte nor the byte
// less 0x20 has its high bit set (no borrow crosses bytes then).
func isPlain(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if (x|(x-0x20*ones))&highs != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 || b[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number scans a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (sc *scanner) number() bool {
	s, i := sc.s, sc.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return false
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	sc.i = i
	return true
}

// literal consumes word (true, false, null) at i.
func (sc *scanner) literal(word string) bool {
	if strings.HasPrefix(sc.s[sc.i:], word) {
		sc.i += len(word)
		return true
	}
	return false
}

// value scans one JSON value after white space and returns its text.
func (sc *scanner) value() (string, bool) {
	sc.ws()
	if sc.i >= len(sc.s) {
		return "", false
	}
	start := sc.i
	var ok bool
	switch c := sc.s[sc.i]; {
	case c == '"':
		_, _, ok = sc.str()
	case c == '{':
		ok = sc.object(nil)
	case c == '[':
		ok = sc.array(nil)
	case c == 't':
		ok = sc.literal("true")
	case c == 'f':
		ok = sc.literal("false")
	case c == 'n':
		ok = sc.literal("null")
	default:
		ok = sc.number()
	}
	return sc.s[start:sc.i], ok
}

// enter opens an object or array: false beyond alert.MaxDepth.
func (sc *scanner) enter() bool {
	sc.depth++
	sc.i++
	return sc.depth <= alert.MaxDepth
}

// object scans the object at i; member, when set, is given each member's
// name (its JSON text) and scans its value itself.
func (sc *scanner) object(member func(key string, escaped bool) bool) bool {
	if !sc.enter() {
		return false
	}
	if sc.next('}') {
		sc.depth--
		return true
	}
	for {
		sc.ws()
		if sc.i >= len(sc.s) || sc.s[sc.i] != '"' {
			return false
		}
		key, escaped, ok := sc.str()
		if !ok || !sc.next(':') {
			return false
		}
		if member != nil {
			ok = member(key, escaped)
		} else {
			_, ok = sc.value()
		}
		if !ok {
			return false
		}
		if sc.next(',') {
			continue
		}
		if sc.next('}') {
			sc.depth--
			return true
		}
		return false
	}
}

// array scans the array at i; elem, when set, scans each element itself.
func (sc *scanner) array(elem func() bool) bool {
	if !sc.enter() {
		return false
	}
	if sc.next(']') {
		sc.depth--
		return true
	}
	for {
		var ok bool
		if elem != nil {
			ok = elem()
		} else {
			_, ok = sc.value()
		}
		if !ok {
			return false
		}
		if sc.next(',') {
			continue
		}
		if sc.next(']') {
			sc.depth--
			return true
		}
		return false
	}
}

// unquote is the string a JSON string's text (quotes included, already
// scanned by str) holds.
func unquote(raw string, escaped bool) (string, bool) {
	if !escaped {
		return raw[1 : len(raw)-1], true
	}
	return alert.Unquote(raw)
}

// stringValue scans a value that must be a string or null ("").
func (sc *scanner) stringValue() (string, bool) {
	sc.ws()
	if sc.i < len(sc.s) && sc.s[sc.i] == '"' {
		raw, escaped, ok := sc.str()
		if !ok {
			return "", false
		}
		return unquote(raw, escaped)
	}
	return "", sc.literal("null")
}

// wire is a payload's fields as scanned, before validation.
type wire struct {
	uuid, output, priority, rule, time, source, hostname string
	fields                                               []alert.RawField
	rawFields                                            string // output_fields' JSON; "" when absent or null
	tags                                                 []string
	plain                                                bool // the payload is printable ASCII (scanner.plain)
	// body is the payload's copy the strings share, at the end of buf;
	// known says its members are the alert's fields alone, each once;
	// hasUUID says one of them is the uuid (see wire.sent).
	buf, body      []byte
	known, hasUUID bool
}

// scanAlert reads one payload, obj (an object without surrounding white
// space), into w; ok is false where it gives up (see above). The copy of
// obj the strings share is made with room bytes ahead of it (w.buf).
func scanAlert(obj []byte, w *wire, room int) bool {
	plain := isPlain(obj)
	if !plain && !utf8.Valid(obj) {
		return false
	}
	buf := make([]byte, room+len(obj))
	body := buf[room:] // the one copy every string shares
	copy(body, obj)
	sc := scanner{s: unsafe.String(unsafe.SliceData(body), len(body)), plain: plain}
	// Fields and tags are gathered on the stack, then copied once.
	var fieldBuf [32]alert.RawField
	var tagBuf [8]string
	var fields []alert.RawField
	var tags []string
	var seen uint16 // the members met, by their bit below
	known := true
	ok := sc.object(func(key string, escaped bool) bool {
		var dst *string
		var bit uint16
		switch key {
		case `"uuid"`:
			dst, bit = &w.uuid, 1
		case `"output"`:
			dst, bit = &w.output, 2
		case `"priority"`:
			dst, bit = &w.priority, 4
		case `"rule"`:
			dst, bit = &w.rule, 8
		case `"time"`:
			dst, bit = &w.time, 16
		case `"source"`:
			dst, bit = &w.source, 32
		case `"hostname"`:
			dst, bit = &w.hostname, 64
		case `"output_fields"`:
			var ok bool
			fields, w.rawFields, ok = sc.outputFields(fieldBuf[:0])
			known = known && seen&128 == 0
			seen |= 128
			return ok
		case `"tags"`:
			var ok bool
			tags, ok = sc.tags(tagBuf[:0])
			known = known && seen&256 == 0
			seen |= 256
			return ok
		default:
			// Another member, or one of these with escapes in its name:
			// a map lookup, the reference, takes it as spelt, and so
			// would the JSON of an unescaped name.
			if escaped {
				return false
			}
			known = false
			_, ok := sc.value()
			return ok
		}
		known = known && seen&bit == 0
		seen |= bit
		v, ok := sc.stringValue()
		*dst = v
		return ok
	})
	if !ok || sc.i != len(sc.s) {
		return false
	}
	w.plain, w.buf, w.body, w.known, w.hasUUID = plain, buf, body, known, seen&1 != 0
	if len(fields) > 0 {
		w.fields = append([]alert.RawField(nil), fields...)
	}
	if tags != nil {
		w.tags = append(make([]string, 0, len(tags)), tags...)
	}
	return true
}

// outputFields scans output_fields (an object, or null: no fields, "")
// and indexes its members in buf.
func (sc *scanner) outputFields(buf []alert.RawField) ([]alert.RawField, string, bool) {
	sc.ws()
	if sc.literal("null") {
		return nil, "", true
	}
	if sc.i >= len(sc.s) || sc.s[sc.i] != '{' {
		return nil, "", false
	}
	start := sc.i
	ok := sc.object(func(key string, escaped bool) bool {
		k, ok := unquote(key, escaped)
		if !ok {
			return false
		}
		v, ok := sc.value()
		buf = append(buf, alert.RawField{Key: k, Value: v})
		return ok
	})
	return buf, sc.s[start:sc.i], ok
}

// tags scans tags (an array of strings, or null: nil) into buf.
func (sc *scanner) tags(buf []string) ([]string, bool) {
	sc.ws()
	if sc.literal("null") {
		return nil, true
	}
	if sc.i >= len(sc.s) || sc.s[sc.i] != '[' {
		return nil, false
	}
	ok := sc.array(func() bool {
		sc.ws()
		if sc.i >= len(sc.s) || sc.s[sc.i] != '"' {
			return false // a null tag is refused, not read as ""
		}
		raw, escaped, ok := sc.str()
		if !ok {
			return false
		}
		t, ok := unquote(raw, escaped)
		buf = append(buf, t)
		return ok
	})
	return buf, ok
}
