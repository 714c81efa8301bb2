package fields

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/saker-sec/saker/sensor/event"
)

// nameBit is one named flag or enum value.
type nameBit struct {
	name string
	bits uint64
}

// Open flags in the order Falco prints them (libs flags table), so
// O_TRUNC|O_CREAT|O_WRONLY reads the same. Values are the kernel's (x86_64);
// the access mode is handled separately because O_RDONLY is 0.
var openFlagNames = []nameBit{
	{"O_LARGEFILE", 0o100000},
	{"O_DIRECTORY", 0o200000},
	{"O_DIRECT", 0o40000},
	{"O_TRUNC", 0o1000},
	{"O_SYNC", 0o4000000},
	{"O_NONBLOCK", 0o4000},
	{"O_EXCL", 0o200},
	{"O_DSYNC", 0o10000},
	{"O_APPEND", 0o2000},
	{"O_CREAT", 0o100},
	{"O_RDWR", 0}, // access mode placeholders, see renderOpenFlags
	{"O_WRONLY", 0},
	{"O_RDONLY", 0},
	{"O_CLOEXEC", 0o2000000},
	{"O_TMPFILE", 0o20000000},
	{"O_NOCTTY", 0o400},
	{"O_NOFOLLOW", 0o400000},
	{"O_NOATIME", 0o1000000},
	{"O_PATH", 0o10000000},
}

func renderOpenFlags(f uint32) string {
	var b strings.Builder
	acc := f & 3
	for _, nb := range openFlagNames {
		var set bool
		switch nb.name {
		case "O_RDWR":
			set = acc == 2
		case "O_WRONLY":
			set = acc == 1
		case "O_RDONLY":
			set = acc == 0
		default:
			set = uint64(f)&nb.bits != 0
		}
		if set {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(nb.name)
		}
	}
	return b.String()
}

var cloneFlagNames = []nameBit{
	{"CLONE_FILES", 0x400}, {"CLONE_FS", 0x200}, {"CLONE_IO", 0x80000000},
	{"CLONE_NEWIPC", 0x08000000}, {"CLONE_NEWNET", 0x40000000}, {"CLONE_NEWNS", 0x00020000},
	{"CLONE_NEWPID", 0x20000000}, {"CLONE_NEWUTS", 0x04000000}, {"CLONE_PARENT", 0x8000},
	{"CLONE_PARENT_SETTID", 0x100000}, {"CLONE_PTRACE", 0x2000}, {"CLONE_SIGHAND", 0x800},
	{"CLONE_SYSVSEM", 0x40000}, {"CLONE_THREAD", 0x10000}, {"CLONE_UNTRACED", 0x800000},
	{"CLONE_VM", 0x100}, {"CLONE_NEWUSER", 0x10000000}, {"CLONE_NEWCGROUP", 0x02000000},
	{"CLONE_NEWTIME", 0x80}, {"CLONE_CHILD_CLEARTID", 0x200000}, {"CLONE_CHILD_SETTID", 0x01000000},
	{"CLONE_SETTLS", 0x80000}, {"CLONE_VFORK", 0x4000}, {"CLONE_DETACHED", 0x400000},
}

var exeFlagNames = []nameBit{
	{"EXE_WRITABLE", 1}, {"EXE_UPPER_LAYER", 2}, {"EXE_FROM_MEMFD", 4}, {"EXE_LOWER_LAYER", 8},
}

var mountFlagNames = []nameBit{
	{"RDONLY", 1}, {"NOSUID", 2}, {"NODEV", 4}, {"NOEXEC", 8}, {"SYNCHRONOUS", 16},
	{"REMOUNT", 32}, {"MANDLOCK", 64}, {"DIRSYNC", 128}, {"NOATIME", 1024}, {"NODIRATIME", 2048},
	{"BIND", 4096}, {"MOVE", 8192}, {"REC", 16384}, {"SILENT", 32768}, {"POSIXACL", 1 << 16},
	{"UNBINDABLE", 1 << 17}, {"PRIVATE", 1 << 18}, {"SLAVE", 1 << 19}, {"SHARED", 1 << 20},
	{"RELATIME", 1 << 21}, {"KERNMOUNT", 1 << 22}, {"I_VERSION", 1 << 23}, {"STRICTATIME", 1 << 24},
	{"LAZYTIME", 1 << 25},
}

