package fields

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/saker-sec/saker/sensor/event"
)

// simple registers a field without argument whose extractor needs no setup.
func simple(name string, t Type, desc string, ex Extractor) {
	register(&Field{Name: name, Type: t, Desc: desc, make: func(string, bool) (Extractor, error) { return ex, nil }})
}

// simpleStr registers a string field without argument.
func simpleStr(name, desc string, get StrFunc) {
	register(&Field{Name: name, Type: String, Desc: desc, str: get,
		make: func(string, bool) (Extractor, error) { return strExtractor(get), nil }})
}

// simpleNum registers a numeric (or Bool) field without argument.
func simpleNum(name string, t Type, desc string, get NumFunc) {
	register(&Field{Name: name, Type: t, Desc: desc, num: get,
		make: func(string, bool) (Extractor, error) { return numExtractor(get), nil }})
}

// b2i is a Bool field's number.
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// threadStr registers a string field read from the event's thread; an empty
// string is a present, empty value (Falco prints it as nothing).
func threadStr(name, desc string, get func(t *event.Thread) string) {
	simpleStr(name, desc, func(ev *event.Event) (string, bool) {
		if ev.Thread == nil {
			return "", false
		}
		return get(ev.Thread), true
	})
}

// threadNum registers a numeric field read from the event's thread.
func threadNum(name string, t Type, desc string, get func(t *event.Thread) int64) {
	simpleNum(name, t, desc, func(ev *event.Event) (int64, bool) {
		if ev.Thread == nil {
			return 0, false
		}
		return get(ev.Thread), true
	})
}

// parentStr registers a field read from the parent's entry: missing when
// the parent is unknown.
func parentStr(name, desc string, get func(t *event.Thread) string) {
	simpleStr(name, desc, func(ev *event.Event) (string, bool) {
		if ev.Thread == nil || ev.Thread.Parent == nil {
			return "", false
		}
		return get(ev.Thread.Parent), true
	})
}

func boolVal(b bool) Value {
	if b {
		return Value{N: 1}
	}
	return Value{}
}

// cmdline returns proc.cmdline without allocating for prepared entries.
func cmdline(t *event.Thread) string {
	if t.Prepared {
		return t.Cmdline
	}
	return event.BuildCmdline(t.Comm, t.Args)
}

func argsLine(t *event.Thread) string {
	if t.Prepared {
		return t.ArgsLine
	}
	return strings.Join(t.Args, " ")
}

// ancestor returns the n-th ancestor (0 = the thread itself).
func ancestor(t *event.Thread, n int) *event.Thread {
	for i := 0; i < n && t != nil; i++ {
		t = t.Parent
	}
	return t
}

// ancestorField registers proc.aname-style fields: with an index N the
// value of the N-th ancestor (0 = self); without, the list of all
// ancestors from the parent upward (a filter then matches if any does).
func ancestorField(name, desc string, t Type, get func(t *event.Thread) string, list func(t *event.Thread) []string) {
	register(&Field{Name: name, Type: t, Desc: desc, Arg: IndexArg, multiWithoutIndex: true,
		make: func(arg string, hasArg bool) (Extractor, error) {
			if !hasArg {
				return func(ev *event.Event) (Value, bool) {
					if ev.Thread == nil {
						return Value{}, false
					}
					return Value{List: list(ev.Thread), IsList: true}, true
				}, nil
			}
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("index %q is not a non-negative integer", arg)
			}
			return func(ev *event.Event) (Value, bool) {
				a := ancestor(ev.Thread, n)
				if a == nil {
					return Value{}, false
				}
				if t == Int64 {
					return Value{N: a.PID}, true
				}
				return Value{S: get(a)}, true
			}, nil
		}})
}

// ancestorList returns the prepared ancestor list or builds it.
func ancestorList(t *event.Thread, prepared []string, get func(*event.Thread) string) []string {
	if t.Prepared {
		return prepared
	}
	var out []string
	for p, i := t.Parent, 0; p != nil && i < event.MaxAncestors; p, i = p.Parent, i+1 {
		out = append(out, get(p))
	}
	return out
}

func comm(t *event.Thread) string    { return t.Comm }
func exe(t *event.Thread) string     { return t.Exe }
func exePath(t *event.Thread) string { return t.ExePath }

