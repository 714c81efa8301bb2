package fields

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/saker-sec/saker/sensor/event"
)

var hostname atomic.Pointer[string]

// The kernel's hostname until cmd sets the node name (NodeName) through
// SetHostname: this package reads no environment.
func init() {
	h, _ := os.Hostname()
	hostname.Store(&h)
}

// NodeName is the node name alerts carry: FALCO_HOSTNAME as Falco reads it
// (a DaemonSet sets it from spec.nodeName, since the pod's own hostname is
// the pod name), else the kernel's hostname. cmd/saker passes it os.Getenv.
func NodeName(getenv func(string) string, kernel func() (string, error)) string {
	if h := getenv("FALCO_HOSTNAME"); h != "" {
		return h
	}
	h, _ := kernel()
	return h
}

// SetHostname overrides evt.hostname (the sensor sets the node name when it
// runs in a container whose hostname is not the node's).
func SetHostname(h string) { hostname.Store(&h) }

// Hostname returns the name evt.hostname reports.
func Hostname() string { return *hostname.Load() }

// argNames lists, per event type, the exit-event parameters Falco defines,
// in Falco's order: evt.arg[N] indexes it and evt.args prints it.
var argNames = [event.NumTypes][]string{
	event.TypeExecve:      {"res", "exe", "args", "tid", "pid", "ptid", "cwd", "comm", "tty", "vpgid", "loginuid", "flags", "cap_effective", "uid", "trusted_exepath", "gid"},
	event.TypeExecveat:    {"res", "exe", "args", "tid", "pid", "ptid", "cwd", "comm", "tty", "vpgid", "loginuid", "flags", "cap_effective", "uid", "trusted_exepath", "gid"},
	event.TypeClone:       {"res", "exe", "args", "tid", "pid", "ptid", "cwd", "comm", "flags", "uid", "gid", "vtid", "vpid"},
	event.TypeClone3:      {"res", "exe", "args", "tid", "pid", "ptid", "cwd", "comm", "flags", "uid", "gid", "vtid", "vpid"},
	event.TypeFork:        {"res", "exe", "args", "tid", "pid", "ptid", "cwd", "comm", "flags", "uid", "gid", "vtid", "vpid"},
	event.TypeVfork:       {"res", "exe", "args", "tid", "pid", "ptid", "cwd", "comm", "flags", "uid", "gid", "vtid", "vpid"},
	event.TypeProcExit:    {"status"},
	event.TypeOpen:        {"fd", "name", "flags", "mode"},
	event.TypeOpenat:      {"fd", "dirfd", "name", "flags", "mode"},
	event.TypeOpenat2:     {"fd", "dirfd", "name", "flags", "mode", "resolve"},
	event.TypeCreat:       {"fd", "name", "mode"},
	event.TypeUnlink:      {"res", "path"},
	event.TypeUnlinkat:    {"res", "dirfd", "name", "flags"},
	event.TypeRename:      {"res", "oldpath", "newpath"},
	event.TypeRenameat:    {"res", "olddirfd", "oldpath", "newdirfd", "newpath"},
	event.TypeRenameat2:   {"res", "olddirfd", "oldpath", "newdirfd", "newpath", "flags"},
	event.TypeMkdir:       {"res", "path", "mode"},
	event.TypeMkdirat:     {"res", "dirfd", "path", "mode"},
	event.TypeRmdir:       {"res", "path"},
	event.TypeChmod:       {"res", "filename", "mode"},
	event.TypeFchmod:      {"res", "fd", "mode"},
	event.TypeFchmodat:    {"res", "dirfd", "filename", "mode"},
	event.TypeChown:       {"res", "path", "uid", "gid"},
	event.TypeLchown:      {"res", "path", "uid", "gid"},
	event.TypeFchown:      {"res", "fd", "uid", "gid"},
	event.TypeFchownat:    {"res", "dirfd", "pathname", "uid", "gid", "flags"},
	event.TypeLink:        {"res", "oldpath", "newpath"},
	event.TypeLinkat:      {"res", "olddir", "oldpath", "newdir", "newpath", "flags"},
	event.TypeSymlink:     {"res", "target", "linkpath"},
	event.TypeSymlinkat:   {"res", "target", "linkdirfd", "linkpath"},
	event.TypeConnect:     {"res", "tuple", "fd"},
	event.TypeAccept:      {"fd", "tuple"},
	event.TypeAccept4:     {"fd", "tuple"},
	event.TypeBind:        {"res", "addr", "fd"},
	event.TypeListen:      {"res", "fd"},
	event.TypeSocket:      {"fd", "domain", "type", "proto"},
	event.TypeSendto:      {"res", "data", "fd", "tuple"},
	event.TypeSendmsg:     {"res", "data", "fd", "tuple"},
	event.TypeRecvfrom:    {"res", "data", "fd", "tuple"},
	event.TypeRecvmsg:     {"res", "data", "fd", "tuple"},
	event.TypeRead:        {"res", "data", "fd"},
	event.TypeWrite:       {"res", "data", "fd"},
	event.TypePread64:     {"res", "data", "fd", "pos"},
	event.TypePwrite64:    {"res", "data", "fd", "pos"},
	event.TypeReadv:       {"res", "data", "fd"},
	event.TypeWritev:      {"res", "data", "fd"},
	event.TypePreadv:      {"res", "data", "fd", "pos"},
	event.TypePwritev:     {"res", "data", "fd", "pos"},
	event.TypeSendmmsg:    {"res", "data", "fd", "tuple"},
	event.TypePoll:        {"res", "fds", "timeout"},
	event.TypePpoll:       {"res", "fds", "timeout"},
	event.TypeRecvmmsg:    {"res", "data", "fd", "tuple"},
	event.TypeSetuid:      {"res", "uid"},
	event.TypeSetgid:      {"res", "gid"},
	event.TypeSetresuid:   {"res", "euid"},
	event.TypeSetresgid:   {"res", "egid"},
	event.TypeSetns:       {"res", "fd", "nstype"},
	event.TypeUnshare:     {"res", "flags"},
	event.TypePtrace:      {"res", "request", "pid"},
	event.TypeMount:       {"res", "dev", "dir", "flags"},
	event.TypeUmount2:     {"res", "name", "flags"},
	event.TypeMemfdCreate: {"fd", "name", "flags"},
	event.TypeDup:         {"res", "oldfd"},
	event.TypeDup2:        {"res", "oldfd", "newfd"},
	event.TypeDup3:        {"res", "oldfd", "newfd", "flags"},
	event.TypeInitModule:  {"res"},
	event.TypeFinitModule: {"res", "fd", "flags"},
	event.TypeBpf:         {"fd", "cmd"},
	event.TypeUserfaultfd: {"res", "flags"},
	event.TypeKill:        {"res", "pid", "sig"},
	event.TypeChroot:      {"res", "path"},
	event.TypeIoctl:       {"res", "fd", "request"},
	event.TypePrctl:       {"res", "option"},
	event.TypeMmap:        {"res", "prot", "flags"},
	event.TypeMprotect:    {"res", "prot"},
	event.TypeCapset:      {"res", "cap_effective"},
}

