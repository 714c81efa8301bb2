package fields

import (
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

// The evt.infra.docker.* fields resolve (rules naming them load, as in
// Falco) and are absent on every syscall event, as in a live Falco.
func TestInfraDockerFieldsAbsentOnSyscallEvents(t *testing.T) {
	ev := &event.Event{Type: event.TypeExecve, Thread: &event.Thread{PID: 1, Comm: "sh", ContainerID: "abcdefabcdef"}}
	for _, name := range []string{"evt.infra.docker.name", "evt.infra.docker.container.id", "evt.infra.docker.container.name", "evt.infra.docker.container.image"} {
		r, err := Resolve(name, "", false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if r.Type != String {
			t.Errorf("%s: type %v, want a string (Falco's CHARBUF)", name, r.Type)
		}
		if v, ok := r.Extract(ev); ok {
			t.Errorf("%s = %+v on an execve; want absent", name, v)
		}
	}
}