// chmodModeNames are libs' chmod_mode names, in its table order: the
// chmod family's mode argument renders as the names of its set bits.
var chmodModeNames = []nameBit{
	{"S_IXOTH", 0o1}, {"S_IWOTH", 0o2}, {"S_IROTH", 0o4}, {"S_IXGRP", 0o10}, {"S_IWGRP", 0o20},
	{"S_IRGRP", 0o40}, {"S_IXUSR", 0o100}, {"S_IWUSR", 0o200}, {"S_IRUSR", 0o400},
	{"S_ISVTX", 0o1000}, {"S_ISGID", 0o2000}, {"S_ISUID", 0o4000},
}

var memfdFlagNames = []nameBit{{"MFD_CLOEXEC", 1}, {"MFD_ALLOW_SEALING", 2}, {"MFD_HUGETLB", 4}, {"MFD_NOEXEC_SEAL", 8}, {"MFD_EXEC", 16}}

// The tables below carry libs' names (driver/flags_table.c) in libs'
// order, with the kernel's x86_64 values, which is what the probe records.
var protFlagNames = []nameBit{
	{"PROT_READ", 1}, {"PROT_WRITE", 2}, {"PROT_EXEC", 4}, {"PROT_SEM", 8},
	{"PROT_GROWSDOWN", 0x01000000}, {"PROT_GROWSUP", 0x02000000},
}

var mmapFlagNames = []nameBit{
	{"MAP_SHARED", 0x01}, {"MAP_PRIVATE", 0x02}, {"MAP_FIXED", 0x10}, {"MAP_ANONYMOUS", 0x20},
	{"MAP_32BIT", 0x40}, {"MAP_NORESERVE", 0x4000}, {"MAP_POPULATE", 0x8000},
	{"MAP_NONBLOCK", 0x10000}, {"MAP_GROWSDOWN", 0x0100}, {"MAP_DENYWRITE", 0x0800},
	{"MAP_EXECUTABLE", 0x1000}, {"MAP_LOCKED", 0x2000},
}

var unlinkatFlagNames = []nameBit{{"AT_REMOVEDIR", 0x200}}

var linkatFlagNames = []nameBit{{"AT_SYMLINK_FOLLOW", 0x400}, {"AT_EMPTY_PATH", 0x1000}}

var fchownatFlagNames = []nameBit{{"AT_SYMLINK_NOFOLLOW", 0x100}, {"AT_EMPTY_PATH", 0x1000}}

var renameat2FlagNames = []nameBit{{"RENAME_NOREPLACE", 1}, {"RENAME_EXCHANGE", 2}, {"RENAME_WHITEOUT", 4}}

var resolveFlagNames = []nameBit{
	{"RESOLVE_BENEATH", 0x08}, {"RESOLVE_IN_ROOT", 0x10}, {"RESOLVE_NO_MAGICLINKS", 0x02},
	{"RESOLVE_NO_SYMLINKS", 0x04}, {"RESOLVE_NO_XDEV", 0x01}, {"RESOLVE_CACHED", 0x20},
}

// signalNames are the signals as libs names them (evt.arg.sig of kill).
var signalNames = map[uint64]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
	8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE",
	14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP",
	20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU", 23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ",
	26: "SIGVTALRM", 27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}

// bpfCommandNames are bpf(2)'s commands (evt.arg.cmd), as libs names them;
// 10 is both BPF_PROG_TEST_RUN and BPF_PROG_RUN, and libs prints the first.
var bpfCommandNames = map[uint64]string{
	0: "BPF_MAP_CREATE", 1: "BPF_MAP_LOOKUP_ELEM", 2: "BPF_MAP_UPDATE_ELEM", 3: "BPF_MAP_DELETE_ELEM",
	4: "BPF_MAP_GET_NEXT_KEY", 5: "BPF_PROG_LOAD", 6: "BPF_OBJ_PIN", 7: "BPF_OBJ_GET",
	8: "BPF_PROG_ATTACH", 9: "BPF_PROG_DETACH", 10: "BPF_PROG_TEST_RUN", 11: "BPF_PROG_GET_NEXT_ID",
	12: "BPF_MAP_GET_NEXT_ID", 13: "BPF_PROG_GET_FD_BY_ID", 14: "BPF_MAP_GET_FD_BY_ID",
	15: "BPF_OBJ_GET_INFO_BY_FD", 16: "BPF_PROG_QUERY", 17: "BPF_RAW_TRACEPOINT_OPEN",
	18: "BPF_BTF_LOAD", 19: "BPF_BTF_GET_FD_BY_ID", 20: "BPF_TASK_FD_QUERY",
	21: "BPF_MAP_LOOKUP_AND_DELETE_ELEM", 22: "BPF_MAP_FREEZE", 23: "BPF_BTF_GET_NEXT_ID",
	24: "BPF_MAP_LOOKUP_BATCH", 25: "BPF_MAP_LOOKUP_AND_DELETE_BATCH", 26: "BPF_MAP_UPDATE_BATCH",
	27: "BPF_MAP_DELETE_BATCH", 28: "BPF_LINK_CREATE", 29: "BPF_LINK_UPDATE",
	30: "BPF_LINK_GET_FD_BY_ID", 31: "BPF_LINK_GET_NEXT_ID", 32: "BPF_ENABLE_STATS",
	33: "BPF_ITER_CREATE", 34: "BPF_LINK_DETACH", 35: "BPF_PROG_BIND_MAP",
}

