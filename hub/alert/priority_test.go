package alert

import (
	"strings"
	"testing"
)

func TestParsePriority(t *testing.T) {
	for in, want := range map[string]Priority{
		"emergency": PriorityEmergency, "ALERT": PriorityAlert, " Critical ": PriorityCritical, "error": PriorityError,
		"Warning": PriorityWarning, "nOtIcE": PriorityNotice, "informational": PriorityInformational, "INFO": PriorityInformational,
		"debug\n": PriorityDebug,
	} {
		if p, err := ParsePriority(in); err != nil || p != want {
			t.Errorf("ParsePriority(%q) = %v, %v; want %v", in, p, err, want)
		}
	}
	for _, in := range []string{"", "warn", "infos", "debug2", "Ιnfo" /* Greek capital iota */, "w arning", "Crit\u0130cal"} {
		if p, err := ParsePriority(in); err == nil {
			t.Errorf("ParsePriority(%q) = %v, want an error", in, p)
		}
	}
}

// TestParsePriorityFoldsAsToLower: the case-insensitive match agrees with
// lower-casing the input, the spelling rule before it, on every name
// with each letter swapped for the runes that fold to it. One difference
// is deliberate: lower-casing turned 'İ' (U+0130) into 'i', so
// "Crit\u0130cal" was Critical; it is refused now.
func TestParsePriorityFoldsAsToLower(t *testing.T) {
	ref := func(s string) (Priority, bool) {
		l := strings.ToLower(strings.TrimSpace(s))
		if l == "info" {
			return PriorityInformational, true
		}
		for p := PriorityDebug; p <= PriorityEmergency; p++ {
			if l == strings.ToLower(priorityNames[p]) {
				return p, true
			}
		}
		return PriorityUnset, false
	}
	names := append(priorityNames[1:], "info")
	for _, name := range names {
		for i := range name {
			for _, r := range []rune{'K', 'k', 'S', 's', 'ſ', 'K', 'ı', 'I', 'i'} {
				in := name[:i] + string(r) + name[i+1:]
				want, wantOK := ref(in)
				got, err := ParsePriority(in)
				if (err == nil) != wantOK || got != want {
					t.Errorf("ParsePriority(%q) = %v, %v; lower-casing gives %v, %v", in, got, err, want, wantOK)
				}
			}
		}
	}
}
