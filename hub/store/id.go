package store

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseID splits a "<unix-ms>-<seq>" event ID.
func ParseID(id string) (ms, seq uint64, err error) {
	a, b, ok := strings.Cut(id, "-")
	if !ok {
		b = "0"
	}
	if ms, err = strconv.ParseUint(a, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("bad event id %q", id)
	}
	if seq, err = strconv.ParseUint(b, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("bad event id %q", id)
	}
	return ms, seq, nil
}

// FormatID builds an event ID.
func FormatID(ms, seq uint64) string {
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq, 10)
}

// CompareIDs orders two valid event IDs: -1 when a is older, 0, or 1.
// Invalid IDs sort as zero.
func CompareIDs(a, b string) int {
	am, as, _ := ParseID(a)
	bm, bs, _ := ParseID(b)
	switch {
	case am < bm || (am == bm && as < bs):
		return -1
	case am == bm && as == bs:
		return 0
	}
	return 1
}
