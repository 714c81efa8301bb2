package alert

import (
	"bytes"
	"fmt"
)

// MaxDepth bounds how deeply an alert's JSON may nest (the alert object is
// level 1, output_fields level 2). Falco's output fields are flat, so real
// alerts stay far below it; the bound exists so that every stored alert can
// be decoded again (Go's decoder refuses more than 10 000 levels) and so a
// hostile payload cannot make readers recurse deeply.
const MaxDepth = 64

// JSONDepth returns the deepest nesting of objects and arrays in the JSON
// text b (0 for a scalar). It does not validate b.
func JSONDepth(b []byte) int {
	depth, deepest := 0, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = stringEnd(b, i+1)
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

// stringEnd returns the index of the quote closing the string whose text
// starts at b[from], or len(b) when it is not closed. Strings are most of a
// payload: the search jumps from quote to quote (bytes.IndexByte) instead
// of looking at every byte.
func stringEnd(b []byte, from int) int {
	for {
		k := bytes.IndexByte(b[from:], '"')
		if k < 0 {
			return len(b)
		}
		q := from + k
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for j := q - 1; j >= from && b[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		from = q + 1
	}
}

// TooDeep reports whether the JSON text b nests deeper than MaxDepth and,
// when it does, how deep. A text with no more than MaxDepth brackets
// cannot: counting them (a vectorised count; a Falco alert has two) spares
// the scan of every string.
func TooDeep(b []byte) (depth int, tooDeep bool) {
	if bytes.Count(b, []byte{'{'})+bytes.Count(b, []byte{'['}) <= MaxDepth {
		return 0, false
	}
	d := JSONDepth(b)
	return d, d > MaxDepth
}

// CheckDepth returns an error when the JSON text b nests deeper than
// MaxDepth.
func CheckDepth(b []byte) error {
	if d, deep := TooDeep(b); deep {
		return fmt.Errorf("JSON nests %d levels deep, more than the %d allowed", d, MaxDepth)
	}
	return nil
}
