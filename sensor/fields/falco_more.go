package fields

import (
	"fmt"
	"strings"

	"github.com/saker-sec/saker/sensor/event"
)

// Fields of Falco's syscall source derived from data every event already
// carries: the event type and result, the I/O direction, the thread's
// ancestry and cgroup, and the paths of filesystem syscalls (fs.path.*).

func isSend(t event.Type) bool {
	switch t {
	case event.TypeSendto, event.TypeSendmsg, event.TypeSendmmsg, event.TypeWrite, event.TypePwrite64, event.TypeWritev, event.TypePwritev:
		return true
	}
	return false
}
func isRecv(t event.Type) bool {
	switch t {
	case event.TypeRecvfrom, event.TypeRecvmsg, event.TypeRecvmmsg, event.TypeRead, event.TypePread64, event.TypeReadv, event.TypePreadv:
		return true
	}
	return false
}

// isSyscall tells syscalls from the sensor's own lifecycle events.
func isSyscall(t event.Type) bool { return t != event.TypeContainer && t != event.TypeProcExit }

// isShell is libs' test for proc.loginshellid: a comm ending in "sh".
func isShell(comm string) bool { return strings.HasSuffix(comm, "sh") }

// countIf gives the evt.count.* counters: 1 when the event counts, else 0.
func countIf(name, desc string, test func(ev *event.Event) bool) {
	simpleNum(name, Uint32, desc, func(ev *event.Event) (int64, bool) { return b2i(test(ev)), true })
}

