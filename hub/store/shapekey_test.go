package store

import (
	"testing"

	"github.com/saker-sec/saker/hub/alert"
)

// Alerts that differ in any part of their shape get different keys, even
// when one part's bytes could be read as the next part's (a separator byte
// inside a string); equal shapes get equal keys.
func TestShapeKeyTellsShapesApart(t *testing.T) {
	base := alert.Alert{Priority: alert.PriorityWarning, Rule: "r", Source: "syscall", Hostname: "h",
		Tags: []string{"a", "b"}, OutputFields: map[string]any{"container.name": "c", "container.image.repository": "i"}}
	vary := []func(a *alert.Alert){
		func(a *alert.Alert) { a.Priority = alert.PriorityError },
		func(a *alert.Alert) { a.Rule = "r2" },
		func(a *alert.Alert) { a.Source = "k8s_audit" },
		func(a *alert.Alert) { a.Hostname = "h2" },
		func(a *alert.Alert) { a.Tags = []string{"b", "a"} },
		func(a *alert.Alert) { a.Tags = []string{"a", "b", ""} },
		func(a *alert.Alert) { a.Tags = nil },
		func(a *alert.Alert) { a.OutputFields = map[string]any{"container.image.repository": "i"} },
		func(a *alert.Alert) {
			a.OutputFields = map[string]any{"container.name": "c", "container.image.repository": ""}
		},
		func(a *alert.Alert) { a.OutputFields = map[string]any{"container.name": "c"} },
		// One part running into the next, through a separator byte.
		func(a *alert.Alert) { a.Rule, a.Source = "r\x00syscall", "" },
		func(a *alert.Alert) { a.Rule, a.Source = "r", "\x00syscall" },
		func(a *alert.Alert) { a.Tags = []string{"a\x01b"} },
		func(a *alert.Alert) { a.Hostname, a.Tags = "h\x00\x01a", []string{"b"} },
	}
	seen := map[string]int{string(AppendShapeKey(nil, &base)): -1}
	for i, f := range vary {
		a := base
		a.Tags = append([]string(nil), base.Tags...)
		f(&a)
		k := string(AppendShapeKey(nil, &a))
		if j, dup := seen[k]; dup {
			t.Errorf("variant %d has the key of variant %d (-1: the base)", i, j)
		}
		seen[k] = i
	}
	same := base
	same.Tags = []string{"a", "b"}
	if string(AppendShapeKey(nil, &same)) != string(AppendShapeKey(nil, &base)) {
		t.Error("equal shapes got different keys")
	}
}
