package alert

import "fmt"

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

// CheckDepth returns an error when the JSON text b nests deeper than
// MaxDepth.
func CheckDepth(b []byte) error {
	if d := JSONDepth(b); d > MaxDepth {
		return fmt.Errorf("JSON nests %d levels deep, more than the %d allowed", d, MaxDepth)
	}
	return nil
}
