package fields

import (
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/saker-sec/saker/sensor/event"
)

// Fields of Falco's syscall source computed from the event, its thread and
// the thread's ancestry: relative and delta times, the deprecated latency
// fields, the I/O byte counters, the process group, the pid namespace's
// init, ancestors' environment, and the user's home and shell.

// isIOEvent tells the read/write/send/recv families (Falco's EC_IO_*).
func isIOEvent(t event.Type) bool { return isSend(t) || isRecv(t) }

// ioBytes is Falco's buflen: the bytes the I/O syscall transferred (its
// return value, not the captured snaplen), present when it succeeded on a
// known fd.
func ioBytes(ev *event.Event, test func(ev *event.Event) bool) (int64, bool) {
	if !isIOEvent(ev.Type) || !hasFD(ev) || ev.Res < 0 || !test(ev) {
		return 0, false
	}
	return ev.Res, true
}

func isNetFD(ev *event.Event) bool { return isIP(ev) }

func isFileFD(ev *event.Event) bool { return ev.FD.Type == event.FDFile }

// leader finds the leader of a session or process group as libsinsp's
// get_oldest_matching_ancestor does, within what the event carries: the
// thread or an ancestor whose pid (as pid reads it) is the thread's id,
// else the oldest ancestor sharing the id. A leader outside the thread's
// ancestry (ls for wc in "ls | wc") is not found.
func leader(t *event.Thread, id, pid func(*event.Thread) int64) *event.Thread {
	want := id(t)
	var oldest *event.Thread
	for p, i := t, 0; p != nil && i <= event.MaxAncestors; p, i = p.Parent, i+1 {
		if pid(p) == want {
			return p
		}
		if p != t && id(p) == want {
			oldest = p
		}
	}
	return oldest
}

// pidnsInit returns the init (vpid 1) of the thread's pid namespace among
// its ancestors: the host's init for host processes, the container's
// first process for a container.
func pidnsInit(t *event.Thread) *event.Thread {
	for p, i := t, 0; p != nil && i <= event.MaxAncestors; p, i = p.Parent, i+1 {
		if p.VPID == 1 {
			return p
		}
	}
	return nil
}

// envValue finds NAME in a "NAME=value" environment.
func envValue(env []string, name string) (string, bool) {
	for _, kv := range env {
		if len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			return kv[len(name)+1:], true
		}
	}
	return "", false
}

// deltaField registers an evt.deltatime field: as in libsinsp each use of
// the field keeps the timestamp of the last event it saw, and reports 0
// for its first one.
func deltaField(name, desc string, part func(ns int64) int64) {
	register(&Field{Name: name, Type: RelTime, Desc: desc,
		make: func(string, bool) (Extractor, error) {
			var last atomic.Int64
			return func(ev *event.Event) (Value, bool) {
				prev := last.Swap(ev.TS)
				if prev == 0 || ev.TS < prev {
					return Value{}, true
				}
				return Value{N: part(ev.TS - prev)}, true
			}, nil
		}})
}

func whole(ns int64) int64 { return ns }
func secs(ns int64) int64  { return ns / 1e9 }
func nsecs(ns int64) int64 { return ns % 1e9 }