// prctlOptionNames are the prctl(2) options libs names (evt.arg.option).
var prctlOptionNames = map[uint64]string{
	3: "PR_GET_DUMPABLE", 4: "PR_SET_DUMPABLE", 7: "PR_GET_KEEPCAPS", 8: "PR_SET_KEEPCAPS",
	15: "PR_SET_NAME", 16: "PR_GET_NAME", 21: "PR_GET_SECCOMP", 22: "PR_SET_SECCOMP",
	23: "PR_CAPBSET_READ", 24: "PR_CAPBSET_DROP", 27: "PR_GET_SECUREBITS", 28: "PR_SET_SECUREBITS",
	33: "PR_MCE_KILL", 35: "PR_SET_MM", 36: "PR_SET_CHILD_SUBREAPER", 37: "PR_GET_CHILD_SUBREAPER",
	38: "PR_SET_NO_NEW_PRIVS", 39: "PR_GET_NO_NEW_PRIVS", 40: "PR_GET_TID_ADDRESS",
	41: "PR_SET_THP_DISABLE", 42: "PR_GET_THP_DISABLE", 47: "PR_CAP_AMBIENT",
}

// enumName renders an enumerated argument by name, or its number when
// libs has no name for it.
func enumName(names map[uint64]string, v uint64) string {
	if n, ok := names[v]; ok {
		return n
	}
	return strconv.FormatUint(v, 10)
}

func renderBits(names []nameBit, f uint64) string {
	var b strings.Builder
	for _, nb := range names {
		if f&nb.bits == nb.bits && nb.bits != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(nb.name)
		}
	}
	if b.Len() == 0 {
		return "0"
	}
	return b.String()
}

// Capability names by bit, as Falco prints thread.cap_effective.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