func init() {
	simple("syscall.type", String, "Name of the syscall of a syscall event (missing for lifecycle events such as procexit).", func(ev *event.Event) (Value, bool) {
		if !isSyscall(ev.Type) {
			return Value{}, false
		}
		return Value{S: ev.Type.String()}, true
	})
	register(&Field{Name: "evt.type.is", Type: Uint32, Arg: RequiredArg,
		Desc: "1 when the event's type is the argument (evt.type.is.openat), else 0.",
		make: func(arg string, _ bool) (Extractor, error) {
			return func(ev *event.Event) (Value, bool) { return boolVal(ev.Type.String() == arg), true }, nil
		}})
	simple("evt.info", String, "The event's arguments as name=value pairs (for syscalls, the same as evt.args).", func(ev *event.Event) (Value, bool) {
		return Value{S: formatArgs(ev)}, true
	})
	simple("evt.outputtime", String, "Event timestamp as printed in outputs (local HH:MM:SS.nnnnnnnnn).", func(ev *event.Event) (Value, bool) {
		return Value{S: FormatTime(ev.TS)}, true
	})
	simple("evt.is_io", Bool, "True for events that read or write a buffer (read, write, send and receive families).", func(ev *event.Event) (Value, bool) {
		return boolVal(isSend(ev.Type) || isRecv(ev.Type)), true
	})
	simple("evt.is_io_read", Bool, "True for events that read a buffer (read, recvfrom, recvmsg).", func(ev *event.Event) (Value, bool) {
		return boolVal(isRecv(ev.Type)), true
	})
	simple("evt.is_io_write", Bool, "True for events that write a buffer (write, sendto, sendmsg).", func(ev *event.Event) (Value, bool) {
		return boolVal(isSend(ev.Type)), true
	})
	simple("evt.io_dir", String, "Direction of an I/O event: r for reads, w for writes; missing for other events.", func(ev *event.Event) (Value, bool) {
		switch {
		case isRecv(ev.Type):
			return Value{S: "r"}, true
		case isSend(ev.Type):
			return Value{S: "w"}, true
		}
		return Value{}, false
	})
	simple("evt.is_wait", Bool, "True for events that make the thread wait (sleep, select, poll…); none of the captured syscalls does.", func(ev *event.Event) (Value, bool) {
		return boolVal(false), true
	})
	simple("evt.is_syslog", Bool, "True for writes to /dev/log.", func(ev *event.Event) (Value, bool) {
		return boolVal(isSend(ev.Type) && ev.FD.Name == "/dev/log"), true
	})
	simple("evt.is_async", Bool, "True for events the sensor generates itself rather than a thread (the container event).", func(ev *event.Event) (Value, bool) {
		return boolVal(ev.Type == event.TypeContainer), true
	})
	simple("evt.asynctype", String, "Type of an asynchronous event (container); missing for syscalls.", func(ev *event.Event) (Value, bool) {
		if ev.Type != event.TypeContainer {
			return Value{}, false
		}
		return Value{S: ev.Type.String()}, true
	})
	simple("evt.pluginname", String, "Name of the plugin that generated the event; missing for syscall events.", func(ev *event.Event) (Value, bool) {
		return Value{}, false
	})
	simple("evt.plugininfo", String, "Summary of a plugin event; missing for syscall events.", func(ev *event.Event) (Value, bool) {
		return Value{}, false
	})
	countIf("evt.count", "1 for every event (to count events in aggregations).", func(*event.Event) bool { return true })
	countIf("evt.count.exit", "1 for exit events: every captured syscall (Saker captures at syscall exit).", func(ev *event.Event) bool { return isSyscall(ev.Type) })
	countIf("evt.count.error", "1 for events that returned an error.", func(ev *event.Event) bool { return ev.Res < 0 })
	for _, cat := range []string{"file", "net", "memory"} {
		countIf("evt.count.error."+cat, "1 for "+cat+" events that returned an error.", func(ev *event.Event) bool {
			return ev.Res < 0 && eventCategory(ev.Type) == cat
		})
	}
	countIf("evt.count.error.other", "1 for failed events that are not file, net or memory events.", func(ev *event.Event) bool {
		c := eventCategory(ev.Type)
		return ev.Res < 0 && c != "file" && c != "net" && c != "memory"
	})
	register(&Field{Name: "evt.abspath", Type: String, Arg: IndexOrKey,
		Desc: "Absolute path of a path argument, resolved against the cwd or dirfd: evt.abspath (the path), evt.abspath.src and evt.abspath.dst (rename, link, symlink).",
		make: func(arg string, _ bool) (Extractor, error) {
			var get func(ev *event.Event) (string, bool)
			switch arg {
			case "", "src":
				get = func(ev *event.Event) (string, bool) { return fsSource(ev) }
			case "dst":
				get = func(ev *event.Event) (string, bool) { return fsTarget(ev) }
			default:
				return nil, fmt.Errorf("want evt.abspath, evt.abspath.src or evt.abspath.dst")
			}
			return func(ev *event.Event) (Value, bool) {
				p, ok := get(ev)
				if !ok || p == "" {
					p, ok = fsName(ev)
				}
				return Value{S: p}, ok && p != ""
			}, nil
		}})

	simple("proc.loginshellid", Int64, "Pid of the oldest shell (a process whose name ends in \"sh\") among the process and its ancestors.", func(ev *event.Event) (Value, bool) {
		var pid int64
		found := false
		for t, i := ev.Thread, 0; t != nil && i <= event.MaxAncestors; t, i = t.Parent, i+1 {
			if isShell(t.Comm) {
				pid, found = t.PID, true
			}
		}
		return Value{N: pid}, found
	})
	simple("proc.ppid.ts", RelTime, "Start time of the parent process, ns since the epoch.", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.Parent == nil || ev.Thread.Parent.StartTS == 0 {
			return Value{}, false
		}
		return Value{N: ev.Thread.Parent.StartTS}, true
	})
	ancestorField("proc.aargs", "Arguments of an ancestor: proc.aargs[1] is the parent's; without an index, the list of all ancestors'.", String, argsLine,
		func(t *event.Thread) []string { return ancestorList(t, nil, argsLine) })
	register(&Field{Name: "thread.cgroup", Type: String, Arg: RequiredArg,
		Desc: "Cgroup of the thread for a controller (thread.cgroup.cpu): on the unified cgroup v2 hierarchy, the one cgroup path.",
		make: func(string, bool) (Extractor, error) {
			return func(ev *event.Event) (Value, bool) {
				if ev.Thread == nil || ev.Thread.CgroupPath == "" {
					return Value{}, false
				}
				return Value{S: ev.Thread.CgroupPath}, true
			}, nil
		}})

	simple("fd.containername", String, "Container id and FD name joined by a colon (container.id:fd.name), unique across containers.", func(ev *event.Event) (Value, bool) {
		if !hasFD(ev) {
			return Value{}, false
		}
		return Value{S: containerIDOrHost(ev) + ":" + ev.FD.Name}, true
	})
	simple("fd.containerdirectory", String, "Container id and FD directory joined by a colon (container.id:fd.directory).", func(ev *event.Event) (Value, bool) {
		d, ok := fdDirectory(ev)
		if !ok {
			return Value{}, false
		}
		return Value{S: containerIDOrHost(ev) + ":" + d}, true
	})

	fsPath("fs.path.name", "Absolute path of the file a filesystem syscall (mkdir, rmdir, unlink, open, chmod, chown…) acted on, when it succeeded.", fsName)
	fsPath("fs.path.nameraw", "Path of the file a filesystem syscall acted on, as the syscall passed it.", fsNameRaw)
	fsPath("fs.path.source", "Source path of a successful rename, link or symlink (the new link for link and symlink).", fsSource)
	fsPath("fs.path.sourceraw", "Source path of a rename, link or symlink, as passed.", fsSourceRaw)
	fsPath("fs.path.target", "Target path of a successful rename, link or symlink (the existing file for link, the link's content for symlink).", fsTarget)
	fsPath("fs.path.targetraw", "Target path of a rename, link or symlink, as passed.", fsTargetRaw)
}