func init() {
	// Falco captures exits only since libs dropped enter events, and
	// reports these deprecated fields as zero; so does Saker.
	for _, n := range []string{"evt.latency", "evt.latency.s", "evt.latency.ns", "evt.wait_latency"} {
		simpleNum(n, RelTime, "Deprecated (enter events are not captured): always 0, as in Falco.", func(*event.Event) (int64, bool) { return 0, true })
	}
	simpleNum("evt.latency.quantized", Uint64, "Deprecated (enter events are not captured): always 0, as in Falco.", func(*event.Event) (int64, bool) { return 0, true })
	simpleStr("evt.latency.human", "Deprecated (enter events are not captured): always \"0ns\", as in Falco.", func(*event.Event) (string, bool) { return "0ns", true })

	deltaField("evt.deltatime", "Nanoseconds since the previous event this field was extracted from (0 for the first).", whole)
	deltaField("evt.deltatime.s", "Whole seconds of evt.deltatime.", secs)
	deltaField("evt.deltatime.ns", "Nanoseconds part (below one second) of evt.deltatime.", nsecs)

	rel := func(name, desc string, part func(ns int64) int64) {
		simpleNum(name, RelTime, desc, func(ev *event.Event) (int64, bool) {
			if ev.FirstTS == 0 || ev.TS < ev.FirstTS {
				return 0, false
			}
			return part(ev.TS - ev.FirstTS), true
		})
	}
	rel("evt.reltime", "Nanoseconds since the first event the sensor captured.", whole)
	rel("evt.reltime.s", "Whole seconds of evt.reltime.", secs)
	rel("evt.reltime.ns", "Nanoseconds part (below one second) of evt.reltime.", nsecs)

	// procinfo events (periodic CPU usage records of Falco's kernel
	// module) do not exist in Saker's capture: every event counts 0, as
	// every non-procinfo event does in Falco.
	simpleNum("evt.count.procinfo", Uint32, "1 for procinfo events of a main thread, else 0 (Saker captures no procinfo events).", func(*event.Event) (int64, bool) { return 0, true })
	simpleNum("evt.count.threadinfo", Uint32, "1 for procinfo events, else 0 (Saker captures no procinfo events).", func(*event.Event) (int64, bool) { return 0, true })

	all := func(*event.Event) bool { return true }
	in := func(ev *event.Event) bool { return isRecv(ev.Type) }
	out := func(ev *event.Event) bool { return isSend(ev.Type) }
	for _, f := range []struct {
		name, desc string
		test       func(ev *event.Event) bool
	}{
		{"evt.buflen.in", "Bytes read by a successful read or receive event.", in},
		{"evt.buflen.out", "Bytes written by a successful write or send event.", out},
		{"evt.buflen.file", "Bytes read or written by a successful I/O event on a file.", isFileFD},
		{"evt.buflen.file.in", "Bytes read from a file by a successful read event.", func(ev *event.Event) bool { return in(ev) && isFileFD(ev) }},
		{"evt.buflen.file.out", "Bytes written to a file by a successful write event.", func(ev *event.Event) bool { return out(ev) && isFileFD(ev) }},
		{"evt.buflen.net", "Bytes sent or received by a successful I/O event on an IPv4/IPv6 socket.", isNetFD},
		{"evt.buflen.net.in", "Bytes received from an IPv4/IPv6 socket by a successful I/O event.", func(ev *event.Event) bool { return in(ev) && isNetFD(ev) }},
		{"evt.buflen.net.out", "Bytes sent to an IPv4/IPv6 socket by a successful I/O event.", func(ev *event.Event) bool { return out(ev) && isNetFD(ev) }},
		{"evt.buflen", "Bytes read or written by a successful I/O event (its return value; evt.buffer holds at most the snaplen).", all},
	} {
		test := f.test
		simpleNum(f.name, Uint64, f.desc, func(ev *event.Event) (int64, bool) { return ioBytes(ev, test) })
	}

	simple("thread.nametid", String, "Process name followed by the thread id (bash1234).", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil {
			return Value{}, false
		}
		return Value{S: ev.Thread.Comm + strconv.FormatInt(ev.Thread.TID, 10)}, true
	})
	simple("fd.uid", String, "Unique id of the FD: the thread id followed by the fd number.", func(ev *event.Event) (Value, bool) {
		if ev.Thread == nil || !hasFD(ev) || ev.FD.Num < 0 {
			return Value{}, false
		}
		return Value{S: strconv.FormatInt(ev.Thread.TID, 10) + strconv.FormatInt(ev.FD.Num, 10)}, true
	})

	threadNum("proc.pgid", Int64, "Process group id in the host pid namespace.", func(t *event.Thread) int64 { return t.PGID })
	simpleNum("proc.is_pgid_leader", Bool, "True if the process leads its process group (proc.pid = proc.pgid).", func(ev *event.Event) (int64, bool) {
		if ev.Thread == nil || ev.Thread.PGID == 0 {
			return 0, false
		}
		return b2i(ev.Thread.PID == ev.Thread.PGID), true
	})
	pgLeader := func(name, desc string, get func(t *event.Thread) string) {
		simpleStr(name, desc, func(ev *event.Event) (string, bool) {
			if ev.Thread == nil || ev.Thread.PGID == 0 {
				return "", false
			}
			l := leader(ev.Thread, func(t *event.Thread) int64 { return t.PGID }, func(t *event.Thread) int64 { return t.PID })
			if l == nil {
				return "", true // libsinsp: an empty string when no ancestor leads the group
			}
			return get(l), true
		})
	}
	pgLeader("proc.pgid.name", "Name (comm) of the process-group leader, found among the process and its ancestors (empty when none is).", comm)
	pgLeader("proc.pgid.exe", "argv[0] of the process-group leader, found among the process and its ancestors.", exe)
	pgLeader("proc.pgid.exepath", "Executable path of the process-group leader, found among the process and its ancestors.", exePath)

	simpleNum("proc.pidns_init_start_ts", Uint64, "Start time of the init (vpid 1) of the process's pid namespace, ns since the epoch.", func(ev *event.Event) (int64, bool) {
		if ev.Thread == nil {
			return 0, false
		}
		if i := pidnsInit(ev.Thread); i != nil && i.StartTS != 0 {
			return i.StartTS, true
		}
		return 0, false
	})
	simpleNum("proc.exe_ino.ctime_duration_pidns_start", AbsTime, "Nanoseconds between the start of the pid namespace's init and the executable's inode ctime (small = a binary dropped after the container started).", func(ev *event.Event) (int64, bool) {
		t := ev.Thread
		if t == nil || t.ExeInoCtime == 0 {
			return 0, false
		}
		i := pidnsInit(t)
		if i == nil || i.StartTS == 0 || t.ExeInoCtime < i.StartTS {
			return 0, false
		}
		return t.ExeInoCtime - i.StartTS, true
	})

	register(&Field{Name: "proc.aenv", Type: String, Arg: IndexOrKey,
		Desc: "Environment of an ancestor: proc.aenv[NAME] is the value of NAME in the nearest ancestor that sets it; proc.aenv[N] the N-th ancestor's whole environment; without an argument the process's own.",
		make: func(arg string, hasArg bool) (Extractor, error) {
			index, err := strconv.Atoi(arg)
			byIndex := hasArg && err == nil && index >= 0
			if !hasArg || (byIndex && index == 0) {
				return func(ev *event.Event) (Value, bool) {
					if ev.Thread == nil {
						return Value{}, false
					}
					return Value{S: strings.Join(ev.Thread.Env, " ")}, true
				}, nil
			}
			if byIndex {
				return func(ev *event.Event) (Value, bool) {
					a := ancestor(ev.Thread, index)
					if a == nil {
						return Value{}, false
					}
					return Value{S: strings.Join(a.Env, " ")}, true
				}, nil
			}
			return func(ev *event.Event) (Value, bool) {
				if ev.Thread == nil {
					return Value{}, false
				}
				for p, i := ev.Thread.Parent, 0; p != nil && i < 20; p, i = p.Parent, i+1 {
					if v, ok := envValue(p.Env, arg); ok && v != "" {
						return Value{S: v}, true
					}
				}
				return Value{}, true // libsinsp: an empty string when no ancestor sets it
			}, nil
		}})

	simpleStr("user.homedir", "Home directory of the process's user (\"/root\" for an unknown uid 0, \"<NA>\" for other unknown users).", func(ev *event.Event) (string, bool) {
		t := ev.Thread
		switch {
		case t == nil:
			return "", false
		case t.User != "":
			return t.HomeDir, true
		case t.UID == 0:
			return "/root", true
		}
		return "<NA>", true
	})
	simpleStr("user.shell", "Login shell of the process's user (\"<NA>\" for unknown users).", func(ev *event.Event) (string, bool) {
		t := ev.Thread
		switch {
		case t == nil:
			return "", false
		case t.User != "":
			return t.Shell, true
		}
		return "<NA>", true
	})

	// Resource figures, read when the process exec'd (as Falco reads
	// them from the exec); missing when the sensor could not read them.
	res := func(name string, t Type, desc string, get func(t *event.Thread) int64) {
		simpleNum(name, t, desc, func(ev *event.Event) (int64, bool) {
			if ev.Thread == nil || !ev.Thread.HasResources {
				return 0, false
			}
			return get(ev.Thread), true
		})
	}
	res("proc.vmsize", Uint64, "Total virtual memory of the process, in kB (at its exec).", func(t *event.Thread) int64 { return int64(t.VMSizeKB) })
	res("proc.vmrss", Uint64, "Resident (non-swapped) memory of the process, in kB (at its exec).", func(t *event.Thread) int64 { return int64(t.VMRSSKB) })
	res("proc.vmswap", Uint64, "Swapped-out memory of the process, in kB (at its exec).", func(t *event.Thread) int64 { return int64(t.VMSwapKB) })
	mainOnly := func(t *event.Thread, v uint64) int64 {
		if t.TID != t.PID {
			return 0
		}
		return int64(v)
	}
	res("thread.vmsize", Uint64, "For the main thread, the process's virtual memory in kB; 0 for other threads.", func(t *event.Thread) int64 { return mainOnly(t, t.VMSizeKB) })
	res("thread.vmrss", Uint64, "For the main thread, the process's resident memory in kB; 0 for other threads.", func(t *event.Thread) int64 { return mainOnly(t, t.VMRSSKB) })
	res("thread.vmsize.b", Uint64, "For the main thread, the process's virtual memory in bytes; 0 for other threads.", func(t *event.Thread) int64 { return mainOnly(t, t.VMSizeKB*1024) })
	res("thread.vmrss.b", Uint64, "For the main thread, the process's resident memory in bytes; 0 for other threads.", func(t *event.Thread) int64 { return mainOnly(t, t.VMRSSKB*1024) })
	res("thread.pfmajor", Uint64, "Major page faults of the process since it started (at its exec).", func(t *event.Thread) int64 { return int64(t.PFMajor) })
	res("thread.pfminor", Uint64, "Minor page faults of the process since it started (at its exec).", func(t *event.Thread) int64 { return int64(t.PFMinor) })
	res("proc.fdlimit", Int64, "Maximum number of FDs the process can open (soft RLIMIT_NOFILE; -1 for unlimited).", func(t *event.Thread) int64 { return t.FDLimit })
	register(&Field{Name: "proc.fdusage", Type: Double,
		Desc: "Open FDs as a percentage of the FD limit (proc.fdopencount × 100 / proc.fdlimit; 0 without a limit).",
		make: func(string, bool) (Extractor, error) {
			return func(ev *event.Event) (Value, bool) {
				t := ev.Thread
				if t == nil || !t.HasResources {
					return Value{}, false
				}
				switch {
				case t.FDLimit <= 0:
					return Value{}, true
				case t.FDOpen > uint64(t.FDLimit):
					return Value{F: 100}, true
				}
				return Value{F: float64(t.FDOpen) * 100 / float64(t.FDLimit)}, true
			}, nil
		}})
	res("proc.fdopencount", Uint64, "Number of FDs the process had open (at its exec).", func(t *event.Thread) int64 { return int64(t.FDOpen) })

	// The standard fds as the process had them at exec.
	for i, stream := range []string{"stdin", "stdout", "stderr"} {
		i := i
		simpleStr("proc."+stream+".type", "Type of the process's "+stream+" (file, pipe, unix, ipv4…) at its exec.", func(ev *event.Event) (string, bool) {
			if ev.Thread == nil {
				return "", false
			}
			typ := ev.Thread.Std[i].Type
			if typ == event.FDUnknown || int(typ) >= len(fdTypeName) {
				return "", false
			}
			return fdTypeName[typ], true
		})
		simpleStr("proc."+stream+".name", "Name of the process's "+stream+" (a path, pipe:[inode], or local->remote address) at its exec.", func(ev *event.Event) (string, bool) {
			if ev.Thread == nil || ev.Thread.Std[i].Type == event.FDUnknown {
				return "", false
			}
			return ev.Thread.Std[i].Name, true
		})
	}

	register(&Field{Name: "fd.proto", Type: Port, FilterOnly: true,
		Desc: "Either end's protocol (filter: matches if the client's or the server's does, as fd.cproto and fd.sproto).",
		make: func(string, bool) (Extractor, error) {
			return func(ev *event.Event) (Value, bool) {
				if !isIP(ev) {
					return Value{}, false
				}
				return Value{Either: true, N: int64(ev.FD.ClientPort), N2: int64(ev.FD.ServerPort)}, true
			}, nil
		}})
}
