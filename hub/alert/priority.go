// Package alert defines the alert payload shared by the sensor, the hub and
// the forwarders: Falco's JSON alert shape and its ordered priority scale.
// It is a leaf package and imports nothing from Saker.
package alert

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Priority is Falco's ordered severity scale. Higher values are more severe,
// so "at least Warning" is p >= Warning. The zero value means "unset".
type Priority int

// Falco's priorities, least to most severe.
const (
	PriorityUnset Priority = iota
	PriorityDebug
	PriorityInformational
	PriorityNotice
	PriorityWarning
	PriorityError
	PriorityCritical
	PriorityAlert
	PriorityEmergency
)

var priorityNames = [...]string{
	PriorityUnset:         "",
	PriorityDebug:         "Debug",
	PriorityInformational: "Informational",
	PriorityNotice:        "Notice",
	PriorityWarning:       "Warning",
	PriorityError:         "Error",
	PriorityCritical:      "Critical",
	PriorityAlert:         "Alert",
	PriorityEmergency:     "Emergency",
}

// Priorities lists every valid priority from most to least severe, the
// order Falco documents them in.
var Priorities = []Priority{PriorityEmergency, PriorityAlert, PriorityCritical, PriorityError, PriorityWarning, PriorityNotice, PriorityInformational, PriorityDebug}

// ParsePriority parses a priority name case-insensitively, accepting "info"
// as Falco does. It returns an error naming the accepted values otherwise.
func ParsePriority(s string) (Priority, error) {
	// EqualFold rather than ToLower: no copy per alert. The two agree on
	// these names (none holds a letter with a third case form, like k or s).
	t := strings.TrimSpace(s)
	for p := PriorityDebug; p <= PriorityEmergency; p++ {
		if strings.EqualFold(t, priorityNames[p]) {
			return p, nil
		}
	}
	if strings.EqualFold(t, "info") {
		return PriorityInformational, nil
	}
	return PriorityUnset, fmt.Errorf("unknown priority %q (want one of emergency, alert, critical, error, warning, notice, informational, debug)", s)
}

// String returns Falco's spelling of the priority ("Warning").
func (p Priority) String() string {
	if p < 0 || int(p) >= len(priorityNames) {
		return fmt.Sprintf("Priority(%d)", int(p))
	}
	return priorityNames[p]
}

// Valid reports whether p is one of the eight Falco priorities.
func (p Priority) Valid() bool { return p >= PriorityDebug && p <= PriorityEmergency }

// MarshalJSON encodes the priority as Falco's string.
func (p Priority) MarshalJSON() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("marshal invalid priority %d", int(p))
	}
	return json.Marshal(p.String())
}

// UnmarshalJSON decodes a case-insensitive priority string.
func (p *Priority) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("priority must be a string")
	}
	v, err := ParsePriority(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText lets priorities be map keys and YAML values.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a priority case-insensitively.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
