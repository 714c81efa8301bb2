package rules

import (
	"fmt"
	"strings"
)

// Location says where in a rules file something is: the file, the 1-based
// line and column, and the item (rule, macro, list…) with its name.
type Location struct {
	File     string
	Line     int
	Col      int
	ItemType string // "rule", "macro", "list", "required_engine_version"…; "" for the file itself
	ItemName string
}

func (l Location) String() string {
	var b strings.Builder
	b.WriteString(l.File)
	if l.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", l.Line, l.Col)
	}
	if l.ItemType != "" {
		if l.ItemName != "" {
			fmt.Fprintf(&b, ": %s '%s'", l.ItemType, l.ItemName)
		} else {
			fmt.Fprintf(&b, ": %s", l.ItemType)
		}
	}
	return b.String()
}

// Error is a rules loading error: a message at a location.
type Error struct {
	Loc Location
	Msg string
}

func (e *Error) Error() string { return e.Loc.String() + ": " + e.Msg }

// Warning is a non-fatal loading diagnostic, with Falco's warning codes
// (LOAD_UNKNOWN_FILTER, LOAD_NO_EVTTYPE, LOAD_UNUSED_MACRO…).
type Warning struct {
	Code string
	Loc  Location
	Msg  string
}

func (w Warning) String() string { return w.Loc.String() + ": " + w.Code + ": " + w.Msg }

// Errors is the list of errors from a load; it is an error itself when
// non-empty.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}
