package fields

import "github.com/saker-sec/saker/sensor/event"

// nameOrRoot gives Falco's user.name/group.name: the resolved name, "root"
// for id 0 when the name is unknown, missing otherwise.
func nameOrRoot(name string, id int64) (string, bool) {
	if name != "" {
		return name, true
	}
	if id == 0 {
		return "root", true
	}
	return "", false
}

func init() {
	threadNum("user.uid", Uint32, "User id of the process (real uid).", func(t *event.Thread) int64 { return int64(t.UID) })
	simpleStr("user.name", "User name of the process (\"root\" for uid 0 when the name cannot be resolved).", func(ev *event.Event) (string, bool) {
		if ev.Thread == nil {
			return "", false
		}
		return nameOrRoot(ev.Thread.User, int64(ev.Thread.UID))
	})
	threadNum("user.euid", Uint64, "Effective user id of the process.", func(t *event.Thread) int64 { return int64(t.EUID) })
	threadNum("user.loginuid", Int64, "Audit login uid of the process (-1 when unset, e.g. for daemons).", func(t *event.Thread) int64 {
		if t.LoginUID == 4294967295 {
			return -1
		}
		return t.LoginUID
	})
	simpleStr("user.loginname", "User name of the audit login uid.", func(ev *event.Event) (string, bool) {
		if ev.Thread == nil || ev.Thread.LoginUID < 0 || ev.Thread.LoginUID == 4294967295 {
			return "", false
		}
		return nameOrRoot(ev.Thread.LoginUser, ev.Thread.LoginUID)
	})
	threadNum("group.gid", Uint32, "Group id of the process.", func(t *event.Thread) int64 { return int64(t.GID) })
	simpleStr("group.name", "Group name of the process (\"root\" for gid 0 when unresolved).", func(ev *event.Event) (string, bool) {
		if ev.Thread == nil {
			return "", false
		}
		return nameOrRoot(ev.Thread.Group, int64(ev.Thread.GID))
	})
}
