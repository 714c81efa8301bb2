package fields

import "github.com/saker-sec/saker/sensor/event"

// Thread CPU use and thread counts, from the kernel's task at the event
// (event.Sched): current as of the event, never read from /proc.
func init() {
	sched := func(name string, t Type, desc string, get func(s *event.Sched) int64) {
		simpleNum(name, t, desc, func(ev *event.Event) (int64, bool) {
			if ev.Thread == nil || ev.Sched.NThreads == 0 {
				return 0, false
			}
			return get(&ev.Sched), true
		})
	}
	sched("proc.nthreads", Uint64, "Number of live threads of the process, the leader included (the kernel's count at the event).",
		func(s *event.Sched) int64 { return int64(s.NThreads) })
	sched("proc.nchilds", Uint64, "Number of live threads of the process other than the leader (proc.nthreads - 1).",
		func(s *event.Sched) int64 { return int64(s.NThreads) - 1 })
	sched("thread.totexectime", RelTime, "CPU time the thread has used since it started, user plus system, in ns (the kernel's accounting at the event).",
		func(s *event.Sched) int64 { return int64(s.UserNS + s.SystemNS) })
	// Falco sets thread.exectime on scheduler-switch events only and
	// reports 0 on every other event; Saker captures no switch events.
	sched("thread.exectime", RelTime, "CPU time the last scheduled thread ran, on scheduler-switch events; 0 on syscall events, as in Falco (Saker captures no switch events).",
		func(*event.Sched) int64 { return 0 })
	cpu := func(name, desc string, get func(s *event.Sched) uint64) {
		register(&Field{Name: name, Type: Double, Desc: desc,
			make: func(string, bool) (Extractor, error) {
				return func(ev *event.Event) (Value, bool) {
					s := &ev.Sched
					if ev.Thread == nil || s.NThreads == 0 || s.AgeNS == 0 {
						return Value{}, false
					}
					return Value{F: float64(get(s)) * 100 / float64(s.AgeNS)}, true
				}, nil
			}})
	}
	cpu("thread.cpu", "CPU use of the thread in percent of one CPU, user plus system, averaged over the thread's life up to the event.",
		func(s *event.Sched) uint64 { return s.UserNS + s.SystemNS })
	cpu("thread.cpu.user", "User-mode CPU use of the thread in percent of one CPU, averaged over the thread's life up to the event.",
		func(s *event.Sched) uint64 { return s.UserNS })
	cpu("thread.cpu.system", "Kernel-mode CPU use of the thread in percent of one CPU, averaged over the thread's life up to the event.",
		func(s *event.Sched) uint64 { return s.SystemNS })
}