func containerIDOrHost(ev *event.Event) string {
	if ev.Container != nil {
		return ev.Container.ID
	}
	return "host"
}

// fsPath registers an fs.path.* field: present only when the syscall
// succeeded, as in libs.
func fsPath(name, desc string, get StrFunc) {
	simpleStr(name, desc, func(ev *event.Event) (string, bool) {
		if ev.Res < 0 {
			return "", false
		}
		return get(ev)
	})
}

// fsName is the path of the single-path filesystem syscalls, absolute
// (resolved at the event against the dirfd or working directory).
func fsName(ev *event.Event) (string, bool) {
	switch ev.Type {
	case event.TypeMkdir, event.TypeMkdirat, event.TypeRmdir, event.TypeUnlink, event.TypeUnlinkat,
		event.TypeChmod, event.TypeFchmodat, event.TypeChown, event.TypeLchown, event.TypeFchownat:
		return orRaw(ev.AbsPath, ev.Path), true
	case event.TypeOpen, event.TypeOpenat, event.TypeOpenat2, event.TypeCreat, event.TypeFchmod, event.TypeFchown:
		return ev.FD.Name, ev.FD.Name != ""
	}
	return "", false
}

// orRaw is the resolved path, or the path as passed when it was not
// resolved.
func orRaw(abs, raw string) string {
	if abs != "" {
		return abs
	}
	return raw
}

func fsNameRaw(ev *event.Event) (string, bool) {
	if isOpen(ev.Type) && ev.FD.NameRaw != "" {
		return ev.FD.NameRaw, true
	}
	if p, ok := fsName(ev); ok && ev.AbsPath != "" {
		return ev.Path, p != ""
	}
	return fsName(ev)
}

// fsPair gives the source and target paths of rename, link and symlink,
// as libs does: rename moves source to target; link and symlink create
// source (the new name) pointing at target. Paths are resolved, except a
// symlink's target, its content.
func fsPair(ev *event.Event) (source, target string, ok bool) {
	switch ev.Type {
	case event.TypeRename, event.TypeRenameat, event.TypeRenameat2:
		return orRaw(ev.AbsPath, ev.Path), orRaw(ev.AbsTarget, ev.Target), true
	case event.TypeLink, event.TypeLinkat:
		return orRaw(ev.AbsTarget, ev.Target), orRaw(ev.AbsPath, ev.Path), true
	case event.TypeSymlink, event.TypeSymlinkat:
		return orRaw(ev.AbsTarget, ev.Target), ev.Path, true
	}
	return "", "", false
}

// fsPairRaw is fsPair with the paths as the syscall passed them.
func fsPairRaw(ev *event.Event) (source, target string, ok bool) {
	switch ev.Type {
	case event.TypeRename, event.TypeRenameat, event.TypeRenameat2:
		return ev.Path, ev.Target, true
	case event.TypeLink, event.TypeLinkat, event.TypeSymlink, event.TypeSymlinkat:
		return ev.Target, ev.Path, true
	}
	return "", "", false
}

func fsSourceRaw(ev *event.Event) (string, bool) { s, _, ok := fsPairRaw(ev); return s, ok }
func fsTargetRaw(ev *event.Event) (string, bool) { _, t, ok := fsPairRaw(ev); return t, ok }

func fsSource(ev *event.Event) (string, bool) { s, _, ok := fsPair(ev); return s, ok }
func fsTarget(ev *event.Event) (string, bool) { _, t, ok := fsPair(ev); return t, ok }