// eventArgNames returns the parameter names of an event type.
func eventArgNames(t event.Type) []string {
	if t < event.NumTypes {
		return argNames[t]
	}
	return nil
}

func isOpen(t event.Type) bool {
	return t == event.TypeOpen || t == event.TypeOpenat || t == event.TypeOpenat2 || t == event.TypeCreat
}

func isProcEvent(t event.Type) bool {
	switch t {
	case event.TypeExecve, event.TypeExecveat, event.TypeClone, event.TypeClone3, event.TypeFork, event.TypeVfork:
		return true
	}
	return false
}

// hasArg reports whether an event type defines parameter name.
func hasParam(t event.Type, name string) bool {
	for _, n := range eventArgNames(t) {
		if n == name {
			return true
		}
	}
	return false
}

// argString renders parameter name of ev as Falco's evt.arg.NAME does
// (flags by name, errno names for results). Strings from the event and the
// flag caches are returned without allocating; numbers are formatted.
func argString(ev *event.Event, name string) (string, bool) {
	if !hasParam(ev.Type, name) {
		for _, a := range ev.Args {
			if a.Name == name {
				return a.Value, true
			}
		}
		return "", false
	}
	t := ev.Thread
	switch name {
	case "res":
		if isProcEvent(ev.Type) || ev.Res >= 0 {
			return strconv.FormatInt(ev.Res, 10), true
		}
		return errnoName(ev.Res), true
	case "fd":
		if isOpen(ev.Type) || ev.Type == event.TypeSocket || ev.Type == event.TypeAccept || ev.Type == event.TypeAccept4 || ev.Type == event.TypeMemfdCreate || ev.Type == event.TypeBpf {
			if ev.Res < 0 {
				return errnoName(ev.Res), true
			}
			return strconv.FormatInt(ev.Res, 10), true
		}
		return strconv.FormatInt(ev.FD.Num, 10), true
	case "oldfd", "newfd":
		// dup's: the event's fd is the new one (the result).
		for _, a := range ev.Args {
			if a.Name == name {
				return a.Value, true
			}
		}
		return "", false
	case "dirfd", "olddirfd", "olddir", "linkdirfd":
		return dirfdString(ev.DirFD), true
	case "newdirfd", "newdir":
		return dirfdString(ev.NewDirFD), true
	case "name", "path", "filename", "pathname", "oldpath", "dev", "target":
		return ev.Path, true
	case "newpath", "linkpath", "dir":
		return ev.Target, true
	case "tuple", "addr":
		return ev.FD.Name, true
	case "data":
		if ev.Data == nil {
			return "", false
		}
		return printableBuffer(ev.Data), true
	case "flags":
		switch {
		case isOpen(ev.Type):
			return cachedFlags(kindOpen, uint64(ev.Flags)), true
		case ev.Type == event.TypeExecve || ev.Type == event.TypeExecveat:
			f := ev.Flags
			if t != nil && t.ExeUpperLayer {
				f |= event.ExeUpperLayer
			}
			if t != nil && t.ExeLowerLayer {
				f |= event.ExeLowerLayer
			}
			if t != nil && t.ExeWritable {
				f |= event.ExeWritable
			}
			if t != nil && t.ExeFromMemfd {
				f |= event.ExeFromMemfd
			}
			return cachedFlags(kindExe, uint64(f)), true
		case isProcEvent(ev.Type):
			return cachedFlags(kindClone, uint64(ev.Flags)), true
		}
		if kind, ok := flagsKind[ev.Type]; ok {
			return cachedFlags(kind, uint64(ev.Flags)), true
		}
		return strconv.FormatUint(uint64(ev.Flags), 10), true
	case "nstype":
		return cachedFlags(kindClone, uint64(ev.Flags)), true
	case "prot":
		return cachedFlags(kindProt, uint64(ev.Mode)), true
	case "resolve":
		return cachedFlags(kindResolve, ev.Request), true
	case "sig":
		return enumName(signalNames, ev.Request), true
	case "cmd":
		return enumName(bpfCommandNames, ev.Request), true
	case "option":
		return enumName(prctlOptionNames, ev.Request), true
	case "mode":
		switch ev.Type {
		case event.TypeChmod, event.TypeFchmod, event.TypeFchmodat:
			return cachedFlags(kindChmod, uint64(ev.Mode)), true
		}
		return "0" + strconv.FormatUint(uint64(ev.Mode), 8), true
	case "request":
		if ev.Type == event.TypePtrace {
			if n, ok := ptraceNames[ev.Request]; ok {
				return n, true
			}
		}
		return strconv.FormatUint(ev.Request, 10), true
	case "pid":
		if isProcEvent(ev.Type) && t != nil {
			return strconv.FormatInt(t.PID, 10), true
		}
		return strconv.FormatInt(ev.PID, 10), true
	case "domain":
		if n, ok := familyNames[ev.Domain]; ok {
			return n, true
		}
		return strconv.FormatUint(uint64(ev.Domain), 10), true
	case "type":
		if n, ok := sockTypeNames[ev.Flags&0xf]; ok {
			return n, true
		}
		return strconv.FormatUint(uint64(ev.Flags), 10), true
	case "proto":
		return strconv.FormatUint(uint64(ev.Proto), 10), true
	case "uid", "euid":
		if isProcEvent(ev.Type) && t != nil {
			return strconv.FormatUint(uint64(t.UID), 10), true
		}
		return strconv.FormatUint(uint64(ev.UID), 10), true
	case "gid", "egid":
		if isProcEvent(ev.Type) && t != nil {
			return strconv.FormatUint(uint64(t.GID), 10), true
		}
		return strconv.FormatUint(uint64(ev.GID), 10), true
	}
	if t == nil {
		return "", false
	}
	switch name {
	case "exe":
		return t.Exe, true
	case "args":
		return argsLine(t), true
	case "tid":
		return strconv.FormatInt(t.TID, 10), true
	case "ptid":
		return strconv.FormatInt(t.PPID, 10), true
	case "vtid":
		return strconv.FormatInt(t.VTID, 10), true
	case "vpid":
		return strconv.FormatInt(t.VPID, 10), true
	case "cwd":
		return t.Cwd, true
	case "comm":
		return t.Comm, true
	case "tty":
		return strconv.FormatUint(uint64(t.TTY), 10), true
	case "vpgid":
		return strconv.FormatInt(t.VPGID, 10), true
	case "loginuid":
		return strconv.FormatInt(t.LoginUID, 10), true
	case "cap_effective":
		return cachedFlags(kindCaps, t.CapEffective), true
	case "trusted_exepath":
		return t.ExePath, true
	}
	return "", false
}

