package alert

import (
	"strings"
	"testing"
)

func TestJSONDepth(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{`1`, 0},
		{`"[[[{"`, 0},
		{`{}`, 1},
		{`{"a":[1,{"b":[]}]}`, 4},
		{`{"a":"\"[[["}`, 1},
		{`{"a":"\\","b":[[]]}`, 3},
		{`[` + strings.Repeat(`{"x":[`, 10) + `]}]`, 21},
		{`{"a":"\\\"[[","b":[]}`, 2},
		{`{"a":"\\\\"}[[`, 2},
		{`{"a":"[[[`, 1},
		{`["\\\\\"", []]`, 2},
	}
	for _, c := range cases {
		if got := JSONDepth([]byte(c.in)); got != c.want {
			t.Errorf("JSONDepth(%s) = %d, want %d", c.in, got, c.want)
		}
	}
	for _, c := range cases {
		if got, want := JSONDepth([]byte(c.in)), byteByByteDepth([]byte(c.in)); got != want {
			t.Errorf("JSONDepth(%s) = %d, the byte-by-byte scan says %d", c.in, got, want)
		}
	}
	if err := CheckDepth([]byte(strings.Repeat("[", MaxDepth+1))); err == nil {
		t.Error("CheckDepth accepted MaxDepth+1 levels")
	}
	if err := CheckDepth([]byte(strings.Repeat("[", MaxDepth))); err != nil {
		t.Errorf("CheckDepth refused MaxDepth levels: %v", err)
	}
}

// byteByByteDepth is the plain scan JSONDepth's quote-to-quote jumps must
// agree with.
func byteByByteDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > deepest {
				deepest = depth
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}

func FuzzJSONDepth(f *testing.F) {
	f.Add([]byte(`{"a":"\\\"[[","b":[[]]}`))
	f.Add([]byte(`["\\", "\\\\\"", {"x": [1]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := JSONDepth(b), byteByByteDepth(b); got != want {
			t.Fatalf("JSONDepth(%q) = %d, the byte-by-byte scan says %d", b, got, want)
		}
	})
}
