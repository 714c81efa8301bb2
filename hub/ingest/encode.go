package ingest

import (
	"time"
	"unicode/utf8"

	"github.com/saker-sec/saker/hub/alert"
)

// encodeRaw is a's JSON, alert.Alert's encoding with output_fields
// copied from a.RawOutputFields, in one allocation: the fields in the struct's order,
// its omitempty ones left out when empty (TestEncodeRawIsAlertJSON
// holds it to encoding/json's encoding). a.Priority must be valid.
func encodeRaw(a *alert.Alert) []byte {
	n := len(a.UUID) + len(a.Output) + len(a.Rule) + len(a.RawOutputFields) + len(a.Source) + len(a.Hostname) + 160
	for _, t := range a.Tags {
		n += len(t) + 3
	}
	b := make([]byte, 0, n)
	if a.UUID != "" {
		b = append(b, `{"uuid":`...)
		b = appendString(b, a.UUID)
		b = append(b, `,"output":`...)
	} else {
		b = append(b, `{"output":`...)
	}
	b = appendString(b, a.Output)
	b = append(b, `,"priority":`...)
	b = appendString(b, a.Priority.String())
	b = append(b, `,"rule":`...)
	b = appendString(b, a.Rule)
	b = append(b, `,"time":"`...)
	b = a.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","output_fields":`...)
	b = append(b, a.RawOutputFields...)
	if a.Source != "" {
		b = append(b, `,"source":`...)
		b = appendString(b, a.Source)
	}
	if len(a.Tags) > 0 {
		b = append(b, `,"tags":[`...)
		for i, t := range a.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	if a.Hostname != "" {
		b = append(b, `,"hostname":`...)
		b = appendString(b, a.Hostname)
	}
	return append(b, '}')
}

// plain marks the ASCII bytes a JSON string holds as they are.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it but for HTML's characters (which it need not escape): quote,
// backslash and control characters, U+2028 and U+2029; invalid UTF-8
// becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			// Eight plain ASCII bytes at once: none special, none high.
			if x := load8(s, i); !hasSpecial(x) && x&highs == 0 {
				i += 8
				continue
			}
		}
		if c := s[i]; c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
