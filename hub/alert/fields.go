package alert

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// RawField is one member of output_fields as the sender's JSON holds it:
// its name, decoded, and its value's JSON text (a string value with its
// quotes). The hub's decoder indexes output_fields this way instead of
// decoding them into a map: the few fields the hot path reads are looked
// up here, and the map, most of a payload's allocations, is built only
// for whoever asks for it (Fields).
type RawField struct {
	Key   string
	Value string
}

// kind is the JSON type of a raw value, from its first byte.
func (f RawField) kind() byte { return f.Value[0] }

// str is the value of a string field, unquoted; ok is false for another
// type.
func (f RawField) str() (string, bool) {
	if f.kind() != '"' {
		return "", false
	}
	body := f.Value[1 : len(f.Value)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body, true
	}
	return Unquote(f.Value)
}

// value is the field's value as encoding/json decodes it with UseNumber:
// string, json.Number, bool, nil, map[string]any or []any.
func (f RawField) value() any {
	switch f.kind() {
	case '"':
		s, _ := f.str()
		return s
	case 't':
		return true
	case 'f':
		return false
	case 'n':
		return nil
	case '{', '[':
		dec := json.NewDecoder(strings.NewReader(f.Value))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		return v
	}
	return json.Number(f.Value)
}

// rawField returns the member named name; the last one when the sender
// repeated it, as decoding into a map keeps the last.
func (a *Alert) rawField(name string) (RawField, bool) {
	for i := len(a.RawFields) - 1; i >= 0; i-- {
		if a.RawFields[i].Key == name {
			return a.RawFields[i], true
		}
	}
	return RawField{}, false
}

// Field returns output_fields[name] as a string when it is one; containers'
// and Kubernetes' names are looked up this way for indexing and labels.
func (a *Alert) Field(name string) (string, bool) {
	if a.OutputFields != nil {
		v, ok := a.OutputFields[name]
		if !ok {
			return "", false
		}
		s, ok := v.(string)
		return s, ok
	}
	if f, ok := a.rawField(name); ok {
		return f.str()
	}
	return "", false
}

// FieldValue returns output_fields[name] as encoding/json decodes it with
// UseNumber (a number is a json.Number); ok is false when it is absent.
func (a *Alert) FieldValue(name string) (any, bool) {
	if a.OutputFields != nil {
		v, ok := a.OutputFields[name]
		return v, ok
	}
	if f, ok := a.rawField(name); ok {
		return f.value(), true
	}
	return nil, false
}

// HasNestedField reports whether an output field's value is an object or
// an array.
func (a *Alert) HasNestedField() bool {
	if a.OutputFields != nil {
		for _, v := range a.OutputFields {
			switch v.(type) {
			case map[string]any, []any:
				return true
			}
		}
		return false
	}
	for _, f := range a.RawFields {
		if k := f.kind(); k == '{' || k == '[' {
			return true
		}
	}
	return false
}

// Fields returns output_fields as a map: OutputFields when it is set,
// else a new map decoded from RawFields (an empty one when the alert has
// neither). Whoever changes the fields sets OutputFields to the changed
// map and clears RawOutputFields and RawFields (see SetFields).
func (a *Alert) Fields() map[string]any {
	if a.OutputFields != nil {
		return a.OutputFields
	}
	m := make(map[string]any, len(a.RawFields))
	for _, f := range a.RawFields {
		m[f.Key] = f.value()
	}
	return m
}

// SetFields makes m the alert's output_fields: the sender's bytes and
// their index no longer describe them, nor does Sent.
func (a *Alert) SetFields(m map[string]any) {
	a.OutputFields, a.RawOutputFields, a.RawFields, a.Sent = m, nil, nil, nil
}

// Unquote is the string a JSON string's text (quotes included, valid
// JSON in valid UTF-8) holds, escapes decoded as encoding/json decodes
// them: a \u escape of half a surrogate pair that is not followed by the
// other half is U+FFFD. ok is false for text that is not a JSON string.
func Unquote(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	b := make([]byte, 0, len(body))
	for i := 0; i < len(body); {
		j := strings.IndexByte(body[i:], '\\')
		if j < 0 {
			b = append(b, body[i:]...)
			break
		}
		b = append(b, body[i:i+j]...)
		i += j
		if i+1 >= len(body) {
			return "", false
		}
		c := body[i+1]
		switch c {
		case '"', '\\', '/':
			b = append(b, c)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(body, i+2)
			if !ok {
				return "", false
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(body, i+2); ok && body[i] == '\\' && body[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						b = utf8.AppendRune(b, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", false
		}
		i += 2
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

// hex4 reads the four hex digits of a \u escape at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