func renderCaps(m uint64) string {
	var b strings.Builder
	for i, n := range capNames {
		if m&(1<<uint(i)) != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

var ptraceNames = map[uint64]string{
	0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSR",
	4: "PTRACE_POKETEXT", 5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSR", 7: "PTRACE_CONT",
	8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP", 12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS",
	14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS", 16: "PTRACE_ATTACH", 17: "PTRACE_DETACH",
	18: "PTRACE_GETFPXREGS", 19: "PTRACE_SETFPXREGS", 24: "PTRACE_SYSCALL",
	0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG", 0x4202: "PTRACE_GETSIGINFO",
	0x4203: "PTRACE_SETSIGINFO", 0x4204: "PTRACE_GETREGSET", 0x4205: "PTRACE_SETREGSET",
	0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT", 0x4208: "PTRACE_LISTEN",
	0x4209: "PTRACE_PEEKSIGINFO",
}

var familyNames = map[uint32]string{
	0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK",
	6: "AF_NETROM", 7: "AF_BRIDGE", 8: "AF_ATMPVC", 9: "AF_X25", 10: "AF_INET6", 16: "AF_NETLINK",
	17: "AF_PACKET", 38: "AF_ALG", 40: "AF_VSOCK", 44: "AF_XDP",
}

var sockTypeNames = map[uint32]string{1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET"}

// errnoNames maps errno values to their names (evt.res).
var errnoNames = [...]string{
	1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
	9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 15: "ENOTBLK",
	16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
	23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE",
	30: "EROFS", 31: "EMLINK", 32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK", 36: "ENAMETOOLONG",
	37: "ENOLCK", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 42: "ENOMSG", 43: "EIDRM",
	61: "ENODATA", 62: "ETIME", 71: "EPROTO", 74: "EBADMSG", 75: "EOVERFLOW", 84: "EILSEQ",
	88: "ENOTSOCK", 89: "EDESTADDRREQ", 90: "EMSGSIZE", 91: "EPROTOTYPE", 92: "ENOPROTOOPT",
	93: "EPROTONOSUPPORT", 94: "ESOCKTNOSUPPORT", 95: "EOPNOTSUPP", 96: "EPFNOSUPPORT",
	97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL", 100: "ENETDOWN", 101: "ENETUNREACH",
	102: "ENETRESET", 103: "ECONNABORTED", 104: "ECONNRESET", 105: "ENOBUFS", 106: "EISCONN",
	107: "ENOTCONN", 108: "ESHUTDOWN", 109: "ETOOMANYREFS", 110: "ETIMEDOUT", 111: "ECONNREFUSED",
	112: "EHOSTDOWN", 113: "EHOSTUNREACH", 114: "EALREADY", 115: "EINPROGRESS", 116: "ESTALE",
	122: "EDQUOT", 125: "ECANCELED", 130: "EOWNERDEAD", 131: "ENOTRECOVERABLE",
	512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
	516: "ERESTART_RESTARTBLOCK",
}

// errnoName returns Falco's evt.res for a return value: SUCCESS when not
// negative, the errno's name otherwise (E<n> when unnamed).
func errnoName(res int64) string {
	if res >= 0 {
		return "SUCCESS"
	}
	e := -res
	if e < int64(len(errnoNames)) && errnoNames[e] != "" {
		return errnoNames[e]
	}
	return "E" + strconv.FormatInt(e, 10)
}

// renderCache memoises rendered flag strings so conditions such as
// `evt.arg.flags contains O_TRUNC` allocate nothing after the first event
// with a given flag combination. It is bounded: past maxCached entries,
// renderings are computed per call.
type renderCache struct {
	m sync.Map // uint64 key -> string
	n atomic.Int64
}

const maxCached = 8192

func (c *renderCache) get(key uint64, render func() string) string {
	if v, ok := c.m.Load(key); ok {
		return v.(string)
	}
	s := render()
	if c.n.Load() < maxCached {
		if _, loaded := c.m.LoadOrStore(key, s); !loaded {
			c.n.Add(1)
		}
	}
	return s
}

// Cache key namespaces (high byte) for renderCache.
const (
	kindOpen uint64 = iota + 1
	kindClone
	kindExe
	kindMount
	kindMemfd
	kindCaps
	kindChmod
	kindProt
	kindMmap
	kindUnlinkat
	kindLinkat
	kindFchownat
	kindRenameat2
	kindResolve
)

var rendered renderCache

// bitNames holds the name table of each kind rendered bit by bit.
var bitNames = map[uint64][]nameBit{
	kindClone: cloneFlagNames, kindExe: exeFlagNames, kindMount: mountFlagNames,
	kindMemfd: memfdFlagNames, kindProt: protFlagNames, kindMmap: mmapFlagNames,
	kindUnlinkat: unlinkatFlagNames, kindLinkat: linkatFlagNames, kindFchownat: fchownatFlagNames,
	kindRenameat2: renameat2FlagNames, kindResolve: resolveFlagNames, kindChmod: chmodModeNames,
}

// flagsKind is the rendering of evt.arg.flags for event types whose flags
// are a plain bit set (open and execve flags are composed separately).
var flagsKind = map[event.Type]uint64{
	event.TypeUnshare: kindClone, event.TypeMount: kindMount, event.TypeMemfdCreate: kindMemfd,
	event.TypeMmap: kindMmap, event.TypeUnlinkat: kindUnlinkat, event.TypeLinkat: kindLinkat,
	event.TypeFchownat: kindFchownat, event.TypeRenameat2: kindRenameat2,
}

func cachedFlags(kind uint64, f uint64) string {
	if kind == kindCaps {
		// capability masks use all 64 bits: key them in their own map.
		return capsCache.get(f, func() string { return renderCaps(f) })
	}
	return rendered.get(kind<<56|f, func() string {
		switch {
		case kind == kindOpen:
			return renderOpenFlags(uint32(f))
		case kind == kindProt && f == 0:
			return "PROT_NONE"
		case kind == kindChmod && f&0o7777 == 0:
			return "0" // libs resolves no name for mode 0 and prints the octal
		}
		if names, ok := bitNames[kind]; ok {
			return renderBits(names, f)
		}
		return strconv.FormatUint(f, 10)
	})
}

var capsCache renderCache