// dirfdString renders a directory fd argument as Falco does for AT_FDCWD,
// else as its number.
func dirfdString(fd int64) string {
	if fd == -100 {
		return "-100(AT_FDCWD)"
	}
	return strconv.FormatInt(fd, 10)
}

// rawArg returns evt.rawarg.NAME: numbers unrendered.
func rawArg(ev *event.Event, name string) (Value, bool) {
	if !hasParam(ev.Type, name) {
		return Value{}, false
	}
	switch name {
	case "res", "fd":
		if name == "fd" && !isOpen(ev.Type) && ev.Type != event.TypeSocket {
			return Value{N: ev.FD.Num}, true
		}
		return Value{N: ev.Res}, true
	case "flags", "nstype", "type":
		return Value{N: int64(ev.Flags)}, true
	case "mode", "prot":
		return Value{N: int64(ev.Mode)}, true
	case "request", "sig", "cmd", "option", "resolve":
		return Value{N: int64(ev.Request)}, true
	case "pid":
		return Value{N: ev.PID}, true
	case "uid", "euid":
		return Value{N: int64(ev.UID)}, true
	case "gid", "egid":
		return Value{N: int64(ev.GID)}, true
	case "domain":
		return Value{N: int64(ev.Domain)}, true
	case "proto":
		return Value{N: int64(ev.Proto)}, true
	}
	s, ok := argString(ev, name)
	return Value{S: s}, ok
}

