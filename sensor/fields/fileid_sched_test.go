package fields

import (
	"testing"

	"github.com/saker-sec/saker/sensor/event"
)

func TestFileIdentityFields(t *testing.T) {
	// /dev/sda3 is 8:3; a minor above 255 (259:70000) takes the high bits.
	upper := &event.Event{Type: event.TypeOpenat, FD: event.FD{Num: 3, Type: event.FDFile, Name: "/app/x",
		Ino: 1234567, Dev: 8<<8 | 3, UpperLayer: true}}
	big := &event.Event{Type: event.TypeRead, FD: event.FD{Num: 4, Type: event.FDFile, Name: "/data/y",
		Ino: 42, Dev: 70000&0xff | 259<<8 | (70000&^0xff)<<12, LowerLayer: true}}
	sock := &event.Event{Type: event.TypeRead, FD: event.FD{Num: 5, Type: event.FDIPv4}}
	unknown := &event.Event{Type: event.TypeFchmod, FD: event.FD{Num: 6, Type: event.FDFile, Name: "/z"}}
	checkFields(t, []fieldCase{
		{ev: upper, field: "fd.ino", n: 1234567},
		{ev: upper, field: "fd.dev", n: 0x803},
		{ev: upper, field: "fd.dev.major", n: 8},
		{ev: upper, field: "fd.dev.minor", n: 3},
		{ev: upper, field: "fd.is_upper_layer", n: 1},
		{ev: upper, field: "fd.is_lower_layer", n: 0},
		{ev: big, field: "fd.dev.major", n: 259},
		{ev: big, field: "fd.dev.minor", n: 70000},
		{ev: big, field: "fd.is_upper_layer", n: 0},
		{ev: big, field: "fd.is_lower_layer", n: 1},
		{ev: sock, field: "fd.ino", missing: true},
		{ev: sock, field: "fd.dev", missing: true},
		{ev: unknown, field: "fd.ino", missing: true},
		{ev: unknown, field: "fd.is_upper_layer", missing: true},
	})
}

func TestSchedFields(t *testing.T) {
	th := &event.Thread{PID: 10, TID: 11}
	ev := &event.Event{Type: event.TypeOpenat, Thread: th,
		Sched: event.Sched{UserNS: 3e9, SystemNS: 1e9, AgeNS: 8e9, NThreads: 4}}
	single := &event.Event{Type: event.TypeOpenat, Thread: th, Sched: event.Sched{NThreads: 1}}
	none := &event.Event{Type: event.TypeOpenat, Thread: th}
	checkFields(t, []fieldCase{
		{ev: ev, field: "proc.nthreads", n: 4},
		{ev: ev, field: "proc.nchilds", n: 3},
		{ev: single, field: "proc.nchilds", n: 0},
		{ev: ev, field: "thread.totexectime", n: 4e9},
		{ev: ev, field: "thread.exectime", n: 0},
		{ev: none, field: "proc.nthreads", missing: true},
		{ev: none, field: "thread.totexectime", missing: true},
		{ev: single, field: "thread.cpu", missing: true}, // no age: no rate
	})
	for field, want := range map[string]float64{"thread.cpu": 50, "thread.cpu.user": 37.5, "thread.cpu.system": 12.5} {
		v, ok := mustResolve(t, field).Extract(ev)
		if !ok || v.F != want {
			t.Errorf("%s = %v,%v, want %v", field, v.F, ok, want)
		}
	}
}

func TestThreadCgroups(t *testing.T) {
	in := &event.Thread{PID: 10, TID: 10, Cgroups: "cpuset=/ cpu=/docker/abc memory=/docker/abc"}
	unknown := &event.Thread{PID: 11, TID: 11}
	checkFields(t, []fieldCase{
		{ev: &event.Event{Type: event.TypeOpenat, Thread: in}, field: "thread.cgroups", s: "cpuset=/ cpu=/docker/abc memory=/docker/abc"},
		{ev: &event.Event{Type: event.TypeOpenat, Thread: unknown}, field: "thread.cgroups", missing: true},
		{ev: &event.Event{Type: event.TypeOpenat}, field: "thread.cgroups", missing: true},
	})
}
