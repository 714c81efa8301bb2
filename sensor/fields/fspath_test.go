package fields

import (
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// TestFsPathResolved: fs.path.* and evt.abspath give the paths resolved at
// the event, the *raw variants the paths as passed, and a symlink's target
// is its content.
func TestFsPathResolved(t *testing.T) {
	th := &event.Thread{PID: 1, TID: 1, Comm: "x"}
	unlink := &event.Event{Type: event.TypeUnlinkat, Thread: th, Path: "../x", AbsPath: "/tmp/x"}
	rename := &event.Event{Type: event.TypeRenameat, Thread: th, Path: "a", Target: "b", AbsPath: "/d/a", AbsTarget: "/e/b"}
	symlink := &event.Event{Type: event.TypeSymlinkat, Thread: th, Path: "../content", Target: "l", AbsTarget: "/d/l"}
	cases := []struct {
		ev    *event.Event
		field string
		want  string
	}{
		{unlink, "fs.path.name", "/tmp/x"},
		{unlink, "fs.path.nameraw", "../x"},
		{unlink, "evt.abspath", "/tmp/x"},
		{rename, "fs.path.source", "/d/a"},
		{rename, "fs.path.target", "/e/b"},
		{rename, "fs.path.sourceraw", "a"},
		{rename, "fs.path.targetraw", "b"},
		{rename, "evt.abspath.dst", "/e/b"},
		{symlink, "fs.path.source", "/d/l"},
		{symlink, "fs.path.target", "../content"},
		{symlink, "fs.path.sourceraw", "l"},
	}
	for _, c := range cases {
		v, ok := mustResolve(t, c.field).Extract(c.ev)
		if !ok || v.S != c.want {
			t.Errorf("%v %s = %q (%v), want %q", c.ev.Type, c.field, v.S, ok, c.want)
		}
	}
}