// rawArgType is evt.rawarg's type for a parameter name.
func rawArgType(name string) Type {
	switch name {
	case "res", "fd", "pid":
		return Int64
	case "flags", "nstype", "type", "mode", "prot", "request", "sig", "cmd", "option", "resolve", "uid", "euid", "gid", "egid", "domain", "proto":
		return Uint64
	}
	return String
}

// formatArgs renders evt.args: "name=value" pairs separated by spaces, fd
// values followed by the fd's type and name as Falco prints them.
func formatArgs(ev *event.Event) string {
	var b strings.Builder
	for i, n := range eventArgNames(ev.Type) {
		v, _ := argString(ev, n)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(n)
		b.WriteByte('=')
		switch n {
		case "flags":
			if ev.Type != event.TypeExecve && ev.Type != event.TypeExecveat {
				b.WriteString(strconv.FormatUint(uint64(ev.Flags), 10))
				b.WriteByte('(')
				b.WriteString(v)
				b.WriteByte(')')
				continue
			}
		case "fd", "res":
			if (n == "fd" || isOpen(ev.Type)) && ev.FD.Type != event.FDUnknown && !strings.HasPrefix(v, "E") {
				b.WriteString(v)
				b.WriteString("(<")
				b.WriteString(fdTypeChar[ev.FD.Type])
				b.WriteByte('>')
				b.WriteString(ev.FD.Name)
				b.WriteByte(')')
				continue
			}
		}
		b.WriteString(v)
	}
	for _, a := range ev.Args {
		if hasParam(ev.Type, a.Name) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a.Name)
		b.WriteByte('=')
		b.WriteString(a.Value)
	}
	return b.String()
}