func init() {
	threadStr("proc.name", "Name of the executable generating the event (the kernel comm, at most 15 chars).", comm)
	threadStr("proc.exe", "First command-line argument (argv[0]), usually the executable name or path.", exe)
	threadStr("proc.exepath", "Full executable path of the process (resolved, like /proc/PID/exe).", exePath)
	threadStr("proc.cmdline", "Full process command line: proc.name followed by the arguments.", cmdline)
	threadStr("proc.exeline", "Full process command line with proc.exe instead of proc.name.",
		func(t *event.Thread) string { return event.BuildCmdline(t.Exe, t.Args) })
	threadStr("proc.cwd", "Current working directory of the process, with a trailing slash.", func(t *event.Thread) string { return t.Cwd })
	threadNum("proc.cmdnargs", Uint64, "Number of command-line arguments (excluding argv[0]).", func(t *event.Thread) int64 { return int64(len(t.Args)) })
	threadNum("proc.cmdlenargs", Uint64, "Total length of the command-line arguments, excluding proc.name.", func(t *event.Thread) int64 {
		n := 0
		for _, a := range t.Args {
			n += len(a)
		}
		return int64(n)
	})
	register(&Field{Name: "proc.args", Type: String, Arg: IndexArg,
		Desc: "Arguments of the process command line (argv[1:]) joined by spaces; proc.args[N] is the N-th argument (0-based).",
		make: func(arg string, hasArg bool) (Extractor, error) {
			if !hasArg {
				return func(ev *event.Event) (Value, bool) {
					if ev.Thread == nil {
						return Value{}, false
					}
					return Value{S: argsLine(ev.Thread)}, true
				}, nil
			}
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("index %q is not a non-negative integer", arg)
			}
			return func(ev *event.Event) (Value, bool) {
				if ev.Thread == nil || n >= len(ev.Thread.Args) {
					return Value{}, false
				}
				return Value{S: ev.Thread.Args[n]}, true
			}, nil
		}})
	register(&Field{Name: "proc.env", Type: String, Arg: IndexOrKey,
		Desc: "Environment variables of the process joined by spaces; proc.env[NAME] is one variable's value (missing when unset).",
		make: func(arg string, hasArg bool) (Extractor, error) {
			if !hasArg {
				return func(ev *event.Event) (Value, bool) {
					if ev.Thread == nil {
						return Value{}, false
					}
					return Value{S: strings.Join(ev.Thread.Env, " ")}, true
				}, nil
			}
			return func(ev *event.Event) (Value, bool) {
				if ev.Thread == nil {
					return Value{}, false
				}
				for _, kv := range ev.Thread.Env {
					if len(kv) > len(arg) && kv[len(arg)] == '=' && kv[:len(arg)] == arg {
						return Value{S: kv[len(arg)+1:]}, true
					}
				}
				return Value{}, false
			}, nil
		}})

	threadNum("proc.pid", Int64, "Process id (host pid namespace).", func(t *event.Thread) int64 { return t.PID })
	threadNum("proc.ppid", Int64, "Parent process id (host pid namespace).", func(t *event.Thread) int64 { return t.PPID })
	threadNum("proc.vpid", Int64, "Process id as seen from its own pid namespace.", func(t *event.Thread) int64 { return t.VPID })
	threadNum("proc.sid", Int64, "Session id of the process.", func(t *event.Thread) int64 { return t.SID })
	threadNum("proc.vpgid", Int64, "Process group id as seen from the process's pid namespace.", func(t *event.Thread) int64 { return t.VPGID })
	threadNum("proc.tty", Uint32, "Controlling terminal of the process (device number); 0 for processes without a terminal.", func(t *event.Thread) int64 { return int64(t.TTY) })
	simple("proc.is_vpgid_leader", Bool, "True if the process is the leader of its process group (proc.vpid = proc.vpgid).", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.VPGID == 0 {
			return Value{}, false
		}
		return boolVal(ev.Thread.VPID == ev.Thread.VPGID), true
	})
	simple("proc.is_sid_leader", Bool, "True if the process is the leader of its session (proc.vpid = proc.sid).", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.SID == 0 {
			return Value{}, false
		}
		return boolVal(ev.Thread.VPID == ev.Thread.SID), true
	})

	parentStr("proc.pname", "Name (comm) of the parent process.", comm)
	parentStr("proc.pexe", "argv[0] of the parent process.", exe)
	parentStr("proc.pexepath", "Full executable path of the parent process.", exePath)
	parentStr("proc.pcmdline", "Command line of the parent process (proc.cmdline of the parent).", cmdline)
	simple("proc.pvpid", Int64, "Parent process id as seen from the parent's pid namespace.", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.Parent == nil {
			return Value{}, false
		}
		return Value{N: ev.Thread.Parent.VPID}, true
	})

	ancestorField("proc.aname", "Name (comm) of an ancestor: proc.aname[1] is the parent, [2] the grandparent, [0] the process itself; without an index a filter matches any ancestor.",
		String, comm, func(t *event.Thread) []string { return ancestorList(t, t.ANames, comm) })
	ancestorField("proc.aexe", "argv[0] of an ancestor (index as proc.aname; without an index any ancestor).",
		String, exe, func(t *event.Thread) []string { return ancestorList(t, t.AExes, exe) })
	ancestorField("proc.aexepath", "Executable path of an ancestor (index as proc.aname; without an index any ancestor).",
		String, exePath, func(t *event.Thread) []string { return ancestorList(t, t.AExePaths, exePath) })
	ancestorField("proc.acmdline", "Command line of an ancestor (index as proc.aname; without an index any ancestor).",
		String, cmdline, func(t *event.Thread) []string { return ancestorList(t, t.ACmdlines, cmdline) })
	ancestorField("proc.apid", "Pid of an ancestor (index as proc.aname; without an index any ancestor, as decimal strings).",
		Int64, nil, func(t *event.Thread) []string {
			return ancestorList(t, t.APIDs, func(p *event.Thread) string { return strconv.FormatInt(p.PID, 10) })
		})

	// Session and process-group leaders, found as libsinsp does (ids in
	// the process's own pid namespace): the process or ancestor whose vpid
	// is the id, else the oldest ancestor sharing it; an empty string when
	// none does.
	leaderStr := func(name, desc string, id func(t *event.Thread) int64, get func(t *event.Thread) string) {
		simpleStr(name, desc, func(ev *event.Event) (string, bool) {
			if ev.Thread == nil {
				return "", false
			}
			l := leader(ev.Thread, id, func(t *event.Thread) int64 { return t.VPID })
			if l == nil {
				return "", true
			}
			return get(l), true
		})
	}
	sid := func(t *event.Thread) int64 { return t.SID }
	vpgid := func(t *event.Thread) int64 { return t.VPGID }
	leaderStr("proc.sname", "Name (comm) of the session leader of the process.", sid, comm)
	leaderStr("proc.sid.exe", "argv[0] of the session leader.", sid, exe)
	leaderStr("proc.sid.exepath", "Executable path of the session leader.", sid, exePath)
	leaderStr("proc.vpgid.name", "Name (comm) of the process-group leader.", vpgid, comm)
	leaderStr("proc.vpgid.exe", "argv[0] of the process-group leader.", vpgid, exe)
	leaderStr("proc.vpgid.exepath", "Executable path of the process-group leader.", vpgid, exePath)

	simple("proc.duration", RelTime, "Nanoseconds since the process started.", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.StartTS == 0 {
			return Value{}, false
		}
		return Value{N: ev.TS - ev.Thread.StartTS}, true
	})
	simple("proc.ppid.duration", RelTime, "Nanoseconds since the parent process started.", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.Parent == nil || ev.Thread.Parent.StartTS == 0 {
			return Value{}, false
		}
		return Value{N: ev.TS - ev.Thread.Parent.StartTS}, true
	})
	simple("proc.pid.ts", RelTime, "Start time of the process, ns since the epoch.", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.StartTS == 0 {
			return Value{}, false
		}
		return Value{N: ev.Thread.StartTS}, true
	})

	threadBool := func(name, desc string, get func(t *event.Thread) bool) {
		simpleNum(name, Bool, desc, func(ev *event.Event) (int64, bool) {
			if ev.Thread == nil {
				return 0, false
			}
			return b2i(get(ev.Thread)), true
		})
	}
	threadBool("proc.is_exe_upper_layer", "True if the executable lives in the upper (writable) layer of an overlayfs, i.e. it was written in the container.", func(t *event.Thread) bool { return t.ExeUpperLayer })
	threadBool("proc.is_exe_lower_layer", "True if the executable lives in a lower (image) layer of an overlayfs.", func(t *event.Thread) bool { return t.ExeLowerLayer })
	threadBool("proc.is_exe_writable", "True if the executable file is writable by the process (owner, mode bits or CAP_DAC_OVERRIDE/CAP_FOWNER).", func(t *event.Thread) bool { return t.ExeWritable })
	threadBool("proc.is_exe_from_memfd", "True if the executable was loaded from a memfd (fileless execution).", func(t *event.Thread) bool { return t.ExeFromMemfd })
	simple("proc.exe_ino", Int64, "Inode number of the executable.", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.ExeIno == 0 {
			return Value{}, false
		}
		return Value{N: int64(ev.Thread.ExeIno)}, true
	})
	absThread := func(name, desc string, get func(t *event.Thread) int64) {
		simpleNum(name, AbsTime, desc, func(ev *event.Event) (int64, bool) {
			if ev.Thread == nil || get(ev.Thread) == 0 {
				return 0, false
			}
			return get(ev.Thread), true
		})
	}
	absThread("proc.exe_ino.ctime", "Last status change time of the executable's inode, ns since the epoch.", func(t *event.Thread) int64 { return t.ExeInoCtime })
	absThread("proc.exe_ino.mtime", "Last modification time of the executable's inode, ns since the epoch.", func(t *event.Thread) int64 { return t.ExeInoMtime })
	simple("proc.exe_ino.ctime_duration_proc_start", AbsTime, "Nanoseconds between the executable's inode ctime and the process start (small = freshly dropped binary).", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || ev.Thread.ExeInoCtime == 0 || ev.Thread.StartTS == 0 {
			return Value{}, false
		}
		return Value{N: ev.Thread.StartTS - ev.Thread.ExeInoCtime}, true
	})
}
