package fields

import "github.com/saker-sec/saker/sensor/event"

// simple registers a field without argument whose extractor needs no setup.
func simple(name string, t Type, desc string, ex Extractor) {
	register(&Field{Name: name, Type: t, Desc: desc, make: func(string, bool) (Extractor, error) { return ex, nil }})
}

func init() {
	simple("proc.name", String, "Name of the executable generating the event (the kernel comm).",
		func(ev *event.Event) (Value, bool) {
			if ev.Thread == nil {
				return Value{}, false
			}
			return Value{S: ev.Thread.Comm}, true
		})
	simple("evt.type", String, "Name of the event (e.g. openat).",
		func(ev *event.Event) (Value, bool) { return Value{S: ev.Type.String()}, true })
	simple("fd.name", String, "FD full name: a path for files, cip:cport->sip:sport for sockets.",
		func(ev *event.Event) (Value, bool) {
			if ev.FD.Num < 0 && ev.FD.Name == "" {
				return Value{}, false
			}
			return Value{S: ev.FD.Name}, true
		})
}