// printableBuffer renders an I/O buffer as Falco prints evt.arg.data by
// default: printable ASCII as is, every other byte as '.'.
func printableBuffer(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// eventCategory is Falco's evt.category for an event type.
func eventCategory(t event.Type) string {
	switch t {
	case event.TypeOpen, event.TypeOpenat, event.TypeOpenat2, event.TypeCreat, event.TypeDup, event.TypeDup2, event.TypeDup3:
		return "file"
	case event.TypeConnect, event.TypeAccept, event.TypeAccept4, event.TypeBind, event.TypeListen, event.TypeSocket:
		return "net"
	case event.TypeSendto, event.TypeSendmsg, event.TypeRecvfrom, event.TypeRecvmsg, event.TypeSendmmsg, event.TypeRecvmmsg:
		return "net"
	case event.TypeRead, event.TypeWrite, event.TypePread64, event.TypePwrite64, event.TypeReadv, event.TypeWritev, event.TypePreadv, event.TypePwritev:
		return "file"
	case event.TypeExecve, event.TypeExecveat, event.TypeClone, event.TypeClone3, event.TypeFork, event.TypeVfork, event.TypeProcExit, event.TypeKill, event.TypePrctl:
		return "process"
	case event.TypeMmap, event.TypeMprotect:
		return "memory"
	case event.TypeSetuid, event.TypeSetgid, event.TypeSetresuid, event.TypeSetresgid, event.TypeCapset:
		return "user"
	case event.TypeContainer:
		return "internal"
	}
	return "other"
}

func openFlags(ev *event.Event) (uint32, bool) {
	if !isOpen(ev.Type) {
		return 0, false
	}
	if ev.Type == event.TypeCreat {
		return 0o1101, true // O_CREAT|O_WRONLY|O_TRUNC
	}
	return ev.Flags, true
}

// FormatTime renders ns since the epoch as Falco's evt.time: local
// HH:MM:SS.nnnnnnnnn.
func FormatTime(ns int64) string {
	t := time.Unix(0, ns)
	return t.Format("15:04:05.000000000")
}

func init() {
	simpleNum("evt.num", Uint64, "Event number, assigned by the sensor in capture order.", func(ev *event.Event) (int64, bool) { return int64(ev.Num), true })
	simple("evt.time", AbsTime, "Event timestamp; printed as local HH:MM:SS.nnnnnnnnn, in JSON as ns since the epoch.", func(ev *event.Event) (Value, bool) { return Value{N: ev.TS}, true })
	simple("evt.time.s", String, "Event timestamp as local HH:MM:SS.", func(ev *event.Event) (Value, bool) {
		return Value{S: time.Unix(0, ev.TS).Format("15:04:05")}, true
	})
	simple("evt.time.iso8601", String, "Event timestamp in ISO 8601 UTC with nanoseconds (2026-11-23T09:19:30.012345678+0000).", func(ev *event.Event) (Value, bool) {
		return Value{S: time.Unix(0, ev.TS).UTC().Format("2006-01-02T15:04:05.000000000-0700")}, true
	})
	simple("evt.datetime", String, "Event timestamp as local date and time with nanoseconds.", func(ev *event.Event) (Value, bool) {
		return Value{S: time.Unix(0, ev.TS).Format("2006-01-02 15:04:05.000000000")}, true
	})
	simple("evt.datetime.s", String, "Event timestamp as local date and time.", func(ev *event.Event) (Value, bool) {
		return Value{S: time.Unix(0, ev.TS).Format("2006-01-02 15:04:05")}, true
	})
	simple("evt.rawtime", AbsTime, "Event timestamp in ns since the epoch.", func(ev *event.Event) (Value, bool) { return Value{N: ev.TS}, true })
	simple("evt.rawtime.s", AbsTime, "Integer part of the timestamp in seconds.", func(ev *event.Event) (Value, bool) { return Value{N: ev.TS / 1e9}, true })
	simple("evt.rawtime.ns", AbsTime, "Fractional part of the timestamp in ns.", func(ev *event.Event) (Value, bool) { return Value{N: ev.TS % 1e9}, true })
	simpleStr("evt.dir", "Event direction: always \"<\" (Saker captures syscall exits).", func(ev *event.Event) (string, bool) { return "<", true })
	simpleStr("evt.type", "Name of the event (e.g. openat).", func(ev *event.Event) (string, bool) { return ev.Type.String(), true })
	simple("evt.cpu", Int16, "CPU on which the event happened.", func(ev *event.Event) (Value, bool) { return Value{N: int64(ev.CPU)}, true })
	simpleStr("evt.category", "Event category (file, net, process, memory, user, other…).", func(ev *event.Event) (string, bool) { return eventCategory(ev.Type), true })
	simpleStr("evt.source", "Event source: always \"syscall\".", func(ev *event.Event) (string, bool) { return "syscall", true })
	simpleStr("evt.hostname", "Hostname of the machine the sensor runs on.", func(ev *event.Event) (string, bool) { return Hostname(), true })
	simpleNum("evt.rawres", Int64, "Return value of the syscall as a number (negative errno on failure).", func(ev *event.Event) (int64, bool) {
		if ev.Type == event.TypeContainer {
			return 0, false
		}
		return ev.Res, true
	})
	simpleStr("evt.res", "Result of the syscall: SUCCESS, or the errno name (ENOENT…) on failure.", func(ev *event.Event) (string, bool) {
		if ev.Type == event.TypeContainer {
			return "", false
		}
		return errnoName(ev.Res), true
	})
	simpleNum("evt.failed", Bool, "True for events that returned an error.", func(ev *event.Event) (int64, bool) { return b2i(ev.Res < 0), true })
	simple("evt.args", String, "All event arguments as name=value pairs.", func(ev *event.Event) (Value, bool) { return Value{S: formatArgs(ev)}, true })
	openBool := func(name, desc string, test func(f uint32) bool) {
		simpleNum(name, Bool, desc, func(ev *event.Event) (int64, bool) {
			f, ok := openFlags(ev)
			if !ok {
				return 0, true
			}
			return b2i(test(f)), true
		})
	}
	openBool("evt.is_open_read", "True for open/openat/openat2/creat events opening the file for reading.", func(f uint32) bool { return f&3 == 0 || f&3 == 2 })
	openBool("evt.is_open_write", "True for open/openat/openat2/creat events opening the file for writing.", func(f uint32) bool { return f&3 == 1 || f&3 == 2 })
	openBool("evt.is_open_create", "True for open events that create the file (O_CREAT).", func(f uint32) bool { return f&0o100 != 0 })
	simpleNum("evt.is_open_exec", Bool, "True for open events creating an executable file (O_CREAT with an execute mode bit).", func(ev *event.Event) (int64, bool) {
		f, ok := openFlags(ev)
		return b2i(ok && f&0o100 != 0 && ev.Mode&0o111 != 0), true
	})

	// The I/O payload of read/write/send/recv-family events, cut at the
	// probe's snaplen as Falco's evt.buffer is; missing on other events.
	simple("evt.buffer", Bytes, "Binary data buffer of an I/O event (read, write, send, recv…), up to the snaplen.", func(ev *event.Event) (Value, bool) {
		if ev.Data == nil {
			return Value{}, false
		}
		return Value{B: ev.Data}, true
	})

	register(&Field{Name: "evt.arg", Type: String, Arg: IndexOrKey,
		Desc: "One event argument, by name (evt.arg.flags) or 0-based index (evt.arg[0]), rendered as text (flags by name).",
		make: func(arg string, hasArg bool) (Extractor, error) {
			if !hasArg || arg == "" {
				return nil, fmt.Errorf("an argument name or index is required")
			}
			if n, err := strconv.Atoi(arg); err == nil {
				if n < 0 {
					return nil, fmt.Errorf("negative index %d", n)
				}
				return func(ev *event.Event) (Value, bool) {
					names := eventArgNames(ev.Type)
					if n >= len(names) {
						return Value{}, false
					}
					s, ok := argString(ev, names[n])
					return Value{S: s}, ok
				}, nil
			}
			return func(ev *event.Event) (Value, bool) {
				s, ok := argString(ev, arg)
				return Value{S: s}, ok
			}, nil
		}})
	register(&Field{Name: "evt.rawarg", Type: Int64, Arg: KeyArg, typeFor: rawArgType,
		Desc: "One event argument by name, unrendered (numbers as numbers): evt.rawarg.flags, evt.rawarg.res.",
		make: func(arg string, hasArg bool) (Extractor, error) {
			return func(ev *event.Event) (Value, bool) { return rawArg(ev, arg) }, nil
		}})
}
