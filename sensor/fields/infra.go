package fields

import "github.com/saker-sec/saker/sensor/event"

// evt.infra.docker.* describe Docker "infrastructure" events (a container
// created, started, died…), which libsinsp reads only from capture files
// the Sysdig agent writes. A live capture has no such event — neither
// Falco's drivers nor Saker's probe produce one — so in a live Falco, as
// here, these fields are absent (<NA>) on every event. They are registered
// so that rules naming them load and evaluate as they do in Falco.
func init() {
	for _, f := range []struct{ name, desc string }{
		{"evt.infra.docker.name", "Name of a Docker infrastructure event (create, start, die…); absent on syscall events, as in a live Falco: only Sysdig agent captures carry such events."},
		{"evt.infra.docker.container.id", "Container id of a Docker infrastructure event; absent on syscall events, as in a live Falco."},
		{"evt.infra.docker.container.name", "Container name of a Docker infrastructure event; absent on syscall events, as in a live Falco."},
		{"evt.infra.docker.container.image", "Container image of a Docker infrastructure event; absent on syscall events, as in a live Falco."},
	} {
		simpleStr(f.name, f.desc, func(*event.Event) (string, bool) { return "", false })
	}
}
