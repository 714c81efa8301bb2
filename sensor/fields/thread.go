package fields

import "github.com/saker-sec/saker/sensor/event"

func init() {
	threadNum("thread.tid", Int64, "Id of the thread generating the event (host pid namespace).", func(t *event.Thread) int64 { return t.TID })
	threadNum("thread.vtid", Int64, "Id of the thread as seen from its pid namespace.", func(t *event.Thread) int64 { return t.VTID })
	simpleNum("thread.ismain", Bool, "True if the thread is the process's main thread (tid = pid).", func(ev *event.Event) (int64, bool) {
		if ev.Thread == nil {
			return 0, false
		}
		return b2i(ev.Thread.TID == ev.Thread.PID), true
	})
	simpleStr("thread.cgroups", "The process's cgroups, \"controller=path\" pairs separated by spaces (cpuset=/system.slice/x.scope cpu=…), as of its exec.",
		func(ev *event.Event) (string, bool) {
			if ev.Thread == nil || ev.Thread.Cgroups == "" {
				return "", false
			}
			return ev.Thread.Cgroups, true
		})
	caps := func(name, desc string, get func(t *event.Thread) uint64) {
		simpleStr(name, desc, func(ev *event.Event) (string, bool) {
			if ev.Thread == nil {
				return "", false
			}
			return cachedFlags(kindCaps, get(ev.Thread)), true
		})
	}
	caps("thread.cap_effective", "Effective capabilities of the thread, space-separated names (CAP_SYS_ADMIN CAP_NET_RAW…).", func(t *event.Thread) uint64 { return t.CapEffective })
	caps("thread.cap_permitted", "Permitted capabilities of the thread, space-separated names.", func(t *event.Thread) uint64 { return t.CapPermitted })
	caps("thread.cap_inheritable", "Inheritable capabilities of the thread, space-separated names.", func(t *event.Thread) uint64 { return t.CapInheritable })
}
